//! Formatted message text as it travels between platforms: a small, safe subset of HTML (what
//! Matrix calls `org.matrix.custom.html`), which each adapter converts from and to its own
//! markup. [`sanitize_html`] is the gate every formatted body passes before it is relayed:
//! ammonia (a well-kept sanitiser on html5ever) keeps only the formatting people write with
//! and drops everything else, so nothing a participant sends can become a script, a style, an
//! image from elsewhere, or a mention that notifies someone on the platform it is copied to.
//!
//! Transcripts draw formatted text from its neutral form, [`Block`] and [`Inline`]: [`parse`]
//! passes the stored HTML through [`sanitize_for_display`] (stricter still: no classes, no
//! relative links) and reads what is left with html5ever (through scraper) into what was
//! bold, a link, code, a quote and so on. Nothing in the neutral form is markup: its texts are
//! the characters people wrote, and each renderer escapes them for its own format. The HTML
//! stored with a message is never trusted to have been sanitised (an imported document can
//! carry anything), so this happens at every render.

use std::collections::{HashMap, HashSet};

use scraper::{ElementRef, Node};

/// The tags formatted text may carry: emphasis, strike, code, links, spoilers, quotes, lists,
/// paragraphs and line breaks.
const TAGS: &[&str] = &[
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strike",
    "strong",
    "u",
    "ul",
];

/// Links that name a person or a room on Matrix (`https://matrix.to/#/@ann:example.org`):
/// their text is kept, the link dropped, so a copy mentions nobody.
const MENTION_LINK: &str = "https://matrix.to/";

/// Keeps only [`TAGS`], `href` on links (absolute http, https and mailto only, opened with
/// `rel="nofollow ugc noopener"`: a relative link means nothing on another platform),
/// `data-mx-spoiler` on spans, and a code block's language class; strips every other tag
/// (keeping its text), attribute and comment, and Matrix's reply fallback (`<mx-reply>`, which
/// repeats the parent).
pub fn sanitize_html(html: &str) -> String {
    cleaner(true).clean(html).to_string()
}

/// The `rel` of every link a participant wrote.
pub const LINK_REL: &str = "nofollow ugc noopener";

/// [`sanitize_html`] made stricter for showing a message in a transcript, where the page's own
/// CSS and anchors are around it: no `class` (a participant's `class="note"` must not look like
/// a curator's note). The result is still HTML; [`parse`] is what renderers use.
pub fn sanitize_for_display(html: &str) -> String {
    cleaner(false).clean(html).to_string()
}

/// The one ammonia configuration both sanitisers share; `code_language` keeps a code block's
/// `language-…` class.
fn cleaner(code_language: bool) -> ammonia::Builder<'static> {
    let mut attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
    attributes.insert("a", HashSet::from(["href"]));
    attributes.insert("span", HashSet::from(["data-mx-spoiler"]));
    if code_language {
        attributes.insert("code", HashSet::from(["class"]));
    }
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(HashSet::from(["mx-reply", "script", "style"]))
        .tag_attributes(attributes)
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some(LINK_REL))
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("a", "href") if value.starts_with(MENTION_LINK) => None,
            ("code", "class") if !value.starts_with("language-") => None,
            _ => Some(value.into()),
        });
    builder
}

/// A block of formatted text, in the neutral form renderers draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    Quote(Vec<Block>),
    /// Preformatted text, as written (line breaks and spacing kept).
    CodeBlock(String),
    /// Each item is a list of blocks.
    List {
        ordered: bool,
        items: Vec<Vec<Block>>,
    },
}

/// A piece of formatted text within a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    /// Characters as written: never markup. Whitespace is HTML's (a line break in it is a
    /// space); only [`Inline::Break`] breaks a line.
    Text(String),
    Strong(Vec<Inline>),
    Emphasis(Vec<Inline>),
    Strike(Vec<Inline>),
    Underline(Vec<Inline>),
    Code(String),
    /// `href` is an absolute `http:`, `https:` or `mailto:` URL (see [`is_link_target`]).
    Link {
        href: String,
        children: Vec<Inline>,
    },
    /// Hidden until the reader asks (Matrix's `data-mx-spoiler`, Discord's `||…||`).
    Spoiler(Vec<Inline>),
    Break,
}

