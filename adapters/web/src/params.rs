//! Strict validation of everything a request names. A route parameter that fails is a 404; a
//! query parameter that fails is a 400 with a short plain message.

use std::collections::HashMap;

use chrono::NaiveDate;

/// A session uid: exactly 32 lowercase hex digits.
pub fn uid(s: &str) -> Option<&str> {
    (s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(s)
}

/// A chat slug: 1 to 32 of `[a-z0-9-]`.
pub fn slug(s: &str) -> Option<&str> {
    (!s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    .then_some(s)
}

/// A date `YYYY-MM-DD`.
pub fn date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A page number, 1 to 100,000.
pub fn page(s: &str) -> Option<usize> {
    if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| (1..=100_000).contains(&n))
}

/// The query string as a map, refusing undecodable input and repeated keys. Only keys in
/// `accepted` are kept; others are refused too, so a typo is an error, not silently ignored.
pub fn query(raw: Option<&str>, accepted: &[&str]) -> Result<HashMap<String, String>, String> {
    let raw = raw.unwrap_or("");
    if raw.len() > 16 * 1024 {
        return Err("query string too long".into());
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|_| "malformed query string".to_string())?;
    let mut out = HashMap::new();
    for (k, v) in pairs {
        // Undecodable percent-escapes come out as U+FFFD.
        if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
            return Err("malformed query string".into());
        }
        if !accepted.contains(&k.as_str()) {
            return Err(format!(
                "unknown parameter (accepted: {})",
                accepted.join(", ")
            ));
        }
        if out.insert(k, v).is_some() {
            return Err("a parameter is given twice".into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_strict() {
        assert!(uid("0123456789abcdef0123456789abcdef").is_some());
        for bad in [
            "",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "../../../../../../../etc/passwd00",
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert!(uid(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn slugs_dates_pages() {
        assert!(slug("interlibnet-2").is_some());
        for bad in ["", "A", "a/b", "..", "a.b", &"a".repeat(33), "é"] {
            assert!(slug(bad).is_none(), "{bad}");
        }
        assert!(date("2026-12-01").is_some());
        for bad in ["2026-13-01", "2026-1-1", "+2026-12-01", "x", "2026-02-30"] {
            assert!(date(bad).is_none(), "{bad}");
        }
        assert_eq!(page("3"), Some(3));
        for bad in ["0", "-1", "+1", "1e3", "9999999", ""] {
            assert!(page(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn queries_refuse_repeats_unknown_keys_and_bad_encoding() {
        let q = query(Some("chat=a&page=2"), &["chat", "page"]).unwrap();
        assert_eq!(q["chat"], "a");
        assert!(query(Some("chat=a&chat=b"), &["chat"]).is_err());
        assert!(query(Some("x=1"), &["chat"]).is_err());
        assert!(query(Some("chat=%ff"), &["chat"]).is_err());
        assert!(query(None, &["chat"]).unwrap().is_empty());
    }
}
