//! Turning the store's contents into text people read.

pub mod html;
pub mod markdown;
pub mod plain;

/// `1 message`, `2 messages`: every count the bot writes agrees in number.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Pushes `c` as a reader should see it: bidirectional controls, which could make the text
/// read differently from what it is, are shown instead of obeyed (`⟨U+202E⟩`), and other
/// control characters become U+FFFD. The HTML page isolates text instead (`<bdi>`).
fn push_shown(out: &mut String, c: char) {
    match c {
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => {
            use std::fmt::Write;
            let _ = write!(out, "⟨U+{:04X}⟩", c as u32);
        }
        c if c.is_control() => out.push('\u{FFFD}'),
        c => out.push(c),
    }
}
