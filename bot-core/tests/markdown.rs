//! The Markdown transcript, read back as its readers would: rendered with pulldown-cmark
//! (CommonMark with GitHub's extensions) and the events checked. The plain-text transcript's
//! sense of place is checked here too, on the same small transcripts.

#[path = "fixtures/hostile.rs"]
mod hostile;

use bot_core::render::markdown;
use bot_core::transcript::{
    Author, ChatRecord, MessageRecord, PointRecord, SessionRecord, Transcript, SCHEMA_VERSION,
    WITHHELD,
};
use chrono::{DateTime, TimeZone, Utc};
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

fn msg(
    platform: &str,
    id: &str,
    author: &str,
    body: &str,
    sent_at: DateTime<Utc>,
) -> MessageRecord {
    MessageRecord {
        platform: platform.into(),
        room: "room".into(),
        platform_message_id: id.into(),
        author: Author {
            id: author.to_lowercase(),
            name: author.into(),
            avatar_url: None,
        },
        body: body.into(),
        platform_label: Some(
            match platform {
                "matrix" => "Matrix",
                "discord" => "Discord",
                other => other,
            }
            .into(),
        ),
        permalink: None,
        formatted_body: None,
        sent_at,
        point: Some(1),
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

fn transcript(messages: Vec<MessageRecord>) -> Transcript {
    Transcript {
        schema_version: SCHEMA_VERSION,
        chat: ChatRecord {
            slug: "c".into(),
            title: "Chat".into(),
            hashtag: "#chat".into(),
            description: String::new(),
            time_zone: "UTC".into(),
        },
        session: SessionRecord {
            uid: "0123456789abcdef0123456789abcdef".into(),
            state: "ended".into(),
            scheduled_start: at(19, 0),
            started_at: Some(at(19, 0)),
            ended_at: Some(at(20, 0)),
            rooms: vec!["matrix:!r:x".into(), "discord:1".into()],
            link: None,
            host: None,
        },
        intro: None,
        points: vec![PointRecord {
            number: 1,
            text: "First?".into(),
            posted_at: Some(at(19, 1)),
        }],
        wrap_up: None,
        posts: vec![],
        messages,
        notes: vec![],
        highlights: vec![],
    }
}

fn render(t: &Transcript) -> String {
    let mut md = String::new();
    markdown::render(t, &mut md).unwrap();
    md
}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM
        | Options::ENABLE_MATH
        | Options::ENABLE_WIKILINKS
        | Options::ENABLE_DEFINITION_LIST
}

fn to_html(md: &str) -> String {
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(md, options()));
    html
}

/// What a Markdown reader makes of the document, apart from text: every tag opened, and any
/// raw HTML.
fn structure(md: &str) -> Vec<Event<'_>> {
    Parser::new_ext(md, options())
        .filter(|e| !matches!(e, Event::Text(_) | Event::End(_)))
        .collect()
}

/// Nothing a participant wrote became raw HTML, an image, a heading, a table, a footnote, a
/// task box, maths or an autolink; links go only to `allowed` addresses.
fn assert_inert(case: &str, md: &str, allowed_links: &[&str]) {
    for e in structure(md) {
        match &e {
            Event::Html(h) | Event::InlineHtml(h) => panic!("{case}: raw HTML {h:?}"),
            Event::Start(Tag::Image { .. }) => panic!("{case}: an image"),
            // The document's own: `# Chat`, `## Q1`.
            Event::Start(Tag::Heading { .. }) => {}
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) => {
                assert_eq!(*link_type, LinkType::Inline, "{case}: {e:?}");
                assert!(
                    allowed_links.contains(&dest_url.as_ref()),
                    "{case}: a link to {dest_url:?}"
                );
            }
            Event::Start(
                Tag::Table(_)
                | Tag::FootnoteDefinition(_)
                | Tag::HtmlBlock
                | Tag::MetadataBlock(_)
                | Tag::DefinitionList,
            )
            | Event::TaskListMarker(_)
            | Event::FootnoteReference(_)
            | Event::InlineMath(_)
            | Event::DisplayMath(_) => panic!("{case}: {e:?}"),
            _ => {}
        }
    }
    let headings = structure(md)
        .iter()
        .filter(|e| matches!(e, Event::Start(Tag::Heading { .. })))
        .count();
    assert_eq!(headings, 2, "{case}: only the title and Q1 are headings");
    // GitHub links bare addresses in text; escaping (`https\://`, `www\.`, `\@`) stops it.
    for bad in ["://evil", "@evil"] {
        for (i, _) in md.match_indices(bad) {
            assert!(
                md[..i].ends_with('\\'),
                "{case}: {bad} could autolink:\n{md}"
            );
        }
    }
    assert!(
        !md.to_lowercase().contains("www.evil"),
        "{case}: www. could autolink:\n{md}"
    );
}

