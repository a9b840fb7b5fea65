//! The HTML transcript, read back with an HTML parser (html5ever, through `scraper`).

#[path = "fixtures/hostile.rs"]
mod hostile;

use std::collections::HashSet;

use base64::Engine as _;
use bot_core::render::html::{
    self, HtmlOptions, CONTENT_SECURITY_POLICY, SCRIPT, SCRIPT_CSP_HASH, STYLE, STYLE_CSP_HASH,
};
use bot_core::transcript::{
    AttachmentRecord, Author, ChatRecord, EditRecord, Highlight, MessageRecord, NoteRecord,
    PointRecord, PostRecord, ReactionRecord, SessionRecord, Transcript, SCHEMA_VERSION, WITHHELD,
};
use chrono::{DateTime, TimeZone, Utc};
use scraper::{ElementRef, Html, Selector};
use sha2::{Digest, Sha256};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

fn msg(
    platform: &str,
    id: &str,
    author: (&str, &str),
    body: &str,
    sent_at: DateTime<Utc>,
    point: Option<u32>,
) -> MessageRecord {
    MessageRecord {
        platform: platform.into(),
        room: if platform == "matrix" {
            "!room:example.org".into()
        } else {
            "900".into()
        },
        platform_message_id: id.into(),
        author: Author {
            id: author.0.into(),
            name: author.1.into(),
            avatar_url: Some("https://cdn.example/avatar.png".into()),
        },
        // As the adapters record them: Matrix links each message, Discord (here) does not.
        platform_label: Some(
            match platform {
                "matrix" => "Matrix",
                "discord" => "Discord",
                other => other,
            }
            .into(),
        ),
        permalink: (platform == "matrix").then(|| {
            format!(
                "https://matrix.to/#/!room%3Aexample.org/{}",
                id.replace('$', "%24").replace(':', "%3A")
            )
        }),
        body: body.into(),
        formatted_body: None,
        sent_at,
        point,
        also_answers: Vec::new(),
        reply_to: None,
        edits: vec![],
        edited_at: None,
        attachments: vec![],
        reactions: vec![],
        withheld: false,
        hidden: false,
    }
}

fn post(
    kind: &str,
    point: Option<u32>,
    room: &str,
    id: &str,
    posted_at: DateTime<Utc>,
) -> PostRecord {
    PostRecord {
        kind: kind.into(),
        point,
        room: room.into(),
        platform_message_id: id.into(),
        posted_at,
    }
}

const ADA: (&str, &str) = ("100", "Ada Lovelace");
const BOB: (&str, &str) = ("@bob:example.org", "Bob");
const CY: (&str, &str) = ("@cy:example.org", "Cy Young");
const DEE: (&str, &str) = ("200", "Dee");

