//! Discord's markdown and the formatted text (a small HTML subset, see [`bot_core::rich`])
//! that messages carry between platforms.
//!
//! - [`to_html`]: a captured message's markdown read with pulldown-cmark (CommonMark with
//!   strikethrough, which is what Discord's markdown mostly is), plus what CommonMark lacks:
//!   `||spoilers||`, single line breaks kept, and `<@id>` mentions written as the person's name.
//!   Raw HTML in a message is text, never markup.
//! - [`from_html`]: formatted text from another platform written as Discord markdown, walking
//!   the sanitised HTML with scraper (html5ever); every piece of text is escaped so it shows as
//!   written.

use std::collections::HashMap;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};
use scraper::{ElementRef, Html, Node};

use crate::format::escape_markdown;

/// The HTML for a Discord message's markdown, or `None` when it has no formatting at all (plain
/// text needs no second form). `names` gives the display names of the users it mentions.
pub fn to_html(text: &str, names: &HashMap<u64, String>) -> Option<String> {
    let text = name_mentions(text, names);
    let mut formatted = false;
    let mut events = Vec::new();
    let mut in_code = false;
    let mut spoiler_open = false;
    for event in Parser::new_ext(&text, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) => events.push(event),
            Event::Start(Tag::CodeBlock(_)) => {
                in_code = true;
                formatted = true;
                events.push(event);
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                events.push(event);
            }
            Event::Text(t) if !in_code && t.contains("||") => {
                // `||` toggles a spoiler; the spans are ours, the text between them is text.
                for (i, piece) in t.split("||").enumerate() {
                    if i > 0 {
                        formatted = true;
                        spoiler_open = !spoiler_open;
                        events.push(Event::InlineHtml(CowStr::Borrowed(if spoiler_open {
                            "<span data-mx-spoiler=\"\">"
                        } else {
                            "</span>"
                        })));
                    }
                    if !piece.is_empty() {
                        events.push(Event::Text(CowStr::from(piece.to_owned())));
                    }
                }
            }
            Event::Text(_) => events.push(event),
            // Discord keeps every line break.
            Event::SoftBreak => {
                formatted = true;
                events.push(Event::HardBreak);
            }
            // What looks like HTML in a Discord message is text.
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            other => {
                formatted = true;
                events.push(other);
            }
        }
    }
    if spoiler_open {
        events.push(Event::InlineHtml(CowStr::Borrowed("</span>")));
    }
    if !formatted {
        return None;
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    let html = html.trim_end();
    // One paragraph reads as a line of text, as other clients send it.
    let html = match html
        .strip_prefix("<p>")
        .and_then(|h| h.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner,
        _ => html,
    };
    Some(bot_core::rich::sanitize_html(html))
}

