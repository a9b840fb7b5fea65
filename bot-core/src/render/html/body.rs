//! Message bodies on the page.
//!
//! A formatted body is drawn from its neutral form ([`crate::rich::parse`], which sanitises the
//! stored HTML first): the renderer writes its own tags for what was bold, a link, code, a
//! quote, a spoiler, and every text through [`escape`](super::escape). A plain body is escaped
//! text whose bare `http(s)` addresses (found by `linkify`) become links. Either way nothing a
//! participant wrote reaches the page as markup, and the only attributes are the renderer's.

use std::io::{self, Write};

use linkify::{LinkFinder, LinkKind};

use super::escape::{self, attr, text};
use crate::rich::{self, Block, Inline};

/// What follows `<a href="…"` on a link a participant wrote.
const USER_LINK_REL: &str = r#"" rel="nofollow ugc noopener" referrerpolicy="no-referrer">"#;

/// Plain text, escaped, with its web addresses as links. Line breaks are the page's
/// (`white-space: pre-wrap` on `.body`).
pub(super) fn plain<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    if !s.contains("://") {
        return text(w, s);
    }
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    for span in finder.spans(s) {
        let piece = span.as_str();
        if span.kind() == Some(&LinkKind::Url) && escape::is_web_url(piece) {
            w.write_all(b"<a href=\"")?;
            attr(w, piece)?;
            w.write_all(USER_LINK_REL.as_bytes())?;
            text(w, piece)?;
            w.write_all(b"</a>")?;
        } else {
            text(w, piece)?;
        }
    }
    Ok(())
}

/// Formatted text: one paragraph is written as its line (no `<p>`), more as blocks.
pub(super) fn formatted<W: Write>(w: &mut W, blocks: &[Block]) -> io::Result<()> {
    match blocks {
        [Block::Paragraph(inlines)] => inline_all(w, inlines),
        _ => block_all(w, blocks),
    }
}

fn block_all<W: Write>(w: &mut W, blocks: &[Block]) -> io::Result<()> {
    for b in blocks {
        match b {
            Block::Paragraph(inlines) => {
                w.write_all(b"<p>")?;
                inline_all(w, inlines)?;
                w.write_all(b"</p>")?;
            }
            Block::Quote(inner) => {
                w.write_all(b"<blockquote>")?;
                block_all(w, inner)?;
                w.write_all(b"</blockquote>")?;
            }
            Block::CodeBlock(code) => {
                w.write_all(b"<pre><code>")?;
                text(w, code)?;
                w.write_all(b"</code></pre>")?;
            }
            Block::List { ordered, items } => {
                w.write_all(if *ordered { b"<ol>" } else { b"<ul>" })?;
                for item in items {
                    w.write_all(b"<li>")?;
                    formatted(w, item)?;
                    w.write_all(b"</li>")?;
                }
                w.write_all(if *ordered { b"</ol>" } else { b"</ul>" })?;
            }
        }
    }
    Ok(())
}

fn inline_all<W: Write>(w: &mut W, inlines: &[Inline]) -> io::Result<()> {
    for i in inlines {
        inline(w, i)?;
    }
    Ok(())
}

fn inline<W: Write>(w: &mut W, i: &Inline) -> io::Result<()> {
    let wrap = |w: &mut W, open: &[u8], close: &[u8], children: &[Inline]| {
        w.write_all(open)?;
        inline_all(w, children)?;
        w.write_all(close)
    };
    match i {
        Inline::Text(t) => text(w, t),
        Inline::Strong(c) => wrap(w, b"<strong>", b"</strong>", c),
        Inline::Emphasis(c) => wrap(w, b"<em>", b"</em>", c),
        Inline::Strike(c) => wrap(w, b"<del>", b"</del>", c),
        Inline::Underline(c) => wrap(w, b"<u>", b"</u>", c),
        Inline::Code(code) => {
            w.write_all(b"<code>")?;
            text(w, code)?;
            w.write_all(b"</code>")
        }
        Inline::Link { href, children } if rich::is_link_target(href) => {
            w.write_all(b"<a href=\"")?;
            attr(w, href)?;
            w.write_all(USER_LINK_REL.as_bytes())?;
            inline_all(w, children)?;
            w.write_all(b"</a>")
        }
        Inline::Link { children, .. } => inline_all(w, children),
        // Hidden until hovered or clicked (focused): CSS only (`.spoiler` in transcript.css).
        Inline::Spoiler(c) => wrap(
            w,
            b"<span class=\"spoiler\" tabindex=\"0\" title=\"Spoiler: click to show\">",
            b"</span>",
            c,
        ),
        Inline::Break => w.write_all(b"<br>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain_string(s: &str) -> String {
        let mut out = Vec::new();
        plain(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn formatted_string(html: &str) -> String {
        let mut out = Vec::new();
        formatted(&mut out, &rich::parse(html)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn bare_web_addresses_in_plain_text_become_links() {
        assert_eq!(
            plain_string("see https://example.org/a?b=1&c=2. <b>not bold</b>\nnext"),
            "see <a href=\"https://example.org/a?b=1&amp;c=2\" rel=\"nofollow ugc noopener\" \
             referrerpolicy=\"no-referrer\">https://example.org/a?b=1&amp;c=2</a>. \
             &lt;b&gt;not bold&lt;/b&gt;\nnext"
        );
        assert_eq!(
            plain_string("javascript://x ftp://example.org/ www.example.org a@example.org"),
            "javascript://x ftp://example.org/ www.example.org a@example.org"
        );
        assert_eq!(plain_string("no links <here>"), "no links &lt;here&gt;");
    }

    #[test]
    fn formatting_is_drawn_with_the_renderers_own_tags() {
        assert_eq!(
            formatted_string("<b>bold</b> <i>it</i> <s>no</s> <u>u</u> <code>a&lt;b</code><br>x"),
            "<strong>bold</strong> <em>it</em> <del>no</del> <u>u</u> <code>a&lt;b</code><br>x"
        );
        assert_eq!(
            formatted_string("<blockquote><p>q</p></blockquote><p>a</p><pre><code class=\"language-x\">1 &lt; 2\n</code></pre>"),
            "<blockquote><p>q</p></blockquote><p>a</p><pre><code>1 &lt; 2\n</code></pre>"
        );
        assert_eq!(
            formatted_string(
                "<a href=\"https://example.org/\" class=\"note\" onclick=\"x()\">site</a>"
            ),
            "<a href=\"https://example.org/\" rel=\"nofollow ugc noopener\" \
             referrerpolicy=\"no-referrer\">site</a>"
        );
        assert_eq!(
            formatted_string("<span data-mx-spoiler>secret</span>"),
            "<span class=\"spoiler\" tabindex=\"0\" title=\"Spoiler: click to show\">secret</span>"
        );
        assert_eq!(
            formatted_string("<ol><li>one</li><li>two<br>lines</li></ol>"),
            "<ol><li>one</li><li>two<br>lines</li></ol>"
        );
    }
}
