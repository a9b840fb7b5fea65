//! Reading the `A3` answer convention.

/// The point number a message claims to answer with an `A3`, `A3:`, `A3)` (also `a3`, `A3.`,
/// `A3 -`) prefix, if it has one. Light Markdown emphasis around the tag (`**A3**`) is allowed
/// because people bold their tags.
pub fn answer_prefix(body: &str) -> Option<u32> {
    let text = body.trim_start();
    let text = text.trim_start_matches(['*', '_']);
    let rest = text.strip_prefix(['A', 'a'])?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 4 {
        return None;
    }
    let (number, after) = rest.split_at(digits);
    let after = after.trim_start_matches(['*', '_']);
    let ends_tag = match after.chars().next() {
        None => true,
        Some(c) => c.is_whitespace() || matches!(c, ':' | ')' | '.' | '-' | ',' | '—' | '–'),
    };
    if !ends_tag {
        return None;
    }
    number.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::answer_prefix;

    #[test]
    fn recognises_the_usual_answer_tags() {
        assert_eq!(answer_prefix("A3 we use Mastodon"), Some(3));
        assert_eq!(answer_prefix("A3: we use Mastodon"), Some(3));
        assert_eq!(answer_prefix("A3) we use Mastodon"), Some(3));
        assert_eq!(answer_prefix("  a12. lowercase works"), Some(12));
        assert_eq!(answer_prefix("**A2** bold tag"), Some(2));
        assert_eq!(answer_prefix("A4"), Some(4));
    }

    #[test]
    fn ignores_words_that_only_start_like_a_tag() {
        assert_eq!(answer_prefix("A3rd floor is closed"), None);
        assert_eq!(answer_prefix("Answer: yes"), None);
        assert_eq!(answer_prefix("A0: zero is no point"), None);
        assert_eq!(answer_prefix("I think A3 is right"), None);
        assert_eq!(answer_prefix("A99999: too long"), None);
        assert_eq!(answer_prefix(""), None);
        assert_eq!(answer_prefix("A"), None);
    }
}
