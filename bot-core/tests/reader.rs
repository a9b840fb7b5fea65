//! The transcript as someone who missed the chat reads it, in every format: a session run
//! through the engine with a reply, an edit, a reaction, a note, a highlight, an answer to two
//! points, an early answer and a late one, an opted-out participant, and a stop before the last
//! points. HTML is parsed, Markdown rendered with pulldown-cmark, JSON validated against the
//! schema and plain text read line by line; each must tell the same facts.

mod common;
mod engine_support;

use bot_core::adapter::{Inbound, MessageEdited, Reaction};
use bot_core::ids::Platform;
use bot_core::loopback::{LoopbackAdapter, LoopbackEvent};
use bot_core::render::{html, markdown, plain};
use bot_core::transcript::{self, to_json, Transcript};
use chrono::Duration;
use engine_support::*;
use scraper::{Html, Selector};

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

/// A moderator's command under the name people see, not their id.
async fn as_moderator(world: &World, text: &str) -> String {
    let Inbound::Command(mut invocation) = LoopbackAdapter::command(ROOM, MODERATOR, text) else {
        unreachable!("a command");
    };
    invocation.display_name = "Morgan the Moderator".into();
    world
        .engine
        .handle(Inbound::Command(invocation))
        .await
        .unwrap();
    match world.loopback.history().last() {
        Some(LoopbackEvent::Reply { text, .. }) => text.clone(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

/// Intro at t0, Q1 at +2, Q2 at +12, Q3 at +22; stopped at +26, so Q4 to Q6 are not reached.
async fn the_session(store: bot_core::store::Store) -> (World, i64) {
    let dir = tempfile::tempdir().unwrap();
    let world = World::on_store(dir, store, chat(), t0(), true).await;
    let started = as_moderator(&world, "start interlibnet").await;
    assert!(started.starts_with("Started"), "{started}");
    let session = world.engine.live_session_in(&room()).unwrap();

    world.run_until(t0() + minutes(3)).await;
    let (ann, _) = world
        .say("ann", "A1 events, mostly. A3: and questions too", None)
        .await;
    world.clock.set(t0() + minutes(4));
    world
        .say("bob", "I agree with ann", Some(ann.clone()))
        .await;
    world.clock.set(t0() + minutes(5));
    world.say("carol", "A2 thinking ahead here", None).await;
    world.run_until(t0() + minutes(13)).await;
    let (dave, _) = world.say("dave", "A2 we moderate", None).await;
    world
        .engine
        .handle(Inbound::Edited(MessageEdited {
            platform: Platform::Loopback,
            platform_msg_id: dave.clone(),
            editor_id: None,
            body: "A2 we moderate kindly".into(),
            formatted_body: None,
            edited_at: t0() + minutes(14),
        }))
        .await
        .unwrap();
    world
        .engine
        .handle(Inbound::Reacted(Reaction {
            platform: Platform::Loopback,
            platform_reaction_id: "r-1".into(),
            target_msg_id: ann.clone(),
            room: ROOM.into(),
            author_id: "dave".into(),
            author_name: "dave".into(),
            platform_label: None,
            key: "👍".into(),
            at: world.clock_now(),
        }))
        .await
        .unwrap();
    world.run_until(t0() + minutes(25)).await;
    world.say("erin", "A1 late, sorry: photos too", None).await;
    world.clock.set(t0() + minutes(26));
    let stopped = as_moderator(&world, "stop").await;
    assert!(stopped.contains("stopped"), "{stopped}");
    assert!(as_moderator(&world, "note A lively start")
        .await
        .contains("Note added"));
    assert!(as_moderator(&world, &format!("highlight {ann}"))
        .await
        .contains("Highlighted"));
    assert!(world.command("bob", "optout").await.starts_with("Done"));
    (world, session)
}

/// Each message's author under each point, in order, as a format shows it.
type Sections = Vec<(String, Vec<String>)>;

fn expected_sections() -> Sections {
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        ("Q1".into(), names(&["ann", "bob", "erin"])),
        ("Q2".into(), names(&["carol", "dave"])),
        ("Q3".into(), names(&["ann"])),
        ("Q4".into(), vec![]),
        ("Q5".into(), vec![]),
        ("Q6".into(), vec![]),
    ]
}

#[tokio::test]
async fn every_format_tells_the_reader_the_same_story() {
    common::run_sqlite(|store| async move {
        let (_world, session) = the_session(store.clone()).await;
        let t = transcript::build(&store, session, None).await.unwrap();
        check_json(&t);
        check_html(&t);
        check_markdown(&t);
        check_plain(&t, session);
    })
    .await;
}

fn check_json(t: &Transcript) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/transcript.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&to_json(t)).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["session"]["host"]["name"], "Morgan the Moderator");
    assert_eq!(doc["notes"][0]["by_name"], "Morgan the Moderator");
    let ann = &doc["messages"][0];
    assert_eq!(
        (ann["point"].as_u64(), &ann["also_answers"]),
        (Some(1), &serde_json::json!([3]))
    );
    let unreached: Vec<u64> = doc["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["posted_at"].is_null())
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(unreached, [4, 5, 6]);
    let mut sections = Sections::new();
    for (n, _) in (1..=6).zip(0..) {
        let authors = t
            .shown_under(Some(n))
            .map(|m| m.author.name.clone())
            .collect();
        sections.push((format!("Q{n}"), authors));
    }
    assert_eq!(sections, expected_sections());
}

