//! matrix.to links: to a person (a mention's pill) and to an event (a message's permalink,
//! recorded with it for transcripts).

/// `https://matrix.to/#/<id>`, or `…/<room>/<event>` for an event.
pub fn matrix_to(parts: &[&str]) -> String {
    let mut link = String::from("https://matrix.to/#");
    for part in parts {
        link.push('/');
        link.push_str(&percent_encode_component(part));
    }
    link
}

/// Percent-encodes one component of a matrix.to link (RFC 3986: everything but the unreserved
/// characters, and `!`, which the Matrix specification's own examples leave as it is). The
/// result needs no further escaping in an HTML attribute. (The migration that gave messages
/// archived earlier their permalinks does the same in SQL for the characters Matrix ids use.)
pub fn percent_encode_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encodes_matrix_ids() {
        assert_eq!(
            percent_encode_component("!room:example.org"),
            "!room%3Aexample.org"
        );
        assert_eq!(percent_encode_component("$ev/+="), "%24ev%2F%2B%3D");
        assert_eq!(percent_encode_component("é"), "%C3%A9");
    }

    #[test]
    fn links_name_a_person_or_an_event_in_a_room() {
        assert_eq!(
            matrix_to(&["@ann:x.org"]),
            "https://matrix.to/#/%40ann%3Ax.org"
        );
        assert_eq!(
            matrix_to(&["!r:x.org", "$e1"]),
            "https://matrix.to/#/!r%3Ax.org/%24e1"
        );
    }
}