/// How deeply formatting may nest before what is inside is kept as its text alone: enough for
/// any message people write, and a bound on every renderer's recursion whatever was stored.
pub const MAX_DEPTH: usize = 16;

/// At most this many tags (counted as `<`) are read in one formatted body. html5ever (in
/// ammonia and in scraper) takes time quadratic in how deeply elements nest, which only a
/// hostile body does: 10,000 nested quotes take minutes. No message people write comes near
/// this; one that does is shown as its plain text.
pub const MAX_TAGS: usize = 1_000;

/// The neutral form of a stored formatted body: sanitised ([`sanitize_for_display`]), then read
/// with html5ever. Formatting nested deeper than [`MAX_DEPTH`] keeps its text only. A body with
/// more than [`MAX_TAGS`] tags is not read at all: the result is empty, as for a body with
/// nothing to read, and renderers show the plain text instead.
pub fn parse(html: &str) -> Vec<Block> {
    if html.bytes().filter(|&b| b == b'<').count() > MAX_TAGS {
        return Vec::new();
    }
    if !html.contains(['<', '&']) {
        // No markup and no character references: the text is the text.
        return if html.trim().is_empty() {
            Vec::new()
        } else {
            vec![Block::Paragraph(vec![Inline::Text(html.to_owned())])]
        };
    }
    let clean = sanitize_for_display(html);
    let fragment = scraper::Html::parse_fragment(&clean);
    blocks(fragment.root_element(), 0)
}

/// Whether there is anything to read: text that is not all whitespace, or code.
pub fn has_text(blocks: &[Block]) -> bool {
    fn inline(i: &Inline) -> bool {
        match i {
            Inline::Text(t) | Inline::Code(t) => !t.trim().is_empty(),
            Inline::Strong(c)
            | Inline::Emphasis(c)
            | Inline::Strike(c)
            | Inline::Underline(c)
            | Inline::Spoiler(c)
            | Inline::Link { children: c, .. } => c.iter().any(inline),
            Inline::Break => false,
        }
    }
    blocks.iter().any(|b| match b {
        Block::Paragraph(c) => c.iter().any(inline),
        Block::Quote(b) => has_text(b),
        Block::CodeBlock(t) => !t.trim().is_empty(),
        Block::List { items, .. } => items.iter().any(|i| has_text(i)),
    })
}

/// Whether `href` may be a link in a transcript: absolute `http:`, `https:` or `mailto:`, with
/// no whitespace, control character or backslash (which browsers drop or rewrite, and which
/// could smuggle another scheme past a check).
pub fn is_link_target(href: &str) -> bool {
    let starts = |prefix: &str| {
        href.len() > prefix.len()
            && href.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    (starts("https://") || starts("http://") || starts("mailto:"))
        && !href
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
}

fn is_block(name: &str) -> bool {
    matches!(name, "p" | "blockquote" | "pre" | "ul" | "ol" | "li")
}

/// The blocks among `parent`'s children: runs of inline content become paragraphs.
fn blocks(parent: ElementRef<'_>, depth: usize) -> Vec<Block> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    for child in parent.children() {
        match child.value() {
            Node::Text(t) => run.push(Inline::Text(t.to_string())),
            Node::Element(e) if is_block(e.name()) => {
                let Some(el) = ElementRef::wrap(child) else {
                    continue;
                };
                paragraph(&mut run, &mut out);
                block(el, depth, &mut out);
            }
            Node::Element(_) => {
                if let Some(el) = ElementRef::wrap(child) {
                    inline_element(el, depth, false, &mut run);
                }
            }
            _ => {}
        }
    }
    paragraph(&mut run, &mut out);
    out
}

