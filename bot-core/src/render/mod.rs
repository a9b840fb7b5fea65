//! Turning the store's contents into text people read.

pub mod html;
pub mod markdown;
pub mod plain;

/// When the session took place, as every format's header says it, in the chat's zone: the
/// day, the start and end times and how long it lasted (`Tuesday 1 December 2026, 19:00–20:12
/// GMT (1 h 12 min)`); a session not yet ended says where it stands instead.
pub fn when_phrase(t: &crate::transcript::Transcript) -> String {
    let zone: chrono_tz::Tz = t.chat.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let start = t
        .session
        .started_at
        .unwrap_or(t.session.scheduled_start)
        .with_timezone(&zone);
    let day = start.format("%A %-d %B %Y, %H:%M").to_string();
    let Some(end) = t
        .session
        .ended_at
        .filter(|_| t.session.started_at.is_some())
    else {
        let state = match t.session.state.as_str() {
            "running" | "paused" => "still running",
            "ended" => "ended",
            "cancelled" => "cancelled",
            "missed" => "missed",
            _ => "to come",
        };
        return format!("{day} {} ({state})", start.format("%Z"));
    };
    let end = end.with_timezone(&zone);
    let until = if end.date_naive() == start.date_naive() {
        end.format("%H:%M %Z").to_string()
    } else {
        end.format("%A %-d %B, %H:%M %Z").to_string()
    };
    format!("{day}–{until} ({})", duration_words(end - start))
}

/// How long something lasted, to the minute: `45 min`, `1 h`, `1 h 12 min`.
pub fn duration_words(took: chrono::Duration) -> String {
    let minutes = took.num_minutes().max(0);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// `1 message`, `2 messages`: every count the bot writes agrees in number.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Whether `c` is a bidirectional control: one that can make text read differently from what
/// it is (an override, an isolate, a mark).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Pushes `c` as a reader should see it: bidirectional controls, which could make the text
/// read differently from what it is, are shown instead of obeyed (`⟨U+202E⟩`), and other
/// control characters become U+FFFD. The HTML page isolates text instead (`<bdi>`).
fn push_shown(out: &mut String, c: char) {
    match c {
        c if is_bidi_control(c) => {
            use std::fmt::Write;
            let _ = write!(out, "⟨U+{:04X}⟩", c as u32);
        }
        c if c.is_control() => out.push('\u{FFFD}'),
        c => out.push(c),
    }
}
