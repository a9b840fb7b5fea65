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

/// Every point a message answers with a tag of its own, in the order written: the prefix
/// ([`answer_prefix`]), then each further tag that begins a line, follows the end of a sentence
/// (`.`, `!`, `?`, `;`, `/`, `|` and a space), or is written with its own `:` or `)` (`… A6:
/// …`). Only a message that begins with a tag has further ones: "I think A3 is right" names a
/// point, it does not answer it. Repeats are dropped.
pub fn answer_tags(body: &str) -> Vec<u32> {
    let Some(first) = answer_prefix(body) else {
        return Vec::new();
    };
    let mut tags = vec![first];
    let chars: Vec<(usize, char)> = body.char_indices().collect();
    for (k, &(at, c)) in chars.iter().enumerate() {
        if !matches!(c, 'A' | 'a') || k == 0 {
            continue;
        }
        // What comes before the tag, past any emphasis around it.
        let mut b = k;
        while b > 0 && matches!(chars[b - 1].1, '*' | '_') {
            b -= 1;
        }
        let line_start = b == 0 || chars[b - 1].1 == '\n';
        let spaced = b > 0 && chars[b - 1].1.is_whitespace();
        let after_sentence =
            spaced && b > 1 && matches!(chars[b - 2].1, '.' | '!' | '?' | ';' | '/' | '|' | '\n');
        if !(line_start || spaced) {
            continue;
        }
        let rest = &body[at..];
        let Some(n) = answer_prefix(rest) else {
            continue;
        };
        let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
        let own_mark = rest[1 + digits..]
            .trim_start_matches(['*', '_'])
            .starts_with([':', ')']);
        if (line_start || after_sentence || own_mark) && !tags.contains(&n) {
            tags.push(n);
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::{answer_prefix, answer_tags};

    #[test]
    fn a_message_can_answer_several_points_with_tags_of_their_own() {
        assert_eq!(answer_tags("A1 events mostly. A6 the same as A1"), [1, 6]);
        assert_eq!(answer_tags("A1: yes A2: no A3) maybe"), [1, 2, 3]);
        assert_eq!(answer_tags("**A2** bold\n**A4** on its own line"), [2, 4]);
        assert_eq!(answer_tags("A2 line one\nA5 line two\nA2 again"), [2, 5]);
        assert_eq!(
            answer_tags("A3 I agree with what A1 said"),
            [3],
            "a mention"
        );
        assert_eq!(
            answer_tags("I think A3 is right. A4: and this"),
            Vec::<u32>::new()
        );
        assert_eq!(answer_tags("A1 the A4rd floor"), [1]);
        assert_eq!(answer_tags("no tags at all"), Vec::<u32>::new());
    }

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
