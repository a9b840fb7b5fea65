//! Plain-text rendering: posts as the loopback adapter shows them, and a session's transcript
//! as the demo and `hashchat transcript` print it.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::model::{PostContent, PostKind};
use crate::transcript::Transcript;

/// A time as people in the chat's zone read it: `Tue 1 Dec 2026, 19:00 GMT`.
pub fn format_local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

/// What a step's post starts with: `Reminder`, `Intro`, `Q3`, `Wrap-up`.
pub fn post_label(kind: PostKind) -> String {
    match kind {
        PostKind::Reminder => "Reminder".to_owned(),
        PostKind::Intro => "Intro".to_owned(),
        PostKind::Point { number } => format!("Q{number}"),
        PostKind::WrapUp => "Wrap-up".to_owned(),
    }
}

/// A step's post as plain text: `Q3: What do you … #interlibnet`.
pub fn post_text(content: &PostContent) -> String {
    let label = post_label(content.kind);
    let mut text = format!("{label}: {} {}", content.text, content.hashtag);
    if !content.mentions.is_empty() {
        let _ = write!(text, " (cc {})", content.mentions.join(", "));
    }
    text
}

/// The whole session as text: each point with the answers under it.
///
/// Read from the transcript, so curation holds here too: hidden messages are left out and an
/// opted-out person's words read as withheld. Edited messages show their current text marked
/// `(edited)`; curator notes follow their point's answers. Messages are in the order they were
/// written, whatever room they were written in; when they come from more than one platform
/// each says which (`[19:02] Ann (Matrix): …`). Bodies are plain text: formatting is not shown.
pub fn render_session(t: &Transcript) -> String {
    let zone: Tz = t.chat.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}), session {}",
        one_line(&t.chat.title),
        one_line(&t.chat.hashtag),
        t.session.uid
    );
    let _ = writeln!(
        out,
        "{}, {}",
        format_local(
            t.session.started_at.unwrap_or(t.session.scheduled_start),
            zone
        ),
        t.session.state
    );
    let shown: Vec<_> = t.shown_messages().collect();
    // Where each message was written, when that differs between messages.
    let several_platforms = t.platforms().len() > 1;
    let section = |title: String, point: Option<u32>, out: &mut String| {
        let answers: Vec<_> = shown.iter().filter(|m| m.point == point).collect();
        let notes: Vec<_> = t.notes.iter().filter(|n| n.point == point).collect();
        if point.is_none() && answers.is_empty() && notes.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n{title}");
        for m in answers {
            let edited = if m.edited_at.is_some() {
                " (edited)"
            } else {
                ""
            };
            let time = m.sent_at.with_timezone(&zone).format("%H:%M");
            let place = if several_platforms {
                format!(
                    " ({})",
                    one_line(m.platform_label.as_deref().unwrap_or(&m.platform))
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  [{time}] {}{place}: {}{edited}",
                one_line(&m.author.name),
                one_line(&m.body)
            );
        }
        for note in notes {
            let _ = writeln!(
                out,
                "  Note from {}: {}",
                one_line(&note.by),
                one_line(&note.text)
            );
        }
    };
    section("Before the first point".to_owned(), None, &mut out);
    for point in &t.points {
        section(
            format!("Q{}: {}", point.number, one_line(&point.text)),
            Some(point.number),
            &mut out,
        );
    }
    let _ = writeln!(out, "\n{} messages", shown.len());
    out
}

/// Folds line breaks and control characters so one message stays on one line of a terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