/// Two points, a reply to a message and to a point post, an edit, a withheld message, a hidden
/// one, notes, a highlight, an image attachment, Matrix and Discord messages.
fn fixture() -> Transcript {
    let mut m1 = msg(
        "matrix",
        "$m1:example.org",
        BOB,
        "A1: weekly\nsecond line",
        at(19, 14),
        Some(1),
    );
    m1.edits = vec![EditRecord {
        body: "A1: wekly".into(),
        formatted_body: None,
        replaced_at: at(19, 16),
    }];
    m1.edited_at = Some(at(19, 16));
    m1.attachments = vec![AttachmentRecord {
        url: "https://media.example/pic.png".into(),
        name: "pic.png".into(),
        content_type: Some("image/png".into()),
        size_bytes: Some(20_480),
    }];
    m1.formatted_body = Some("<b>A1</b>: weekly<br>second line".into());
    let mut d4 = msg(
        "discord",
        "d4",
        ADA,
        "Replying to myself",
        at(19, 15),
        Some(1),
    );
    d4.reply_to = Some("d2".into());
    let mut hidden = msg(
        "matrix",
        "$m2",
        BOB,
        "this was hidden by a moderator",
        at(19, 16),
        Some(1),
    );
    hidden.hidden = true;
    let d5 = msg(
        "discord",
        "d5",
        ADA,
        "A1: late addition",
        at(19, 23),
        Some(1),
    );
    let mut m3 = msg(
        "matrix",
        "$m3",
        CY,
        "Replying to the question",
        at(19, 26),
        Some(2),
    );
    m3.reply_to = Some("$postq2".into());
    let mut d6 = msg("discord", "d6", DEE, WITHHELD, at(19, 27), Some(2));
    d6.withheld = true;
    d6.attachments = vec![AttachmentRecord {
        url: "https://media.example/secret.png".into(),
        name: "secret.png".into(),
        content_type: Some("image/png".into()),
        size_bytes: None,
    }];
    let mut m4 = msg(
        "matrix",
        "$m4",
        BOB,
        "As I said earlier",
        at(19, 28),
        Some(2),
    );
    m4.reply_to = Some("$m1:example.org".into());
    Transcript {
        schema_version: SCHEMA_VERSION,
        chat: ChatRecord {
            slug: "interlibnet".into(),
            title: "Libraries and social media".into(),
            hashtag: "#interlibnet".into(),
            description: "A monthly chat about libraries online.".into(),
            time_zone: "Europe/London".into(),
        },
        session: SessionRecord {
            uid: "s-1".into(),
            state: "ended".into(),
            scheduled_start: at(19, 0),
            started_at: Some(at(19, 0)),
            ended_at: Some(at(19, 40)),
            rooms: vec!["discord:900".into(), "matrix:!room:example.org".into()],
            link: None,
            host: None,
        },
        intro: Some("Welcome to #interlibnet!".into()),
        points: vec![
            PointRecord {
                number: 1,
                text: "How often do you post?".into(),
                posted_at: Some(at(19, 5)),
            },
            PointRecord {
                number: 2,
                text: "What works best?".into(),
                posted_at: Some(at(19, 25)),
            },
        ],
        wrap_up: Some("Thanks, everyone!".into()),
        posts: vec![
            post(
                "intro",
                None,
                "matrix:!room:example.org",
                "$postintro",
                at(19, 0),
            ),
            post(
                "point",
                Some(1),
                "matrix:!room:example.org",
                "$postq1",
                at(19, 5),
            ),
            post(
                "point",
                Some(2),
                "matrix:!room:example.org",
                "$postq2",
                at(19, 25),
            ),
            post("point", Some(2), "discord:900", "p2", at(19, 25)),
        ],
        messages: vec![
            msg("discord", "d1", ADA, "Hello everyone!", at(19, 3), None),
            msg(
                "discord",
                "d2",
                ADA,
                "A1: we post daily",
                at(19, 6),
                Some(1),
            ),
            // Exactly 7 minutes later: same group.
            msg(
                "discord",
                "d3",
                ADA,
                "A1: weekends too",
                at(19, 13),
                Some(1),
            ),
            m1,
            d4,
            hidden,
            // 8 minutes after d4 (the hidden message between doesn't count): a new group.
            d5,
            m3,
            d6,
            m4,
        ],
        notes: vec![
            NoteRecord {
                text: "Most people post daily.".into(),
                point: Some(1),
                after_message: None,
                by: "matrix:@curator:example.org".into(),
                by_name: None,
                at: at(20, 0),
            },
            NoteRecord {
                text: "Good point, Bob.".into(),
                point: Some(2),
                after_message: Some("matrix:$m4".into()),
                by: "matrix:@curator:example.org".into(),
                by_name: None,
                at: at(20, 1),
            },
        ],
        highlights: vec![Highlight {
            message: "discord:d5".into(),
            by: "discord:300".into(),
            at: at(20, 2),
        }],
    }
}

fn render(t: &Transcript) -> String {
    let mut out = Vec::new();
    html::render(t, &HtmlOptions::new(at(21, 0)), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn text_of(e: ElementRef<'_>) -> String {
    e.text().collect()
}

fn by_id<'a>(doc: &'a Html, id: &str) -> ElementRef<'a> {
    doc.select(&sel("[id]"))
        .find(|e| e.value().id() == Some(id))
        .unwrap_or_else(|| panic!("no element #{id}"))
}

