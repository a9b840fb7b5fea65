//! Transcripts: a session run through the real engine, built, exported to JSON, imported into
//! a second store and exported again gives the same bytes, on SQLite and on PostgreSQL. The
//! document validates against `docs/transcript.schema.json`.

mod common;
mod engine_support;

use bot_core::adapter::{Inbound, MessageDeleted, MessageEdited, Reaction};
use bot_core::ids::Platform;
use bot_core::model::{Attachment, PostKind};
use bot_core::store::{Store, StoreError};
use bot_core::transcript::{self, from_json, to_json, Transcript};
use chrono::Duration;
use engine_support::*;

/// Text no renderer or importer may trip on: bidi override, emoji with joiners, markup, and
/// 10 kB of it.
fn awkward_text() -> String {
    let mut text = String::from(
        "A2 \u{202E}txet desrever\u{202C} 👩‍👩‍👧 <script>alert(1)</script> \"quotes\" \\ \n\t line two",
    );
    while text.len() < 10_000 {
        text.push_str(" ünïcödé ✓ 漢字");
    }
    text
}

/// Runs a whole session through the engine on `store` and returns its id: answers, a reply to
/// a participant and one to the bot's Q2, an edit, a deletion, an attachment, awkward text.
async fn realistic_session(store: Store) -> (World, i64) {
    let dir = tempfile::tempdir().unwrap();
    let world = World::on_store(dir, store, chat(), t0(), true).await;
    let reply = world.command(MODERATOR, "start interlibnet").await;
    assert!(reply.starts_with("Started"), "{reply}");
    let session = world.engine.live_session_in(&room()).unwrap();

    world.run_until(t0() + minutes(3)).await;
    let (ann, _) = world.say("ann", "A1 frist answer", None).await;
    world.clock.set(t0() + minutes(4));
    world
        .say("bob", "Agreed with ann!", Some(ann.clone()))
        .await;
    event(
        &world.engine,
        Inbound::Edited(MessageEdited {
            platform: Platform::Loopback,
            platform_msg_id: ann.clone(),
            editor_id: None,
            body: "A1 first answer".into(),
            formatted_body: Some("A1 <b>first</b> answer".into()),
            edited_at: t0() + minutes(5),
        }),
    )
    .await;
    let (oops, _) = world.say("carol", "wrong room, sorry", None).await;
    event(
        &world.engine,
        Inbound::Deleted(MessageDeleted {
            platform: Platform::Loopback,
            platform_msg_id: oops,
            deleted_at: t0() + minutes(5),
        }),
    )
    .await;

    world.run_until(t0() + minutes(13)).await;
    let q2 = world.post_id(PostKind::Point { number: 2 });
    world.say("dave", &awkward_text(), Some(q2)).await;
    let mut photo = world.loopback.message(
        ROOM,
        "erin",
        "Erin O'Brien",
        "A2 our display",
        world.clock_now(),
        None,
    );
    photo.avatar_url = Some("https://example.org/erin.png".into());
    photo.attachments = vec![Attachment {
        url: "https://cdn.example.org/display.jpg".into(),
        name: "display.jpg".into(),
        content_type: Some("image/jpeg".into()),
        size_bytes: Some(123_456),
    }];
    world.engine.archive_message(photo).await.unwrap();
    for (who, key) in [("ann", "👍"), ("dave", "👍"), ("fred", "<b>🎉</b>")] {
        event(
            &world.engine,
            Inbound::Reacted(Reaction {
                platform: Platform::Loopback,
                platform_reaction_id: format!("reaction-{who}"),
                target_msg_id: ann.clone(),
                room: ROOM.into(),
                author_id: who.into(),
                author_name: who.into(),
                platform_label: None,
                key: key.into(),
                at: world.clock_now(),
            }),
        )
        .await;
    }
    // Same millisecond as erin's: ordered by platform id.
    let (fred, _) = world.say("fred", "A2 me too", None).await;

    world.run_until(t0() + Duration::hours(2)).await;
    // Curation after the session: a note, a highlight, a hidden message, and an opt-out.
    assert!(world
        .command(MODERATOR, "note A lively first half")
        .await
        .contains("Note added"));
    assert!(world
        .command(MODERATOR, &format!("highlight {ann}"))
        .await
        .contains("Highlighted"));
    assert!(world
        .command(MODERATOR, &format!("hide {fred}"))
        .await
        .contains("left out"));
    assert!(world.command("bob", "optout").await.starts_with("Done"));
    (world, session)
}