fn formatted(platform: &str, id: &str, body: &str, html: &str) -> MessageRecord {
    let mut m = msg(platform, id, "Ann", body, at(19, 2));
    m.formatted_body = Some(html.into());
    m
}

#[test]
fn formatted_messages_keep_their_formatting_as_markdown() {
    let t = transcript(vec![formatted(
        "matrix",
        "$1",
        "plain version",
        "<strong>bold</strong> <em>it</em> <del>gone</del> <code>a*b</code> \
         <a href=\"https://example.org/x?y=(1)\">a <b>site</b></a> \
         <span data-mx-spoiler>secret</span><br>next line\
         <blockquote><p>quoted <em>well</em></p><blockquote>deeper</blockquote></blockquote>\
         <pre><code class=\"language-rust\">let x = 1;\n  if a &lt; b {}\n</code></pre>\
         <ul><li>one</li><li>two<ol><li>inner</li></ol></li></ul><p>after <a href=\"mailto:ann@example.org\">mail</a></p>",
    )]);
    let md = render(&t);
    let body: String = md
        .lines()
        .skip_while(|l| !l.starts_with("- **Ann**"))
        .skip(2)
        .take_while(|l| !l.starts_with("---"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        body.trim_end(),
        "  **bold** *it* ~~gone~~ `a*b` [a **site**](<https://example.org/x?y=%281%29>) \
         \\|\\|secret\\|\\|  \n  next line\n\n  > quoted *well*\n  >\n  > > deeper\n\n  \
         ```\n  let x = 1;\n    if a < b {}\n  ```\n\n  - one\n  - two\n    1. inner\n\n  \
         after [mail](<mailto:ann@example.org>)",
        "{md}"
    );
    let html = to_html(&md);
    for want in [
        "<strong>bold</strong>",
        "<em>it</em>",
        "<del>gone</del>",
        "<code>a*b</code>",
        "<a href=\"https://example.org/x?y=%281%29\">a <strong>site</strong></a>",
        "||secret||<br />",
        "<blockquote>",
        "quoted <em>well</em>",
        "<pre><code>let x = 1;\n  if a &lt; b {}\n</code></pre>",
        "<li>one</li>",
        "inner",
        "<a href=\"mailto:ann@example.org\">mail</a>",
    ] {
        assert!(html.contains(want), "{want} in\n{html}");
    }
    assert_eq!(html.matches("<blockquote>").count(), 2, "{html}");
    assert!(
        !html.contains("plain version"),
        "the formatted body is shown"
    );
    assert_inert(
        "formatted",
        &md,
        &["https://example.org/x?y=%281%29", "mailto:ann@example.org"],
    );
}

#[test]
fn a_formatted_body_with_nothing_to_read_falls_back_to_the_plain_text() {
    let t = transcript(vec![formatted(
        "matrix",
        "$1",
        "the plain text",
        "<img src=\"https://evil.example/x.png\">",
    )]);
    let md = render(&t);
    assert!(md.contains("  the plain text\n"), "{md}");
}

#[test]
fn withheld_messages_stay_withheld_whatever_they_carry() {
    let mut m = formatted("matrix", "$1", WITHHELD, "<b>the secret words</b>");
    m.withheld = true;
    let md = render(&transcript(vec![m]));
    assert!(md.contains("*withheld at the author's request*"), "{md}");
    assert!(!md.contains("secret"), "{md}");
}

#[test]
fn text_after_a_quote_is_not_part_of_it() {
    let mut m = formatted("matrix", "$1", "x", "<blockquote>quoted</blockquote>");
    m.attachments = vec![bot_core::transcript::AttachmentRecord {
        url: "https://media.example/a.png".into(),
        name: "a.png".into(),
        content_type: None,
        size_bytes: None,
    }];
    let mut reply = msg("matrix", "$2", "Bob", "my answer", at(19, 3));
    reply.reply_to = Some("$1".into());
    let md = render(&transcript(vec![m, reply]));
    let html = to_html(&md);
    let quote = &html[html.find("<blockquote>").unwrap()..html.find("</blockquote>").unwrap()];
    assert!(
        quote.contains("quoted") && !quote.contains("a.png"),
        "{html}"
    );
    // The reply names its parent on its name line, quotes only the parent's words, and its
    // own text follows the quote.
    let (before, last) = html.split_at(html.rfind("<blockquote>").unwrap());
    assert!(
        before
            .ends_with("<p><strong>Bob</strong> · 19:03 · replying to <strong>Ann</strong></p>\n"),
        "{html}"
    );
    let (quote, after) = last.split_once("</blockquote>").unwrap();
    assert_eq!(quote, "<blockquote>\n<p>x</p>\n", "{html}");
    assert!(after.starts_with("\n<p>my answer</p>"), "{html}");
}

#[test]
fn hostile_formatted_bodies_stay_inert() {
    for (case, html) in hostile::formatted_corpus()
        .into_iter()
        .chain(hostile::corpus())
    {
        for platform in ["matrix", "discord"] {
            let t = transcript(vec![
                formatted(platform, "$1", "plain", &html),
                msg(platform, "$2", "Bob", &html, at(19, 3)),
            ]);
            let md = render(&t);
            assert_inert(case, &md, &["https://example.org/"]);
            let html = to_html(&md);
            assert!(!html.contains("<script"), "{case}: {html}");
        }
    }
}

#[test]
fn hostile_formatting_keeps_its_text_and_loses_its_tricks() {
    let cases: Vec<(String, String)> = hostile::formatted_corpus()
        .into_iter()
        .map(|(case, html)| {
            let md = render(&transcript(vec![formatted("matrix", "$1", "plain", &html)]));
            (case.to_owned(), to_html(&md))
        })
        .collect();
    let get = |case: &str| -> &str { &cases.iter().find(|(c, _)| c == case).unwrap().1 };
    assert!(get("script").contains("<strong>bold</strong> text"));
    assert!(get("remote image").contains("tracked") && !get("remote image").contains("<img"));
    assert!(get("mention of everyone").contains("@room and Ann"));
    assert!(!get("mention of everyone").contains("<a "));
    assert!(get("javascript links").contains("js js2 js3 js4 vb"));
    assert!(get("relative links").contains("proto abs frag rel"));
    assert!(get("reply fallback").contains("answer") && !get("reply fallback").contains("parent"));
    assert!(get("nested quotes").matches("<blockquote>").count() == 3);
    // Too many tags to read: the plain text is shown.
    assert!(get("huge nesting of quotes").contains("plain"));
    assert!(!get("huge nesting of quotes").contains("<blockquote>"));
    assert!(get("huge nesting of emphasis").contains("plain"));
    let deep = get("deep nesting of quotes");
    assert!(deep.contains("bottom"), "{deep}");
    assert!(
        deep.matches("<blockquote>").count() <= bot_core::rich::MAX_DEPTH + 1,
        "{deep}"
    );
    let starters = get("block starters in text");
    for shown in [
        "# heading",
        "1. list",
        "- item",
        "| a | b |",
        "```",
        "~~~",
        "&lt;div&gt;html&lt;/div&gt;",
        "[ref]: https",
        ": term",
    ] {
        assert!(starters.contains(shown), "{shown} in {starters}");
    }
    assert!(!starters.contains("<pre>"), "{starters}");
    assert_eq!(
        starters.matches("<li>").count(),
        1,
        "only the message's own item: {starters}"
    );
    let headings: usize = (1..=6)
        .map(|n| starters.matches(&format!("<h{n}")).count())
        .sum();
    assert_eq!(headings, 2, "only the title and Q1: {starters}");
    assert!(!starters.contains("<table"), "{starters}");
    let fences = get("fences inside code");
    assert!(fences.contains("<code>``` ~~~</code>"), "{fences}");
    assert!(
        fences.contains("<pre><code>```\n# not a heading\n~~~\n</code></pre>"),
        "{fences}"
    );
    assert!(fences.contains("after"), "{fences}");
    let strikes = get("nested strikes");
    assert!(
        strikes.contains("<del>x</del>") && strikes.contains("<del>y</del>"),
        "{strikes}"
    );
    assert!(!strikes.contains("<pre>"), "{strikes}");
    let empty = get("empty emphasis");
    assert_eq!(
        empty.matches("<hr").count(),
        1,
        "only the footer's rule: {empty}"
    );
    assert_eq!(empty.matches("<li>").count(), 1, "{empty}");
    let split = get("split across tags");
    assert_eq!(split.matches("<li>").count(), 1, "{split}");
    assert!(
        split.contains("1. split list") && split.contains("# split heading"),
        "{split}"
    );
    assert!(get("bidi in formatting").contains("⟨U+202E⟩"));
    assert!(!get("bidi in formatting").contains('\u{202E}'));
}

#[test]
fn where_a_message_was_written_is_said_when_there_are_several_platforms() {
    let one = transcript(vec![
        msg("matrix", "$1", "Ann", "first", at(19, 2)),
        msg("matrix", "$2", "Bob", "second", at(19, 3)),
    ]);
    let md = render(&one);
    assert!(md.contains("- **Ann** · 19:02\n"), "{md}");
    assert!(!md.contains("· Matrix"), "{md}");

    // Interleaved by time, whichever room or platform each was written in.
    let both = transcript(vec![
        msg("matrix", "$1", "Ann", "first", at(19, 2)),
        msg("discord", "2", "Cy", "second", at(19, 3)),
        msg("matrix", "$3", "Bob", "third", at(19, 4)),
    ]);
    let md = render(&both);
    let ann = md.find("- **Ann** · 19:02 · Matrix\n").expect(&md);
    let cy = md.find("- **Cy** · 19:03 · Discord\n").expect(&md);
    let bob = md.find("- **Bob** · 19:04 · Matrix\n").expect(&md);
    assert!(ann < cy && cy < bob, "{md}");
}

#[test]
fn plain_text_says_where_a_message_was_written_when_there_are_several_platforms() {
    use bot_core::render::plain::render_session;
    let mut first = formatted("matrix", "$1", "first **as typed**", "first <b>bold</b>");
    first.author.name = "Ann".into();
    let one = transcript(vec![
        first.clone(),
        msg("matrix", "$2", "Bob", "second", at(19, 3)),
    ]);
    let text = render_session(&one, 1);
    assert!(
        text.contains("  [19:02] Ann: first **as typed**\n"),
        "{text}"
    );
    assert!(text.contains("  [19:03] Bob: second\n"), "{text}");

    let both = transcript(vec![
        first,
        msg("discord", "2", "Cy", "second", at(19, 3)),
        msg("matrix", "$3", "Bob", "third", at(19, 4)),
    ]);
    let text = render_session(&both, 1);
    let ann = text.find("  [19:02] Ann (Matrix): first").expect(&text);
    let cy = text.find("  [19:03] Cy (Discord): second").expect(&text);
    let bob = text.find("  [19:04] Bob (Matrix): third").expect(&text);
    assert!(ann < cy && cy < bob, "{text}");
}

/// Each list item's blocks, as (kind, text): `p` a paragraph, `quote` a quote.
fn items(md: &str) -> Vec<Vec<(&'static str, String)>> {
    use pulldown_cmark::TagEnd;
    let mut items = Vec::new();
    let mut depth = 0;
    let mut in_item = false;
    let (mut kind, mut text) = ("", String::new());
    for e in Parser::new_ext(md, options()) {
        match e {
            Event::Start(Tag::Item) => {
                items.push(Vec::new());
                in_item = true;
            }
            Event::End(TagEnd::Item) => in_item = false,
            _ if !in_item => {}
            Event::Start(Tag::BlockQuote(_)) => {
                depth += 1;
                if depth == 1 {
                    kind = "quote";
                }
            }
            Event::End(TagEnd::BlockQuote(_)) => {
                depth -= 1;
                if depth == 0 {
                    items
                        .last_mut()
                        .unwrap()
                        .push((kind, std::mem::take(&mut text)));
                }
            }
            Event::Start(Tag::Paragraph) if depth == 0 => kind = "p",
            Event::End(TagEnd::Paragraph) if depth == 0 => {
                items
                    .last_mut()
                    .unwrap()
                    .push((kind, std::mem::take(&mut text)));
            }
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak => text.push_str(" ⏎soft "),
            Event::HardBreak => text.push('\n'),
            _ => {}
        }
    }
    items
}

#[test]
fn each_message_is_a_block_of_its_own_and_a_reply_quotes_only_its_parent() {
    let first = msg(
        "matrix",
        "$1",
        "Ann",
        "Our library's #interlibnet (or you)",
        at(19, 2),
    );
    let mut reply = msg("matrix", "$2", "Bob", "Agreed, and more", at(19, 3));
    reply.reply_to = Some("$1".into());
    reply.reactions = vec![bot_core::transcript::ReactionRecord {
        key: "👍".into(),
        count: 2,
    }];
    let md = render(&transcript(vec![first, reply]));
    assert_eq!(
        items(&md),
        [
            vec![
                ("p", "Ann · 19:02".to_owned()),
                ("p", "Our library's #interlibnet (or you)".to_owned()),
            ],
            vec![
                ("p", "Bob · 19:03 · replying to Ann".to_owned()),
                ("quote", "Our library's #interlibnet (or you)".to_owned()),
                ("p", "Agreed, and more".to_owned()),
                ("p", "Reactions: 👍 2".to_owned()),
            ],
        ],
        "{md}"
    );
    // As plain text it reads as written: nothing escaped that needed no escaping.
    assert!(
        md.contains("  Our library's #interlibnet (or you)\n"),
        "{md}"
    );
}

#[test]
fn plain_text_shows_reactions_highlights_replies_and_unreached_points_and_obeys_no_bidi() {
    use bot_core::render::plain::render_session;
    let mut first = msg("matrix", "$1", "Ann", "A1 \u{202E}txet desrever", at(19, 2));
    first.reactions = vec![bot_core::transcript::ReactionRecord {
        key: "🎉".into(),
        count: 3,
    }];
    let mut reply = msg("matrix", "$2", "Bob", "same here", at(19, 3));
    reply.reply_to = Some("$1".into());
    let mut t = transcript(vec![first, reply]);
    t.highlights = vec![bot_core::transcript::Highlight {
        message: "matrix:$1".into(),
        by: "matrix:@mod:x".into(),
        at: at(19, 5),
    }];
    t.points.push(PointRecord {
        number: 2,
        text: "Second?".into(),
        posted_at: None,
    });
    let text = render_session(&t, 7);
    assert!(text.starts_with("Chat (#chat), session 7\n"), "{text}");
    assert!(
        text.contains("  [19:02] ★ Ann: A1 ⟨U+202E⟩txet desrever\n      Reactions: 🎉 3\n"),
        "{text}"
    );
    assert!(!text.contains('\u{202E}'), "{text}");
    assert!(
        text.contains("  [19:03] Bob, replying to Ann: same here\n"),
        "{text}"
    );
    assert!(text.contains("\nQ2: Second? (not reached)\n"), "{text}");
    assert!(text.ends_with("\n2 messages\n"), "{text}");
}