fn group_of(e: ElementRef<'_>) -> ElementRef<'_> {
    e.ancestors()
        .filter_map(ElementRef::wrap)
        .find(|a| a.value().classes().any(|c| c == "group"))
        .expect("message in a group")
}

#[test]
fn structure() {
    let page = render(&fixture());
    let doc = Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "parse errors: {:?}", doc.errors);

    // Document shape.
    assert_eq!(
        doc.select(&sel("html"))
            .next()
            .unwrap()
            .value()
            .attr("lang"),
        Some("en")
    );
    for tag in ["header", "main", "footer", "h1"] {
        assert_eq!(doc.select(&sel(tag)).count(), 1, "{tag}");
    }
    let sections: Vec<&str> = doc
        .select(&sel("main > section"))
        .map(|s| s.value().id().unwrap())
        .collect();
    assert_eq!(sections, ["intro", "q1", "q2", "wrap-up"]);

    // Header.
    let header = text_of(doc.select(&sel("header.top")).next().unwrap());
    for piece in [
        "Libraries and social media",
        "#interlibnet",
        "Tue 1 Dec 2026, 19:00 GMT",
        "A monthly chat about libraries online.",
        "4 participants",
        "9 messages",
        "on Discord and Matrix",
    ] {
        assert!(header.contains(piece), "header lacks {piece:?}: {header}");
    }
    assert!(page.contains(
        "<time class=\"full\" datetime=\"2026-12-01T19:00:00Z\">Tue 1 Dec 2026, 19:00 GMT</time>"
    ));

    // Anchors: unique, and each message has one.
    let mut ids = HashSet::new();
    for e in doc.select(&sel("[id]")) {
        assert!(
            ids.insert(e.value().id().unwrap()),
            "duplicate id {:?}",
            e.value().id()
        );
    }
    let articles: Vec<ElementRef> = doc.select(&sel("article.msg")).collect();
    assert_eq!(articles.len(), 9);
    let m1_anchor = html::message_anchor("matrix", "$m1:example.org");
    for id in [
        "m-discord-d1",
        "m-discord-d2",
        "m-discord-d5",
        m1_anchor.as_str(),
    ] {
        assert!(ids.contains(id), "{id}");
    }

    // Sections hold their own messages.
    let in_section = |s: &str| -> Vec<String> {
        by_id(&doc, s)
            .select(&sel("article.msg"))
            .map(|a| a.value().id().unwrap().to_owned())
            .collect()
    };
    assert_eq!(in_section("intro"), ["m-discord-d1"]);
    assert_eq!(in_section("q1").len(), 5);
    assert_eq!(in_section("q2").len(), 3);

    // Grouping: d2 and d3 (7 minutes apart) share a group; d4 and d5 (8 minutes) don't.
    let d2 = by_id(&doc, "m-discord-d2");
    let d3 = by_id(&doc, "m-discord-d3");
    let d4 = by_id(&doc, "m-discord-d4");
    let d5 = by_id(&doc, "m-discord-d5");
    assert_eq!(group_of(d2).id(), group_of(d3).id());
    assert_ne!(group_of(d4).id(), group_of(d5).id());
    assert_eq!(by_id(&doc, "q1").select(&sel(".group")).count(), 4);
    let names: Vec<String> = by_id(&doc, "q1")
        .select(&sel(".group .name"))
        .map(text_of)
        .collect();
    assert_eq!(
        names,
        ["Ada Lovelace", "Bob", "Ada Lovelace", "Ada Lovelace"]
    );
    let initials = text_of(group_of(d2).select(&sel(".avatar")).next().unwrap());
    assert_eq!(initials, "AL");

    // Times in the chat's zone, with the zone.
    assert!(page.contains("<a class=\"stamp\" href=\"#m-discord-d2\"><time datetime=\"2026-12-01T19:06:00Z\">19:06 GMT</time></a>"));

    // Replies: to a message (its anchor, with an excerpt), to a point post, across sections.
    let reply = d4.select(&sel("blockquote.reply a")).next().unwrap();
    assert_eq!(reply.value().attr("href"), Some("#m-discord-d2"));
    assert!(text_of(reply).contains("A1: we post daily"));
    let q2 = by_id(&doc, "q2");
    let reply_to_point = q2
        .select(&sel("blockquote.reply a"))
        .find(|a| text_of(*a).contains("replying to Q2"))
        .expect("reply to the Q2 post");
    assert_eq!(reply_to_point.value().attr("href"), Some("#q2"));
    let reply_to_m1 = q2
        .select(&sel("blockquote.reply a"))
        .find(|a| text_of(*a).contains("A1: weekly second line"))
        .expect("reply to m1");
    assert_eq!(
        reply_to_m1.value().attr("href"),
        Some(format!("#{m1_anchor}").as_str())
    );

    // Edited, with the time of the edit; shown with its formatting.
    let m1 = by_id(&doc, &m1_anchor);
    let edited = text_of(m1.select(&sel(".edited")).next().unwrap());
    assert_eq!(edited, "(edited 19:16 GMT)");
    let body = m1.select(&sel("div.body.rich[dir=auto]")).next().unwrap();
    assert_eq!(
        body.inner_html(),
        "<strong>A1</strong>: weekly<br>second line"
    );
    // A plain body keeps its line breaks as text.
    assert_eq!(
        text_of(
            by_id(&doc, "m-discord-d2")
                .select(&sel("p.body"))
                .next()
                .unwrap()
        ),
        "A1: we post daily"
    );
    assert!(by_id(&doc, "m-discord-d2")
        .select(&sel(".edited"))
        .next()
        .is_none());

    // Permalinks as the adapters recorded them: matrix.to for Matrix, none for this Discord one.
    let perma = m1.select(&sel("a.perma")).next().unwrap();
    assert_eq!(
        perma.value().attr("href"),
        Some("https://matrix.to/#/!room%3Aexample.org/%24m1%3Aexample.org")
    );
    assert!(d2.select(&sel("a.perma")).next().is_none());
    let self_link = d2.select(&sel("a.stamp")).next().unwrap();
    assert_eq!(self_link.value().attr("href"), Some("#m-discord-d2"));

    // The image attachment is a link (no media store yet), never an <img>.
    let att = m1.select(&sel(".attachments a")).next().unwrap();
    assert_eq!(
        att.value().attr("href"),
        Some("https://media.example/pic.png")
    );
    assert!(text_of(m1.select(&sel(".attachments li")).next().unwrap()).contains("(image, 20 kB)"));
    assert_eq!(doc.select(&sel("img")).count(), 0);
    assert!(!page.contains("cdn.example"), "avatar URLs are never used");

    // Hidden: absent. Withheld: the notice, no attachments.
    assert!(!page.contains("hidden by a moderator"));
    let d6 = by_id(&doc, "m-discord-d6");
    assert_eq!(text_of(d6.select(&sel(".body")).next().unwrap()), WITHHELD);
    assert!(d6.value().classes().any(|c| c == "withheld"));
    assert!(d6.select(&sel(".attachments")).next().is_none());
    assert!(!page.contains("secret.png"));

    // Notes: at the end of Q1; right after m4 in Q2.
    let q1 = by_id(&doc, "q1");
    let last = q1.children().filter_map(ElementRef::wrap).last().unwrap();
    assert_eq!(last.value().name(), "aside");
    assert!(text_of(last).contains("Most people post daily."));
    let m4 = q2
        .select(&sel("article.msg"))
        .find(|a| text_of(*a).contains("As I said earlier"))
        .unwrap();
    let after_group = group_of(m4)
        .next_siblings()
        .filter_map(ElementRef::wrap)
        .next()
        .unwrap();
    assert_eq!(after_group.value().name(), "aside");
    assert!(text_of(after_group).contains("Good point, Bob."));

    // Highlight.
    assert!(d5.value().classes().any(|c| c == "hl"));
    assert!(text_of(d5).contains("Highlighted"));
    assert!(!d4.value().classes().any(|c| c == "hl"));

    // Footer.
    let footer = text_of(doc.select(&sel("footer")).next().unwrap());
    assert!(
        footer.contains("Generated Tue 1 Dec 2026, 21:00 GMT"),
        "{footer}"
    );
    assert!(
        footer.contains("9 messages from 4 participants, 2 discussion points"),
        "{footer}"
    );
}