fn assert_realistic(t: &Transcript) {
    assert_eq!(t.session.state, "ended");
    assert_eq!(t.points.len(), 6);
    assert!(t.points.iter().all(|p| p.posted_at.is_some()));
    assert_eq!(t.intro.as_deref(), Some("Welcome!"));
    assert_eq!(t.wrap_up.as_deref(), Some("Thanks, everyone"));
    assert_eq!(t.posts.len(), 8, "intro, six points, wrap-up");
    let bodies: Vec<&str> = t.messages.iter().map(|m| m.body.as_str()).collect();
    assert!(
        !bodies.contains(&"wrong room, sorry"),
        "deleted messages are left out"
    );
    assert_eq!(t.messages.len(), 5);
    let ann = &t.messages[0];
    assert_eq!(ann.body, "A1 first answer");
    assert_eq!(ann.edits.len(), 1);
    assert_eq!(ann.edits[0].body, "A1 frist answer", "the earlier text");
    assert_eq!(ann.edits[0].replaced_at, t0() + minutes(5));
    assert_eq!(ann.edited_at, Some(t0() + minutes(5)));
    let reactions: Vec<(&str, u32)> = ann
        .reactions
        .iter()
        .map(|r| (r.key.as_str(), r.count))
        .collect();
    assert_eq!(
        reactions,
        [("<b>🎉</b>", 1), ("👍", 2)],
        "counted per key, in key order"
    );
    assert_eq!(
        t.messages[1].reply_to.as_deref(),
        Some(ann.platform_message_id.as_str())
    );
    let dave = t.messages.iter().find(|m| m.author.id == "dave").unwrap();
    assert_eq!(dave.body, awkward_text());
    assert_eq!(dave.point, Some(2), "a reply to Q2 answers Q2");
    let erin = t.messages.iter().find(|m| m.author.id == "erin").unwrap();
    assert_eq!(erin.attachments.len(), 1);
    let bob = &t.messages[1];
    assert!(bob.withheld);
    assert_eq!(bob.body, bot_core::transcript::WITHHELD);
    let fred = t.messages.iter().find(|m| m.author.id == "fred").unwrap();
    assert!(fred.hidden && !fred.withheld);
    assert_eq!(t.notes.len(), 1);
    assert_eq!(t.notes[0].text, "A lively first half");
    assert_eq!(t.notes[0].by, "loopback:mod");
    assert_eq!(t.highlights.len(), 1);
    assert_eq!(t.highlights[0].message, ann.key());
}

