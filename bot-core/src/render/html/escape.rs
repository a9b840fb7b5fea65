//! Escaping text for HTML, the only way transcript content reaches the page.
//!
//! Every string that comes from the transcript (message bodies, names, point texts, notes, ids,
//! URLs) is written through [`text`] or [`attr`]; nothing from the transcript is ever written raw.
//! The output of either is inert: it can't open or close an element, a comment, an attribute or a
//! raw-text element (`</script>`, `</style>`), because `<` and `&` never survive, and inside an
//! attribute value (always double-quoted by the renderer) neither quote survives.
//!
//! Two characters are rewritten so that the text a parser recovers is the text we were given:
//! NUL becomes U+FFFD (parsers drop or replace it anyway, and a NUL in a file trips some tools),
//! and CR is written as `&#13;` (a raw CR would be folded into LF by the parser's newline
//! normalisation). Every other character, including controls, zero-width characters and bidi
//! overrides, is kept as it is; the renderer isolates user text (`<bdi>`, `dir="auto"`, CSS
//! `unicode-bidi: isolate`) so an override can't reorder what follows it.

use std::io::{self, Write};

/// Writes `s` as HTML text content (between tags).
pub fn text<W: Write + ?Sized>(out: &mut W, s: &str) -> io::Result<()> {
    escape(out, s, false)
}

/// Writes `s` as the inside of a double-quoted attribute value.
pub fn attr<W: Write + ?Sized>(out: &mut W, s: &str) -> io::Result<()> {
    escape(out, s, true)
}

fn escape<W: Write + ?Sized>(out: &mut W, s: &str, in_attr: bool) -> io::Result<()> {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // Every byte we replace is ASCII, so `i` is always a char boundary here.
        let replacement: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' if in_attr => b"&quot;",
            b'\'' if in_attr => b"&#39;",
            b'\r' => b"&#13;",
            0 => "\u{FFFD}".as_bytes(),
            _ => continue,
        };
        out.write_all(&bytes[start..i])?;
        out.write_all(replacement)?;
        start = i + 1;
    }
    out.write_all(&bytes[start..])
}

/// `s` escaped as text, as a `String` (for tests and small pieces).
pub fn text_string(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    text(&mut out, s).expect("writing to a Vec does not fail");
    String::from_utf8(out).expect("escaping keeps UTF-8")
}

/// Whether `url` may go into an `<a href>`: an absolute `http:` or `https:` URL with a host,
/// without whitespace or control characters (which browsers strip, and which can smuggle a
/// different scheme past a naive check).
pub fn is_web_url(url: &str) -> bool {
    let lower_scheme = |prefix: &str| {
        url.len() > prefix.len()
            && url.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    (lower_scheme("https://") || lower_scheme("http://"))
        && !url
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
}

/// Whether `src` (from a [`super::MediaResolver`]) may go into an `<img src>` without making a
/// request to anywhere else: a `data:image/…` URI, or a relative path (no scheme, not
/// protocol-relative, no backslash, no control characters).
pub fn is_local_src(src: &str) -> bool {
    if src.is_empty() || src.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return false;
    }
    let bytes = src.as_bytes();
    if bytes.len() > 11 && bytes[..11].eq_ignore_ascii_case(b"data:image/") {
        // SVG can carry script; only raster images inline.
        return !bytes[11..]
            .get(..3)
            .is_some_and(|t| t.eq_ignore_ascii_case(b"svg"));
    }
    if src.starts_with("//") || src.contains('\\') {
        return false;
    }
    // A scheme is letters/digits/+-. before the first ':'; a ':' after a '/', '?' or '#' is fine.
    match src.find([':', '/', '?', '#']) {
        Some(i) => src.as_bytes()[i] != b':',
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr_string(s: &str) -> String {
        let mut out = Vec::new();
        attr(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_markup_in_text() {
        assert_eq!(
            text_string("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert('x') &amp; \"y\"&lt;/script&gt;"
        );
        assert_eq!(text_string("plain text, é ✓"), "plain text, é ✓");
        assert_eq!(text_string(""), "");
        assert_eq!(text_string("&amp;"), "&amp;amp;");
    }

    #[test]
    fn escapes_quotes_in_attributes() {
        assert_eq!(
            attr_string("x\" onerror='alert(1)'"),
            "x&quot; onerror=&#39;alert(1)&#39;"
        );
    }

    #[test]
    fn keeps_carriage_returns_and_replaces_nul() {
        assert_eq!(text_string("a\r\nb\0c"), "a&#13;\nb\u{FFFD}c");
    }

    #[test]
    fn keeps_multibyte_characters_around_replacements() {
        assert_eq!(text_string("é<ü>\u{202E}"), "é&lt;ü&gt;\u{202E}");
    }

    #[test]
    fn only_http_urls_are_links() {
        assert!(is_web_url("https://example.org/a.png"));
        assert!(is_web_url("HTTP://example.org/"));
        assert!(!is_web_url("javascript:alert(1)"));
        assert!(!is_web_url("JaVaScRiPt:alert(1)"));
        assert!(!is_web_url(" https://example.org"));
        assert!(!is_web_url("https://exa\tmple.org"));
        assert!(!is_web_url("https://"));
        assert!(!is_web_url("data:text/html,<script>"));
        assert!(!is_web_url("//example.org/x"));
    }

    #[test]
    fn only_local_sources_are_images() {
        assert!(is_local_src("media/ab/cd.png"));
        assert!(is_local_src("cd.png"));
        assert!(is_local_src("data:image/png;base64,AAAA"));
        assert!(!is_local_src("data:image/svg+xml,<svg onload=alert(1)>"));
        assert!(!is_local_src("https://example.org/x.png"));
        assert!(!is_local_src("//example.org/x.png"));
        assert!(!is_local_src("javascript:alert(1)"));
        assert!(!is_local_src("data:text/html,x"));
        assert!(!is_local_src(""));
        assert!(!is_local_src("a b.png"));
        assert!(is_local_src("éééééééé.png"));
        assert!(!is_web_url("éééééééé"));
    }
}