#[test]
fn unknown_time_zone_falls_back_to_utc() {
    let mut t = fixture();
    t.chat.time_zone = "Mars/Olympus_Mons".into();
    let page = render(&t);
    assert!(page.contains("data-tz=\"UTC\""));
    assert!(page.contains("<time datetime=\"2026-12-01T19:06:00Z\">19:06 UTC</time>"));
}

#[test]
fn times_follow_the_chat_zone() {
    let mut t = fixture();
    t.chat.time_zone = "America/New_York".into();
    let page = render(&t);
    assert!(page.contains("data-tz=\"America/New_York\""));
    assert!(page.contains("<time datetime=\"2026-12-01T19:06:00Z\">14:06 EST</time>"));
}

#[test]
fn empty_transcript_renders() {
    let mut t = fixture();
    t.messages.clear();
    t.notes.clear();
    t.highlights.clear();
    t.intro = None;
    t.wrap_up = None;
    t.points[1].posted_at = None;
    let page = render(&t);
    let doc = Html::parse_document(&page);
    let sections: Vec<&str> = doc
        .select(&sel("main > section"))
        .map(|s| s.value().id().unwrap())
        .collect();
    assert_eq!(sections, ["q1", "q2"]);
    assert!(page.contains("No answers."));
    assert!(page.contains("Not reached"));
    assert!(text_of(doc.select(&sel("header")).next().unwrap()).contains("0 participants"));
}

#[test]
fn colliding_anchors_stay_unique() {
    let mut t = fixture();
    // The same id twice (a corrupt import), and ids that sanitise alike.
    t.messages
        .push(msg("discord", "d2", DEE, "dup", at(19, 30), Some(2)));
    t.messages
        .push(msg("web", "a.b", DEE, "x", at(19, 31), Some(2)));
    t.messages
        .push(msg("web", "a:b", DEE, "y", at(19, 32), Some(2)));
    let page = render(&t);
    let doc = Html::parse_document(&page);
    let mut ids = HashSet::new();
    for e in doc.select(&sel("[id]")) {
        assert!(ids.insert(e.value().id().unwrap().to_owned()));
    }
    assert!(ids.contains("m-discord-d2-2"));
    // And it is the same on a second rendering.
    assert_eq!(page, render(&t));
}

/// A message whose point the transcript doesn't list still appears, under its own section.
#[test]
fn messages_on_unknown_points_are_kept() {
    let mut t = fixture();
    t.messages
        .push(msg("discord", "d9", DEE, "about Q7", at(19, 35), Some(7)));
    let doc = Html::parse_document(&render(&t));
    let q7 = by_id(&doc, "q7");
    assert!(text_of(q7).contains("about Q7"));
}