async fn export_import_export_is_byte_identical(first: Store, second: Store) {
    let (world, session) = realistic_session(first.clone()).await;
    let built = transcript::build(&first, session, None).await.unwrap();
    assert_realistic(&built);
    let exported = to_json(&built);
    assert!(exported.starts_with("{\n  \"schema_version\": 2,\n"));
    assert!(exported.ends_with("}\n"));
    assert_eq!(
        from_json(&exported).unwrap(),
        built,
        "JSON reads back as written"
    );

    let imported = second.import_transcript(&built).await.unwrap();
    let again = transcript::build(&second, imported, None).await.unwrap();
    let reexported = to_json(&again);
    assert_eq!(
        reexported, exported,
        "export → import → export changed the document"
    );
    let session_row = second.get_session(imported).await.unwrap().unwrap();
    assert_eq!(session_row.uid, built.session.uid);
    assert_eq!(
        session_row.next_due_at, None,
        "the scheduler never touches an import"
    );
    assert!(second.pending_posts().await.unwrap().is_empty());

    // The same uid again, here or back where it came from: refused, nothing written.
    match second.import_transcript(&built).await {
        Err(StoreError::AlreadyImported { session, .. }) => assert_eq!(session, imported),
        other => panic!("expected AlreadyImported, got {other:?}"),
    }
    match first.import_transcript(&built).await {
        Err(StoreError::AlreadyImported { session: s, .. }) => assert_eq!(s, session),
        other => panic!("expected AlreadyImported, got {other:?}"),
    }
    // A new uid but messages already archived here: refused as a whole.
    let mut copy = built.clone();
    copy.session.uid = "0123456789abcdef0123456789abcdef".into();
    let before = second.list_sessions().await.unwrap().len();
    assert!(matches!(
        second.import_transcript(&copy).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(second.list_sessions().await.unwrap().len(), before);
    drop(world);
}

async fn sqlite_pair() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/second.db", dir.path().display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn sqlite_export_import_export_is_byte_identical() {
    common::run_sqlite(|first| async move {
        let (_dir, second) = sqlite_pair().await;
        export_import_export_is_byte_identical(first, second).await;
    })
    .await;
}

#[tokio::test]
async fn postgres_export_import_export_is_byte_identical() {
    common::run_postgres(|first| async move {
        common::run_postgres(move |second| export_import_export_is_byte_identical(first, second))
            .await;
    })
    .await;
}

#[tokio::test]
async fn across_backends_the_document_is_the_same() {
    common::run_postgres(|pg| async move {
        let (_dir, sqlite) = sqlite_pair().await;
        let (_world, session) = realistic_session(sqlite.clone()).await;
        let exported = to_json(&transcript::build(&sqlite, session, None).await.unwrap());
        let id = pg
            .import_transcript(&from_json(&exported).unwrap())
            .await
            .unwrap();
        let again = to_json(&transcript::build(&pg, id, None).await.unwrap());
        assert_eq!(again, exported);
    })
    .await;
}

#[tokio::test]
async fn the_export_validates_against_the_published_schema() {
    common::run_sqlite(|store| async move {
        let (_world, session) = realistic_session(store.clone()).await;
        let exported = to_json(&transcript::build(&store, session, None).await.unwrap());
        let schema_text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/transcript.schema.json"
        ))
        .unwrap();
        let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        let validator = jsonschema::draft202012::new(&schema).expect("the schema is valid");
        let doc: serde_json::Value = serde_json::from_str(&exported).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");

        // The schema is as strict as the reader: an unknown field, a missing one, a bad time.
        let mut extra = doc.clone();
        extra["messages"][0]["colour"] = "red".into();
        assert!(!validator.is_valid(&extra));
        let mut missing = doc.clone();
        missing["chat"].as_object_mut().unwrap().remove("title");
        assert!(!validator.is_valid(&missing));
        let mut bad_time = doc.clone();
        bad_time["session"]["scheduled_start"] = "yesterday".into();
        assert!(!validator.is_valid(&bad_time));
        assert!(from_json(&bad_time.to_string()).is_err());
    })
    .await;
}

#[tokio::test]
async fn a_session_without_a_snapshot_uses_the_configured_chat_or_says_why_not() {
    common::run_sqlite(|store| async move {
        let (world, session) = realistic_session(store.clone()).await;
        sqlx::query("DELETE FROM session_snapshots")
            .execute(store.raw_pool())
            .await
            .unwrap();
        let err = transcript::build(&store, session, None).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("`interlibnet` is not among the configured chats"),
            "{err}"
        );
        let mut renamed = world.chat.clone();
        renamed.title = "Renamed".into();
        let t = transcript::build(&store, session, Some(&renamed))
            .await
            .unwrap();
        assert_eq!(t.chat.title, "Renamed");
        assert!(transcript::build(&store, 9999, None)
            .await
            .unwrap_err()
            .to_string()
            .contains("no session 9999"));
    })
    .await;
}