fn check_html(t: &Transcript) {
    let mut page = Vec::new();
    html::render(t, &html::HtmlOptions::new(t0() + minutes(90)), &mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    let doc = Html::parse_document(&page);
    let sel = |s: &str| Selector::parse(s).unwrap();
    let mut sections = Sections::new();
    for section in doc.select(&sel("section")) {
        let heading: String = section
            .select(&sel("h2 .qn"))
            .next()
            .map(|h| h.text().collect())
            .unwrap_or_default();
        if heading.is_empty() {
            continue;
        }
        let authors = section
            .select(&sel(".group"))
            .flat_map(|g| {
                let name: String = g.select(&sel(".name")).next().unwrap().text().collect();
                g.select(&sel("article.msg"))
                    .map(move |_| name.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        sections.push((heading, authors));
        let posted: String = section
            .select(&sel(".posted"))
            .next()
            .unwrap()
            .text()
            .collect();
        let number: u32 = sections.last().unwrap().0[1..].parse().unwrap();
        assert_eq!(posted.starts_with("Not reached"), number >= 4, "{posted}");
    }
    assert_eq!(sections, expected_sections(), "{page}");
    let text: String = doc.root_element().text().collect();
    assert!(text.contains("Hosted by Morgan the Moderator"), "{text}");
    assert!(
        text.contains("— Morgan the Moderator"),
        "the note is credited: {text}"
    );
    assert!(text.contains("also answers Q3"), "{text}");
    assert!(text.contains("answers Q3 too (filed under Q1)"), "{text}");
    assert!(text.contains("answered before Q2 was posted"), "{text}");
    // Carol's A2, and ann's A3 written with her A1, came before their points.
    assert!(text.contains("answered before Q3 was posted"), "{text}");
    assert_eq!(text.matches("answered before").count(), 2, "{text}");
    assert!(text.contains("(26 min)"), "{text}");
    assert_eq!(
        doc.select(&sel(".badge")).count(),
        0,
        "one platform: no badges"
    );
    // The copy under Q3 links back to where the message is filed, and ids stay unique.
    let ids: Vec<&str> = doc
        .select(&sel("[id]"))
        .map(|e| e.value().attr("id").unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    // The reply quotes its parent once, withheld words stay withheld.
    assert!(!text.contains("I agree with ann"), "bob opted out");
    assert_eq!(
        doc.select(&sel(".hl")).count(),
        2,
        "ann's message under Q1 and Q3"
    );
}

fn check_markdown(t: &Transcript) {
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
    let mut md = String::new();
    markdown::render(t, &mut md).unwrap();
    let mut sections = Sections::new();
    let mut in_heading = false;
    let mut item_start = false;
    let mut name_next = false;
    let mut heading = String::new();
    let mut quotes = 0;
    for e in Parser::new(&md) {
        match e {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H2,
                ..
            }) => {
                in_heading = true;
                heading.clear();
            }
            Event::End(TagEnd::Heading(HeadingLevel::H2)) => {
                in_heading = false;
                if let Some(q) = heading
                    .split_whitespace()
                    .next()
                    .filter(|w| w.starts_with('Q'))
                {
                    sections.push((q.to_owned(), Vec::new()));
                }
            }
            Event::Text(text) if in_heading => heading.push_str(&text),
            Event::Start(Tag::Item) => item_start = true,
            Event::Start(Tag::BlockQuote(_)) => quotes += 1,
            // The name is the item's first bold text (after a highlight's star).
            Event::Start(Tag::Strong) if item_start => name_next = true,
            Event::Text(name) if name_next => {
                name_next = false;
                item_start = false;
                if let Some((_, authors)) = sections.last_mut() {
                    authors.push(name.trim().to_owned());
                }
            }
            _ => {}
        }
    }
    assert_eq!(sections, expected_sections(), "{md}");
    assert_eq!(
        quotes, 2,
        "bob's reply quotes ann once; the note is a quote:\n{md}"
    );
    for fact in [
        "**Host:** Morgan the Moderator",
        "(26 min)",
        "**Curator's note** (Morgan the Moderator)",
        "*also answers Q3*",
        "*answers Q3 too (filed under Q1)*",
        "*answered before Q2 was posted*",
        "## Q4 Point 4?\n\n*Not reached",
    ] {
        assert!(md.contains(fact), "{fact} in\n{md}");
    }
    assert!(!md.contains("I agree with ann"), "{md}");
    assert!(!md.contains("**Platforms:**"), "one platform: {md}");
}

fn check_plain(t: &Transcript, session: i64) {
    let text = plain::render_session(t, session);
    let mut sections = Sections::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('Q') {
            let number = rest.split(':').next().unwrap();
            sections.push((format!("Q{number}"), Vec::new()));
        } else if let (Some(rest), Some((_, authors))) =
            (line.strip_prefix("  ["), sections.last_mut())
        {
            let after_time = rest.split_once("] ").unwrap().1;
            let name = after_time.trim_start_matches("★ ");
            let name = name.split([':', ',', ' ']).next().unwrap();
            authors.push(name.to_owned());
        }
    }
    assert_eq!(sections, expected_sections(), "{text}");
    for fact in [
        "Hosted by Morgan the Moderator",
        "(26 min)",
        "Note from Morgan the Moderator: A lively start",
        "[also answers Q3]",
        "[answers Q3 too (filed under Q1)]",
        "[answered before Q2 was posted]",
        "Q4: Point 4? (not reached)",
        "Reactions: 👍 1",
    ] {
        assert!(text.contains(fact), "{fact} in\n{text}");
    }
    assert!(!text.contains("I agree with ann"), "{text}");
}