/// `<@id>` and `<@!id>` become `@Name` (escaped, so a name is never markup); role and channel
/// mentions become plain `@role` and `#channel`; custom emoji `<:name:id>` become `:name:`.
fn name_mentions(text: &str, names: &HashMap<u64, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('>') else {
            out.push_str(after);
            return out;
        };
        let inner = &after[1..end];
        let named = if let Some(id) = inner
            .strip_prefix("@!")
            .or_else(|| inner.strip_prefix('@').filter(|s| !s.starts_with('&')))
        {
            id.parse::<u64>().ok().map(|id| match names.get(&id) {
                Some(name) => format!("@{}", escape_markdown(name)),
                None => "@someone".to_owned(),
            })
        } else if let Some(id) = inner.strip_prefix("@&") {
            id.parse::<u64>().ok().map(|_| "@role".to_owned())
        } else if let Some(id) = inner.strip_prefix('#') {
            id.parse::<u64>().ok().map(|_| "#channel".to_owned())
        } else {
            inner
                .strip_prefix("a:")
                .or_else(|| inner.strip_prefix(':'))
                .and_then(|e| e.split_once(':'))
                .filter(|(_, id)| id.parse::<u64>().is_ok())
                .map(|(name, _)| format!(":{}:", escape_markdown(name)))
        };
        match named {
            Some(named) => out.push_str(&named),
            None => out.push_str(&after[..=end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Discord markdown for formatted text (sanitised HTML).
pub fn from_html(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    let mut out = String::new();
    write_children(fragment.root_element(), &mut out);
    out.trim().to_owned()
}

fn write_children(element: ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(&escape_markdown(text)),
            Node::Element(_) => {
                if let Some(element) = ElementRef::wrap(child) {
                    write_element(element, out);
                }
            }
            _ => {}
        }
    }
}

fn write_element(element: ElementRef<'_>, out: &mut String) {
    let wrap = |marker: &str, out: &mut String| {
        out.push_str(marker);
        write_children(element, out);
        out.push_str(marker);
    };
    match element.value().name() {
        "strong" | "b" => wrap("**", out),
        "em" | "i" => wrap("*", out),
        "u" => wrap("__", out),
        "del" | "s" | "strike" => wrap("~~", out),
        "span" if element.value().attr("data-mx-spoiler").is_some() => wrap("||", out),
        "code" => {
            let code: String = element.text().collect();
            let fence = if code.contains('`') { "``" } else { "`" };
            out.push_str(&format!("{fence}{code}{fence}"));
        }
        "pre" => {
            let code: String = element.text().collect();
            out.push_str(&format!("\n```\n{}\n```\n", code.trim_end_matches('\n')));
        }
        "a" => match element.value().attr("href") {
            Some(href) if href.starts_with("http://") || href.starts_with("https://") => {
                let text: String = element.text().collect();
                if text == href {
                    out.push_str(href);
                } else {
                    out.push('[');
                    write_children(element, out);
                    out.push_str(&format!("]({})", href.replace(')', "%29")));
                }
            }
            _ => write_children(element, out),
        },
        "br" => out.push('\n'),
        "p" => {
            write_children(element, out);
            out.push_str("\n\n");
        }
        "blockquote" => {
            let mut inner = String::new();
            write_children(element, &mut inner);
            for line in inner.trim().lines() {
                out.push_str("> ");
                out.push_str(line);
                out.push('\n');
            }
        }
        "li" => {
            out.push_str("- ");
            write_children(element, out);
            out.push('\n');
        }
        "ul" | "ol" => {
            write_children(element, out);
            out.push('\n');
        }
        "mx-reply" => {}
        _ => write_children(element, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(text: &str) -> Option<String> {
        to_html(text, &HashMap::from([(7, "Ann *Star*".to_owned())]))
    }

    #[test]
    fn plain_text_has_no_formatted_form() {
        assert_eq!(html("just words, 2 < 3"), None);
    }

    #[test]
    fn two_paragraphs_stay_paragraphs() {
        assert_eq!(
            html("one\n\ntwo **b**").unwrap(),
            "<p>one</p>\n<p>two <strong>b</strong></p>"
        );
    }

    #[test]
    fn discord_markdown_becomes_the_html_subset() {
        assert_eq!(
            html("**bold** *it* ~~no~~ `x < y`").unwrap(),
            "<strong>bold</strong> <em>it</em> <del>no</del> <code>x &lt; y</code>"
        );
        assert_eq!(
            html("line one\nline two").unwrap(),
            "line one<br>\nline two"
        );
        assert_eq!(
            html("a ||secret|| b").unwrap(),
            "a <span data-mx-spoiler=\"\">secret</span> b"
        );
        assert_eq!(
            html("> quoted").unwrap(),
            "<blockquote>\n<p>quoted</p>\n</blockquote>"
        );
        assert_eq!(
            html("[site](https://example.org)").unwrap(),
            "<a href=\"https://example.org\" rel=\"nofollow ugc noopener\">site</a>"
        );
        assert_eq!(
            html("```\nlet x = 1;\n```").unwrap(),
            "<pre><code>let x = 1;\n</code></pre>"
        );
    }

    #[test]
    fn mentions_become_names_and_html_stays_text() {
        assert_eq!(
            html("hi <@7> and <@!8>, see <#9> <@&10> <:blob:11> **now**").unwrap(),
            "hi @Ann *Star* and @someone, see #channel @role :blob: <strong>now</strong>"
        );
        assert_eq!(
            html("<b>not bold</b> **bold**").unwrap(),
            "&lt;b&gt;not bold&lt;/b&gt; <strong>bold</strong>"
        );
        assert_eq!(
            html("**x** <script>alert(1)</script>").unwrap(),
            "<strong>x</strong> &lt;script&gt;alert(1)&lt;/script&gt;"
        );
    }

    #[test]
    fn html_becomes_discord_markdown_with_text_escaped() {
        assert_eq!(
            from_html("<strong>bold</strong> <em>it</em> <del>no</del> <code>a*b</code>"),
            "**bold** *it* ~~no~~ `a*b`"
        );
        assert_eq!(
            from_html("<p>one</p><p>two *stars*</p>"),
            "one\n\ntwo \\*stars\\*"
        );
        assert_eq!(
            from_html("<a href=\"https://example.org\">site</a> <a>Ann</a>"),
            "[site](https://example.org) Ann"
        );
        assert_eq!(
            from_html("<span data-mx-spoiler=\"\">secret</span><br>next"),
            "||secret||\nnext"
        );
        assert_eq!(
            from_html("<blockquote>said</blockquote>after"),
            "> said\nafter"
        );
        assert_eq!(
            from_html("<pre><code>x = 1\n</code></pre>"),
            "```\nx = 1\n```"
        );
        assert_eq!(from_html("@everyone <@123>"), "@everyone \\<@123>");
    }
}