#[tokio::test]
async fn the_snapshot_keeps_history_when_the_chat_file_changes() {
    common::run_sqlite(|store| async move {
        let (world, session) = realistic_session(store.clone()).await;
        let mut edited = world.chat.clone();
        edited.title = "Edited later".into();
        edited.points.truncate(2);
        let t = transcript::build(&store, session, Some(&edited))
            .await
            .unwrap();
        assert_eq!(t.chat.title, "Libraries and social media");
        assert_eq!(t.points.len(), 6);
    })
    .await;
}

#[tokio::test]
async fn the_markdown_story_reads_in_order_and_obeys_nothing() {
    common::run_sqlite(|store| async move {
        let (_world, session) = realistic_session(store.clone()).await;
        let t = transcript::build(&store, session, None).await.unwrap();
        let mut md = String::new();
        bot_core::render::markdown::render(&t, &mut md).unwrap();
        assert!(
            md.starts_with("# Libraries and social media (#interlibnet)\n"),
            "{md}"
        );
        assert!(md.contains("Europe/London"));
        assert!(
            md.contains("**Participants:** 4 · **Messages:** 4\n"),
            "hidden fred is not counted:\n{md}"
        );
        let q: Vec<usize> = (1..=6)
            .map(|n| {
                md.find(&format!("\n## Q{n} Point {n}?\n"))
                    .expect("Q header")
            })
            .collect();
        assert!(q.windows(2).all(|w| w[0] < w[1]));
        assert!(md.contains("## Introduction\n\nWelcome!"), "{md}");
        assert!(md.contains("## Wrap-up\n\nThanks, everyone"));
        // One platform: no need to say where each message was written.
        assert!(md.contains("**ann** · 19:03 · (edited)"), "{md}");
        assert!(md.contains("A1 **first** answer"), "formatting kept:\n{md}");
        assert!(
            md.contains(" · replying to **ann**\n\n  > A1 first answer\n"),
            "{md}"
        );
        assert!(md.contains(" · replying to Q2\n"), "{md}");
        assert!(md.contains("📎 [display.jpg](<https://cdn.example.org/display.jpg>)"));
        assert!(md.contains("**Erin O'Brien**"));
        let mut html = String::new();
        pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new(&md));
        assert!(!html.contains("<script"), "{html}");
        assert!(md.contains("\\<script>alert(1)\\</script>"), "{md}");
        assert!(!md.contains('\u{202E}'));
        assert!(md.contains("4 messages from 4 participants on 6 points"));
        assert!(!md.contains("A2 me too"), "hidden messages are left out");
        assert!(md.contains("withheld at the author"), "bob opted out");
        assert!(
            !md.contains("Agreed with ann"),
            "an opted-out author's words are withheld"
        );
        assert!(
            md.contains("A lively first half"),
            "the curator's note is shown"
        );
        assert!(md.contains("highlighted"), "the highlight is marked");
    })
    .await;
}

#[tokio::test]
async fn the_plain_text_transcript_honours_curation_too() {
    common::run_sqlite(|store| async move {
        let (_world, session) = realistic_session(store.clone()).await;
        let t = transcript::build(&store, session, None).await.unwrap();
        let text = bot_core::render::plain::render_session(&t, session);
        assert!(
            !text.contains("A2 me too"),
            "hidden messages are left out:\n{text}"
        );
        assert!(
            !text.contains("Agreed with ann"),
            "opted-out words are withheld:\n{text}"
        );
        assert!(text.contains(bot_core::transcript::WITHHELD));
        assert!(
            text.contains("Note from mod: A lively first half"),
            "{text}"
        );
        assert!(text.contains("A1 first answer (edited)"), "{text}");
    })
    .await;
}