/// Ends a run of inline content: a paragraph, unless it is only whitespace (as between blocks).
fn paragraph(run: &mut Vec<Inline>, out: &mut Vec<Block>) {
    let only_space = run
        .iter()
        .all(|i| matches!(i, Inline::Text(t) if t.trim().is_empty()));
    if only_space {
        run.clear();
    } else {
        out.push(Block::Paragraph(std::mem::take(run)));
    }
}

fn block(el: ElementRef<'_>, depth: usize, out: &mut Vec<Block>) {
    if depth >= MAX_DEPTH {
        out.push(Block::Paragraph(vec![Inline::Text(el.text().collect())]));
        return;
    }
    match el.value().name() {
        "p" => {
            let mut run = Vec::new();
            inlines(el, depth + 1, false, &mut run);
            paragraph(&mut run, out);
        }
        "blockquote" => out.push(Block::Quote(blocks(el, depth + 1))),
        "pre" => out.push(Block::CodeBlock(el.text().collect())),
        name @ ("ul" | "ol") => {
            let mut items = Vec::new();
            for child in el.children() {
                match child.value() {
                    Node::Element(e) if e.name() == "li" => {
                        if let Some(li) = ElementRef::wrap(child) {
                            items.push(blocks(li, depth + 1));
                        }
                    }
                    Node::Element(_) => {
                        if let Some(other) = ElementRef::wrap(child) {
                            let mut item = Vec::new();
                            if is_block(other.value().name()) {
                                block(other, depth + 1, &mut item);
                            } else {
                                let mut run = Vec::new();
                                inline_element(other, depth + 1, false, &mut run);
                                paragraph(&mut run, &mut item);
                            }
                            items.push(item);
                        }
                    }
                    Node::Text(t) if !t.trim().is_empty() => {
                        items.push(vec![Block::Paragraph(vec![Inline::Text(t.to_string())])]);
                    }
                    _ => {}
                }
            }
            items.retain(|i| has_text(i));
            if !items.is_empty() {
                out.push(Block::List {
                    ordered: name == "ol",
                    items,
                });
            }
        }
        // An item outside a list: its content.
        _ => out.extend(blocks(el, depth + 1)),
    }
}

/// The inline content of `parent`'s children.
fn inlines(parent: ElementRef<'_>, depth: usize, in_link: bool, out: &mut Vec<Inline>) {
    for child in parent.children() {
        match child.value() {
            Node::Text(t) => out.push(Inline::Text(t.to_string())),
            Node::Element(_) => {
                if let Some(el) = ElementRef::wrap(child) {
                    inline_element(el, depth, in_link, out);
                }
            }
            _ => {}
        }
    }
}

