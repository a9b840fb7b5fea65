//! Formatted message text as it travels between platforms: a small, safe subset of HTML (what
//! Matrix calls `org.matrix.custom.html`), which each adapter converts from and to its own
//! markup. [`sanitize_html`] is the gate every formatted body passes before it is relayed:
//! ammonia (a well-kept sanitiser on html5ever) keeps only the formatting people write with
//! and drops everything else, so nothing a participant sends can become a script, a style, an
//! image from elsewhere, or a mention that notifies someone on the platform it is copied to.

use std::collections::{HashMap, HashSet};

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

/// Keeps only [`TAGS`], `href` on links (http, https and mailto only, opened with
/// `rel="nofollow ugc noopener"`), `data-mx-spoiler` on spans, and a code block's language
/// class; strips every other tag (keeping its text), attribute and comment, and Matrix's
/// reply fallback (`<mx-reply>`, which repeats the parent).
pub fn sanitize_html(html: &str) -> String {
    let mut attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
    attributes.insert("a", HashSet::from(["href"]));
    attributes.insert("span", HashSet::from(["data-mx-spoiler"]));
    attributes.insert("code", HashSet::from(["class"]));
    ammonia::Builder::empty()
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(HashSet::from(["mx-reply", "script", "style"]))
        .tag_attributes(attributes)
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("nofollow ugc noopener"))
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("a", "href") if value.starts_with(MENTION_LINK) => None,
            ("code", "class") if !value.starts_with("language-") => None,
            _ => Some(value.into()),
        })
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