fn sha256_source(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[test]
fn csp_hashes_match_the_inline_script_and_style() {
    assert_eq!(SCRIPT_CSP_HASH, sha256_source(SCRIPT));
    assert_eq!(STYLE_CSP_HASH, sha256_source(STYLE));
    assert!(CONTENT_SECURITY_POLICY.contains(&format!("script-src {SCRIPT_CSP_HASH};")));
    assert!(CONTENT_SECURITY_POLICY.contains(&format!("style-src {STYLE_CSP_HASH};")));
    assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none';"));
    assert!(SCRIPT.len() < 1024, "the script is {} bytes", SCRIPT.len());
    // The page carries exactly these texts.
    let page = render(&fixture());
    assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
    assert!(page.contains(&format!("<style>{STYLE}</style>")));
}

/// A transcript where every hostile string is a message body, an author's name and id, a
/// message id, a room id, an avatar URL, an attachment's URL and name, a point's text, a note
/// and its author; the chat's own fields carry them too.
fn hostile_transcript() -> (Transcript, Vec<(&'static str, String)>) {
    let corpus = hostile::corpus();
    let all: String = corpus
        .iter()
        .take(40)
        .map(|(_, s)| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut t = fixture();
    t.chat.title = all.clone();
    t.chat.hashtag = all.clone();
    t.chat.description = all.clone();
    t.chat.time_zone = "<script>alert(1)</script>".into();
    t.intro = Some(all.clone());
    t.wrap_up = Some(all.clone());
    t.messages.clear();
    t.points.clear();
    t.notes.clear();
    t.highlights.clear();
    for (i, (_, s)) in corpus.iter().enumerate() {
        let n = i as u32 + 1;
        t.points.push(PointRecord {
            number: n,
            text: s.clone(),
            posted_at: Some(at(19, 0)),
        });
        for platform in ["matrix", "discord"] {
            let mut m = msg(
                platform,
                &format!("{s}{i}"),
                ("", ""),
                s,
                at(19, 1),
                Some(n),
            );
            m.author = Author {
                id: format!("{s}{i}"),
                name: s.clone(),
                avatar_url: Some(s.clone()),
            };
            m.room = s.clone();
            // A label and a link as an imported document may carry them: the link either the
            // hostile string itself (no link at all unless it is a web URL) or one ending in it.
            m.platform_label = Some(s.clone());
            m.permalink = Some(if i % 2 == 0 {
                s.clone()
            } else {
                format!("https://example.org/{s}")
            });
            m.attachments = vec![AttachmentRecord {
                url: s.clone(),
                name: s.clone(),
                content_type: Some(s.clone()),
                size_bytes: Some(-1),
            }];
            m.reply_to = Some(s.clone());
            m.edited_at = Some(at(19, 2));
            m.reactions = vec![ReactionRecord {
                key: s.clone(),
                count: 1,
            }];
            t.messages.push(m);
        }
        t.notes.push(NoteRecord {
            text: s.clone(),
            point: Some(n),
            after_message: Some(format!("matrix:{s}{i}")),
            by: s.clone(),
            by_name: Some(s.clone()),
            at: at(19, 3),
        });
        t.highlights.push(Highlight {
            message: format!("discord:{s}{i}"),
            by: s.clone(),
            at: at(19, 3),
        });
    }
    (t, corpus)
}

/// Only the elements and attributes the renderer writes: no handler, no style, no link but to
/// the page itself, the web or (for what people wrote) an address to mail.
fn assert_only_our_markup(doc: &Html) {
    // Only the elements the renderer writes.
    let allowed: HashSet<&str> = [
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "header",
        "p",
        "bdi",
        "h1",
        "h2",
        "time",
        "ul",
        "li",
        "strong",
        "nav",
        "ol",
        "a",
        "span",
        "main",
        "section",
        "div",
        "article",
        "blockquote",
        "aside",
        "footer",
        "script",
        // What people's formatting is drawn with.
        "em",
        "del",
        "u",
        "code",
        "pre",
        "br",
    ]
    .into_iter()
    .collect();
    for e in doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        let el = e.value();
        assert!(allowed.contains(el.name()), "unexpected <{}>", el.name());
        for (name, value) in el.attrs() {
            assert!(
                !name.to_ascii_lowercase().starts_with("on"),
                "<{} {name}>",
                el.name()
            );
            assert_ne!(name, "style", "no style attributes");
            assert_ne!(name, "srcdoc");
            if matches!(
                name,
                "href" | "src" | "action" | "formaction" | "xlink:href"
            ) {
                let v = value.trim_start().to_ascii_lowercase();
                assert!(!v.starts_with("javascript:"), "{name}={value}");
                assert!(
                    v.starts_with('#')
                        || v.starts_with("https://")
                        || v.starts_with("http://")
                        || v.starts_with("mailto:"),
                    "<{} {name}={value:?}>",
                    el.name()
                );
                if !v.starts_with('#') {
                    let rel = el.attr("rel").unwrap_or_default();
                    assert!(
                        rel.contains("nofollow") && rel.contains("noopener"),
                        "<a href={value:?} rel={rel:?}>"
                    );
                }
                assert_eq!(el.name(), "a", "{name} only on links");
            }
        }
        for class in el.classes() {
            assert!(
                OUR_CLASSES.contains(&class),
                "<{} class={class:?}>",
                el.name()
            );
        }
        if el.name() == "meta" {
            assert!(
                el.attr("http-equiv")
                    .is_none_or(|h| h == "Content-Security-Policy"),
                "no refresh"
            );
        }
    }
}

/// Every class the renderer writes: a participant's `class="note"` must not reach the page.
const OUR_CLASSES: &[&str] = &[
    "when",
    "took",
    "host",
    "marks",
    "where",
    "desc",
    "stats",
    "toc",
    "hashtag",
    "top",
    "bottom",
    "qn",
    "post",
    "posted",
    "group",
    "avatar",
    "g",
    "who",
    "name",
    "badge",
    "msg",
    "meta",
    "stamp",
    "perma",
    "edited",
    "body",
    "rich",
    "withheld",
    "reply",
    "attachments",
    "reactions",
    "reaction",
    "hl",
    "hl-label",
    "note",
    "note-label",
    "note-text",
    "note-by",
    "empty",
    "full",
    "spoiler",
    "p-matrix",
    "p-discord",
    "p-web",
    "p-loopback",
    "c0",
    "c1",
    "c2",
    "c3",
    "c4",
    "c5",
    "c6",
    "c7",
    "c8",
    "c9",
    "c10",
    "c11",
];

/// What an HTML parser recovers from our escaped text: the input, with NUL as U+FFFD.
fn as_parsed(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

#[test]
fn hostile_input_stays_text() {
    let (t, corpus) = hostile_transcript();
    let page = render(&t);
    let doc = Html::parse_document(&page);

    // The only script is ours; the only style is ours.
    let scripts: Vec<ElementRef> = doc.select(&sel("script")).collect();
    assert_eq!(scripts.len(), 1);
    assert_eq!(text_of(scripts[0]), SCRIPT);
    assert!(
        scripts[0].value().attrs().next().is_none(),
        "no src or other attribute"
    );
    let styles: Vec<ElementRef> = doc.select(&sel("style")).collect();
    assert_eq!(styles.len(), 1);
    assert_eq!(text_of(styles[0]), STYLE);

    assert_only_our_markup(&doc);

    // Every hostile string is shown as text, exactly, as a body (twice: Matrix and Discord),
    // as a name, as a point, as a note.
    let bodies: Vec<String> = doc.select(&sel("article.msg .body")).map(text_of).collect();
    let expected: Vec<String> = corpus
        .iter()
        .flat_map(|(_, s)| [as_parsed(s), as_parsed(s)])
        .collect();
    assert_eq!(bodies.len(), expected.len());
    for (i, (got, want)) in bodies.iter().zip(&expected).enumerate() {
        assert!(got == want, "body of case {:?} changed", corpus[i / 2].0);
    }
    let names: Vec<String> = doc.select(&sel(".group .name")).map(text_of).collect();
    assert_eq!(
        names.len(),
        expected.len(),
        "each hostile author is a group"
    );
    for (i, (got, want)) in names.iter().zip(&expected).enumerate() {
        if !want.trim().is_empty() {
            assert!(got == want, "name of case {:?} changed", corpus[i / 2].0);
        }
    }
    let points: Vec<String> = doc
        .select(&sel("main > section > h2 > span[dir]"))
        .map(text_of)
        .collect();
    assert_eq!(points.len(), corpus.len());
    for ((case, s), got) in corpus.iter().zip(&points) {
        assert!(*got == as_parsed(s), "point text of case {case:?} changed");
    }
    let notes: Vec<String> = doc.select(&sel("aside .note-text")).map(text_of).collect();
    assert_eq!(notes.len(), corpus.len());
    for ((case, s), got) in corpus.iter().zip(&notes) {
        assert!(*got == as_parsed(s), "note of case {case:?} changed");
    }
    let reactions: Vec<String> = doc.select(&sel(".reaction bdi")).map(text_of).collect();
    assert_eq!(reactions.len(), expected.len());
    for (i, (got, want)) in reactions.iter().zip(&expected).enumerate() {
        assert!(
            got == want,
            "reaction of case {:?} changed",
            corpus[i / 2].0
        );
    }
    let title = text_of(doc.select(&sel("h1")).next().unwrap());
    assert!(title == as_parsed(&t.chat.title), "chat title changed");
    // Hostile highlights found their (hostile-id) messages.
    assert_eq!(doc.select(&sel("article.hl")).count(), corpus.len());
}

/// No resource is loaded from anywhere: links only in `<a>`, no `<img>`, `<link>`, `<iframe>`…
#[test]
fn no_external_requests() {
    let page = render(&fixture());
    let doc = Html::parse_document(&page);
    for e in doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        let el = e.value();
        assert!(
            !matches!(
                el.name(),
                "link"
                    | "img"
                    | "iframe"
                    | "object"
                    | "embed"
                    | "video"
                    | "audio"
                    | "source"
                    | "base"
            ),
            "<{}>",
            el.name()
        );
        if let Some(src) = el.attr("src") {
            assert!(src.starts_with("data:"), "src={src}");
        }
        if let Some(href) = el.attr("href") {
            assert!(
                href.starts_with('#') || (el.name() == "a" && href.starts_with("https://")),
                "<{} href={href}>",
                el.name()
            );
        }
    }
}

/// A media store's resolver: a local copy shows inline; a resolver answering with a remote URL
/// or an SVG data URI is ignored.
#[test]
fn media_resolver_hook() {
    use bot_core::render::html::MediaResolver;
    use std::sync::Arc;

    struct Local;
    impl MediaResolver for Local {
        fn avatar(&self, _platform: &str, author: &Author) -> Option<String> {
            match author.name.as_str() {
                "Bob" => Some("media/avatars/bob.png".into()),
                "Cy Young" => Some("https://evil.example/cy.png".into()),
                _ => Some("data:image/svg+xml,<svg onload=alert(1)>".into()),
            }
        }
        fn attachment(&self, _m: &MessageRecord, a: &AttachmentRecord) -> Option<String> {
            Some(format!("data:image/png;base64,{}", a.name.len()))
        }
    }
    let mut options = HtmlOptions::new(at(21, 0));
    options.media = Some(Arc::new(Local));
    let mut out = Vec::new();
    html::render(&fixture(), &options, &mut out).unwrap();
    let page = String::from_utf8(out).unwrap();
    let doc = Html::parse_document(&page);
    let srcs: Vec<&str> = doc
        .select(&sel("img"))
        .filter_map(|i| i.value().attr("src"))
        .collect();
    assert!(srcs.contains(&"media/avatars/bob.png"));
    assert!(srcs.contains(&"data:image/png;base64,7"));
    assert!(!page.contains("evil.example"));
    assert!(!page.contains("svg+xml"));
}

/// The same hostile transcript as JSON: pure data, every string back exactly as it went in,
/// and no raw C0 control character in the file (JSON escapes them).
#[test]
fn hostile_corpus_survives_json_exactly() {
    let (t, _) = hostile_transcript();
    let json = bot_core::transcript::to_json(&t);
    assert!(
        !json.chars().any(|c| c < ' ' && c != '\n'),
        "raw C0 control characters in the JSON"
    );
    let back: Transcript = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t);
}

#[test]
fn the_header_links_to_where_the_session_took_place_only_over_http() {
    let mut t = fixture();
    assert!(!render(&t).contains("class=\"where\""), "no link, no line");
    t.session.link = Some(bot_core::model::SessionLink {
        label: "Discord <thread>".into(),
        url: "https://discord.com/channels/1/2?a=1&b=\"2\"".into(),
    });
    let page = render(&t);
    let doc = Html::parse_document(&page);
    let link = doc
        .select(&sel("header .where a"))
        .next()
        .expect("a link in the header");
    assert_eq!(
        link.value().attr("href"),
        Some("https://discord.com/channels/1/2?a=1&b=\"2\"")
    );
    assert_eq!(text_of(link), "Discord <thread>");
    assert!(link.value().attr("rel").unwrap().contains("noopener"));

    t.session.link = Some(bot_core::model::SessionLink {
        label: "Somewhere".into(),
        url: "javascript:alert(1)".into(),
    });
    let page = render(&t);
    let doc = Html::parse_document(&page);
    assert_eq!(doc.select(&sel("header .where a")).count(), 0);
    assert_eq!(
        text_of(doc.select(&sel("header .where")).next().unwrap()),
        "Took place in Somewhere"
    );
    assert!(!page.contains("javascript:alert"));
}

fn one_message(m: MessageRecord) -> Transcript {
    let mut t = fixture();
    t.messages = vec![m];
    t.notes.clear();
    t.highlights.clear();
    t
}

/// The first message body, as the page has it (not as a parser writes it back).
fn body_of(page: &str) -> &str {
    let (start, end) = match page.find("<div class=\"body rich\" dir=\"auto\">") {
        Some(i) => (
            i + "<div class=\"body rich\" dir=\"auto\">".len(),
            "</div>\n",
        ),
        None => {
            let i = page
                .find("<p class=\"body\" dir=\"auto\">")
                .expect("a body");
            (i + "<p class=\"body\" dir=\"auto\">".len(), "</p>\n")
        }
    };
    let len = page[start..].find(end).unwrap();
    &page[start..start + len]
}

#[test]
fn formatted_bodies_are_shown_with_their_formatting() {
    let mut m = msg("matrix", "$f", BOB, "plain version", at(19, 6), Some(1));
    m.formatted_body = Some(
        "<strong>bold</strong> <em>it</em> <del>gone</del> <code>a &lt; b</code> \
         <a href=\"https://example.org/x?a=1&amp;b=2\">site</a> \
         <span data-mx-spoiler=\"plot\">the end</span><br>next\
         <blockquote><p>quoted</p></blockquote><pre><code>let x = 1;\n</code></pre>\
         <ul><li>one</li></ul><p><a href=\"mailto:bob@example.org\">mail</a></p>"
            .into(),
    );
    let page = render(&one_message(m));
    assert_eq!(
        body_of(&page),
        "<p><strong>bold</strong> <em>it</em> <del>gone</del> <code>a &lt; b</code> \
         <a href=\"https://example.org/x?a=1&amp;b=2\" rel=\"nofollow ugc noopener\" \
         referrerpolicy=\"no-referrer\">site</a> <span class=\"spoiler\" tabindex=\"0\" \
         title=\"Spoiler: click to show\">the end</span><br>next</p>\
         <blockquote><p>quoted</p></blockquote><pre><code>let x = 1;\n</code></pre>\
         <ul><li>one</li></ul><p><a href=\"mailto:bob@example.org\" rel=\"nofollow ugc noopener\" \
         referrerpolicy=\"no-referrer\">mail</a></p>"
    );
    assert!(!page.contains("plain version"));
    // The stylesheet hides spoilers until they are hovered or focused (clicked).
    assert!(STYLE.contains(".spoiler:not(:hover):not(:focus)"));
    assert!(STYLE.contains(".body.rich{white-space:normal}"));
    assert_only_our_markup(&Html::parse_document(&page));
}

#[test]
fn plain_bodies_keep_their_lines_and_link_their_web_addresses() {
    let m = msg(
        "discord",
        "d",
        ADA,
        "see https://example.org/a?b=1&c=2.\n<b>not bold</b> javascript:alert(1) www.example.org",
        at(19, 6),
        Some(1),
    );
    let page = render(&one_message(m));
    assert_eq!(
        body_of(&page),
        "see <a href=\"https://example.org/a?b=1&amp;c=2\" rel=\"nofollow ugc noopener\" \
         referrerpolicy=\"no-referrer\">https://example.org/a?b=1&amp;c=2</a>.\n\
         &lt;b&gt;not bold&lt;/b&gt; javascript:alert(1) www.example.org"
    );
}

#[test]
fn withheld_messages_stay_withheld_whatever_they_carry() {
    // As an imported document might carry it: withheld, yet with a formatted body.
    let mut m = msg("matrix", "$w", BOB, WITHHELD, at(19, 6), Some(1));
    m.withheld = true;
    m.formatted_body = Some("<b>the secret words</b> https://example.org/".into());
    let page = render(&one_message(m));
    assert_eq!(body_of(&page), "withheld at the author's request");
    assert!(!page.contains("secret words"));
}

#[test]
fn a_formatted_body_with_nothing_to_read_shows_the_plain_text() {
    for html in [
        "<img src=\"https://evil.example/x.png\">",
        "<br><b> </b>",
        &"<blockquote>".repeat(10_000),
    ] {
        let mut m = msg("matrix", "$e", BOB, "the plain text", at(19, 6), Some(1));
        m.formatted_body = Some(html.to_owned());
        let page = render(&one_message(m));
        assert_eq!(body_of(&page), "the plain text", "{html:.40}");
    }
}

#[test]
fn hostile_formatted_bodies_stay_inert() {
    let cases: Vec<(&str, String)> = hostile::formatted_corpus()
        .into_iter()
        .chain(hostile::corpus())
        .collect();
    let mut t = fixture();
    t.notes.clear();
    t.highlights.clear();
    t.messages = cases
        .iter()
        .enumerate()
        .map(|(i, (_, html))| {
            let mut m = msg(
                "matrix",
                &format!("$h{i}"),
                BOB,
                "plain",
                at(19, 6),
                Some(1),
            );
            m.formatted_body = Some(html.clone());
            m
        })
        .collect();
    let page = render(&t);
    let doc = Html::parse_document(&page);
    assert_only_our_markup(&doc);
    let scripts: Vec<ElementRef> = doc.select(&sel("script")).collect();
    assert_eq!(scripts.len(), 1);
    assert_eq!(text_of(scripts[0]), SCRIPT);
    assert_eq!(doc.select(&sel("style")).count(), 1);
    assert_eq!(
        doc.select(&sel("img, iframe, object, embed, form, input, base, link"))
            .count(),
        0
    );
    // Participants' links go to the web or to mail, nowhere else; anchors are the renderer's.
    for a in doc.select(&sel("article.msg .body a")) {
        let href = a.value().attr("href").unwrap();
        assert!(href.starts_with("https://example.org/"), "{href}");
    }
    assert_eq!(doc.select(&sel(".body [id], .body [name]")).count(), 0);

    let bodies: Vec<String> = doc
        .select(&sel("article.msg .body"))
        .map(|b| b.inner_html())
        .collect();
    assert_eq!(bodies.len(), cases.len());
    let get = |case: &str| -> &str {
        let i = cases.iter().position(|(c, _)| *c == case).unwrap();
        &bodies[i]
    };
    assert_eq!(get("script"), "<strong>bold</strong> text");
    assert_eq!(get("img onerror"), "picture");
    assert_eq!(get("remote image"), "tracked");
    assert_eq!(get("mention of everyone"), "@room and Ann");
    assert_eq!(get("javascript links"), "js js2 js3 js4 vb");
    assert_eq!(get("relative links"), "proto abs frag rel");
    assert_eq!(get("reply fallback"), "answer");
    assert_eq!(
        get("classes and ids"),
        "<p>fake note</p><p><code>c</code><strong>n</strong></p>"
    );
    assert_eq!(get("nested quotes").matches("<blockquote>").count(), 3);
    let deep = get("deep nesting of quotes");
    assert!(deep.contains("bottom"));
    assert!(deep.matches("<blockquote>").count() <= bot_core::rich::MAX_DEPTH + 1);
    assert_eq!(
        get("huge nesting of quotes"),
        "plain",
        "too many tags: the plain text"
    );
    assert_eq!(get("100 kB of markup"), "plain");
    assert!(
        get("bidi in formatting").contains("\u{202E}"),
        "kept, isolated by its body"
    );
    assert!(get("markdown in html").contains("**not markdown** [x](javascript:alert(1))"));
    let handlers = get("handlers on allowed tags");
    assert!(
        handlers.starts_with("<strong>b</strong><a href=\"https://example.org/\""),
        "{handlers}"
    );
    // Every formatted body sits in a bidi-isolated block of its own.
    assert_eq!(
        doc.select(&sel("article.msg div.body.rich[dir=auto]"))
            .count()
            + doc.select(&sel("article.msg p.body[dir=auto]")).count(),
        cases.len()
    );
}
