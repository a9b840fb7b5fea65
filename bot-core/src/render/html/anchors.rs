//! Message anchors: `m-<platform>-<platform message id>`, limited to `[A-Za-z0-9_-]`.
//!
//! An id made only of those characters is used as it is (`m-discord-1182736450912`), so most
//! links read well and never change. Any other character becomes `_`, and because that loses
//! information (`a.b` and `a:b` would meet) such an anchor also gets `-h` and eight hex digits
//! of a hash of the exact `platform:id` (`m-matrix-_Ab3_example_org-h1f09c2e4`): it depends on
//! the message alone, so it is the same in every rendering. If two messages still end up with
//! one anchor (only a hash collision or a contrived id can do that), the later ones in the
//! transcript's order get `-2`, `-3`…, which is deterministic for a given transcript.

use std::collections::HashSet;

use crate::transcript::MessageRecord;

/// FNV-1a, 64-bit, over the concatenation of `parts`.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn push_sanitised(out: &mut String, s: &str) -> bool {
    let mut lossy = s.is_empty();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else {
            out.push('_');
            lossy = true;
        }
    }
    lossy
}

/// The anchor of a message, before de-duplication against the rest of the transcript.
pub fn message_anchor(platform: &str, id: &str) -> String {
    let mut out = String::with_capacity(4 + platform.len() + id.len());
    out.push_str("m-");
    let mut lossy = push_sanitised(&mut out, platform);
    out.push('-');
    lossy |= push_sanitised(&mut out, id);
    if lossy {
        let h = fnv1a(&[platform.as_bytes(), b":", id.as_bytes()]);
        out.push_str(&format!("-h{:08x}", h as u32));
    }
    out
}

/// The anchor of every shown message, by position; hidden messages get an empty string.
pub(super) fn assign(messages: &[MessageRecord]) -> Vec<String> {
    let mut anchors: Vec<String> = messages
        .iter()
        .map(|m| {
            if m.is_shown() {
                message_anchor(&m.platform, &m.platform_message_id)
            } else {
                String::new()
            }
        })
        .collect();
    let mut seen: HashSet<String> = HashSet::with_capacity(anchors.len());
    for a in anchors.iter_mut().filter(|a| !a.is_empty()) {
        if seen.contains(a.as_str()) {
            let mut k = 2;
            let unique = loop {
                let candidate = format!("{a}-{k}");
                if !seen.contains(&candidate) {
                    break candidate;
                }
                k += 1;
            };
            *a = unique;
        }
        seen.insert(a.clone());
    }
    anchors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_ids_are_kept() {
        assert_eq!(message_anchor("discord", "1182736"), "m-discord-1182736");
        assert_eq!(message_anchor("web", "a_b-C9"), "m-web-a_b-C9");
    }

    #[test]
    fn other_characters_are_replaced_and_hashed() {
        let a = message_anchor("matrix", "$abc:example.org");
        assert!(a.starts_with("m-matrix-_abc_example_org-h"), "{a}");
        assert_eq!(a.len(), "m-matrix-_abc_example_org-h".len() + 8);
        assert_eq!(a, message_anchor("matrix", "$abc:example.org"));
        assert_ne!(
            message_anchor("matrix", "$a.b"),
            message_anchor("matrix", "$a:b")
        );
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert!(message_anchor("x", "\"><script>").starts_with("m-x-__"));
        assert!(message_anchor("x", "").starts_with("m-x--h"));
    }
}