fn inline_element(el: ElementRef<'_>, depth: usize, in_link: bool, out: &mut Vec<Inline>) {
    if depth >= MAX_DEPTH {
        out.push(Inline::Text(el.text().collect()));
        return;
    }
    let children = |in_link: bool| {
        let mut c = Vec::new();
        inlines(el, depth + 1, in_link, &mut c);
        c
    };
    let e = el.value();
    match e.name() {
        "strong" | "b" => out.push(Inline::Strong(children(in_link))),
        "em" | "i" => out.push(Inline::Emphasis(children(in_link))),
        "del" | "s" | "strike" => out.push(Inline::Strike(children(in_link))),
        "u" => out.push(Inline::Underline(children(in_link))),
        "code" | "pre" => out.push(Inline::Code(el.text().collect())),
        "br" => out.push(Inline::Break),
        "a" => match e.attr("href").filter(|h| !in_link && is_link_target(h)) {
            Some(href) => out.push(Inline::Link {
                href: href.to_owned(),
                children: children(true),
            }),
            None => out.extend(children(in_link)),
        },
        "span" if e.attr("data-mx-spoiler").is_some() => {
            out.push(Inline::Spoiler(children(in_link)))
        }
        // A block inside a line (a quote inside bold): its text on lines of its own.
        name if is_block(name) => {
            out.push(Inline::Break);
            out.extend(children(in_link));
            out.push(Inline::Break);
        }
        _ => out.extend(children(in_link)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_formatting_keeps_absolute_links_only() {
        let clean = sanitize_html(
            "<a href=\"https://example.org/x\">ok</a> <a href=\"/admin\">rel</a> \
             <a href=\"//evil.example/\">proto</a> <code class=\"language-rust\">c</code>",
        );
        assert!(clean.contains("href=\"https://example.org/x\""), "{clean}");
        assert!(
            !clean.contains("/admin") && !clean.contains("evil.example"),
            "{clean}"
        );
        assert!(clean.contains("class=\"language-rust\""), "{clean}");
        assert!(!sanitize_for_display("<code class=\"language-rust\">c</code>").contains("class"));
    }

    #[test]
    fn formatting_is_kept_and_everything_else_is_dropped() {
        assert_eq!(
            sanitize_html("<strong>bold</strong> <em>it</em> <del>no</del> <code>x</code>"),
            "<strong>bold</strong> <em>it</em> <del>no</del> <code>x</code>"
        );
        assert_eq!(
            sanitize_html("<a href=\"https://example.org/a?b=1\">site</a>"),
            "<a href=\"https://example.org/a?b=1\" rel=\"nofollow ugc noopener\">site</a>"
        );
        assert_eq!(
            sanitize_html("<span data-mx-spoiler=\"\" style=\"color:red\">hidden</span>"),
            "<span data-mx-spoiler=\"\">hidden</span>"
        );
        assert_eq!(
            sanitize_html("<script>alert(1)</script><img src=x onerror=alert(1)>ok"),
            "ok"
        );
        assert_eq!(
            sanitize_html("<a href=\"javascript:alert(1)\">x</a>"),
            "<a rel=\"nofollow ugc noopener\">x</a>"
        );
        assert_eq!(
            sanitize_html("<mx-reply><blockquote>parent</blockquote></mx-reply>answer"),
            "answer"
        );
    }

    #[test]
    fn a_mention_keeps_its_name_and_loses_its_link() {
        assert_eq!(
            sanitize_html("hi <a href=\"https://matrix.to/#/@ann:example.org\">Ann</a>"),
            "hi <a rel=\"nofollow ugc noopener\">Ann</a>"
        );
    }

    use Block::*;
    use Inline::*;

    fn text(s: &str) -> Inline {
        Text(s.into())
    }

    #[test]
    fn formatting_is_read_into_the_neutral_form() {
        assert_eq!(
            parse("<strong>bold</strong> <em>it</em> <del>no</del> <code>a&lt;b</code><br>next"),
            vec![Paragraph(vec![
                Strong(vec![text("bold")]),
                text(" "),
                Emphasis(vec![text("it")]),
                text(" "),
                Strike(vec![text("no")]),
                text(" "),
                Code("a<b".into()),
                Break,
                text("next"),
            ])]
        );
        assert_eq!(
            parse("<blockquote>\n<p>said</p>\n</blockquote>\n<p>and <a href=\"https://example.org/?a=1&amp;b=2\">this</a></p>"),
            vec![
                Quote(vec![Paragraph(vec![text("said")])]),
                Paragraph(vec![
                    text("and "),
                    Link {
                        href: "https://example.org/?a=1&b=2".into(),
                        children: vec![text("this")]
                    }
                ]),
            ]
        );
        assert_eq!(
            parse("<pre><code class=\"language-rust\">let x = 1;\n  y\n</code></pre><ul><li>one</li><li><b>two</b></li></ul><ol><li>first</li></ol>"),
            vec![
                CodeBlock("let x = 1;\n  y\n".into()),
                List {
                    ordered: false,
                    items: vec![
                        vec![Paragraph(vec![text("one")])],
                        vec![Paragraph(vec![Strong(vec![text("two")])])],
                    ]
                },
                List {
                    ordered: true,
                    items: vec![vec![Paragraph(vec![text("first")])]]
                },
            ]
        );
        assert_eq!(
            parse("a <span data-mx-spoiler=\"why\">secret</span>"),
            vec![Paragraph(vec![text("a "), Spoiler(vec![text("secret")])])]
        );
        assert_eq!(
            parse("plain, no markup"),
            vec![Paragraph(vec![text("plain, no markup")])]
        );
        assert_eq!(parse("  "), vec![]);
    }

    #[test]
    fn hostile_markup_leaves_only_its_text() {
        assert_eq!(
            parse("<script>alert(1)</script><img src=x onerror=alert(1)><style>p{}</style>ok"),
            vec![Paragraph(vec![text("ok")])]
        );
        assert_eq!(
            parse("<a href=\"javascript:alert(1)\">js</a> <a href=\"/admin\">rel</a> <a href=\"//evil.example/\">proto</a> <a href=\"data:text/html,x\">data</a>"),
            vec![Paragraph(vec![
                text("js"),
                text(" "),
                text("rel"),
                text(" "),
                text("proto"),
                text(" "),
                text("data")
            ])]
        );
        assert_eq!(
            parse("<a href=\"https://matrix.to/#/@room:x\">@room</a>"),
            vec![Paragraph(vec![text("@room")])]
        );
        assert_eq!(
            parse("<iframe src=\"https://evil.example\"></iframe><h1 class=\"note\" style=\"x\">big</h1><table><tr><td>cell</td></tr></table>"),
            vec![Paragraph(vec![text("bigcell")])]
        );
        assert_eq!(
            parse("<a href=\"mailto:ann@example.org\">mail</a>"),
            vec![Paragraph(vec![Link {
                href: "mailto:ann@example.org".into(),
                children: vec![text("mail")]
            }])]
        );
        assert!(!has_text(&parse("<img src=x><br><b> </b>")));
    }

    #[test]
    fn deep_nesting_is_cut_to_its_text() {
        for (open, close) in [
            ("<blockquote>", "</blockquote>"),
            ("<b>", "</b>"),
            ("<ul><li>", "</li></ul>"),
        ] {
            let html = format!("{}deep{}", open.repeat(240), close.repeat(240));
            let blocks = parse(&html);
            fn depth_b(b: &[Block]) -> usize {
                b.iter()
                    .map(|b| match b {
                        Block::Paragraph(i) => depth_i(i),
                        Block::Quote(b) => 1 + depth_b(b),
                        Block::CodeBlock(_) => 1,
                        Block::List { items, .. } => {
                            1 + items.iter().map(|i| depth_b(i)).max().unwrap_or(0)
                        }
                    })
                    .max()
                    .unwrap_or(0)
            }
            fn depth_i(i: &[Inline]) -> usize {
                i.iter()
                    .map(|i| match i {
                        Strong(c) | Emphasis(c) | Strike(c) | Underline(c) | Spoiler(c) => {
                            1 + depth_i(c)
                        }
                        Link { children, .. } => 1 + depth_i(children),
                        _ => 1,
                    })
                    .max()
                    .unwrap_or(0)
            }
            assert!(
                depth_b(&blocks) <= MAX_DEPTH + 2,
                "{open}: {}",
                depth_b(&blocks)
            );
            assert!(has_text(&blocks), "{open}: the text is kept");
        }
    }

    #[test]
    fn a_body_with_too_many_tags_is_not_read() {
        let nested = format!(
            "{}deep{}",
            "<blockquote>".repeat(10_000),
            "</blockquote>".repeat(10_000)
        );
        let started = std::time::Instant::now();
        assert_eq!(parse(&nested), vec![]);
        assert_eq!(parse(&"<b>x</b>".repeat(MAX_TAGS)), vec![]);
        assert!(has_text(&parse(&"<b>x</b>".repeat(MAX_TAGS / 2))));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn only_absolute_web_and_mail_links_are_targets() {
        assert!(is_link_target("https://example.org/"));
        assert!(is_link_target("MAILTO:a@example.org"));
        assert!(!is_link_target("javascript:alert(1)"));
        assert!(!is_link_target("https://exa mple.org"));
        assert!(!is_link_target("/relative"));
        assert!(!is_link_target("https:\\\\evil"));
    }
}
