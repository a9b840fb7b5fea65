//! Plain-text rendering: posts as the loopback adapter shows them, and a session's transcript
//! as the demo and `hashchat transcript` print it.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::chat::Chat;
use crate::model::{PostContent, PostKind, Session, StoredMessage};

/// A time as people in the chat's zone read it: `Tue 1 Dec 2026, 19:00 GMT`.
pub fn format_local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

/// A step's post as plain text: `Q3: What do you … #interlibnet`.
pub fn post_text(content: &PostContent) -> String {
    let label = match content.kind {
        PostKind::Reminder => "Reminder".to_owned(),
        PostKind::Intro => "Intro".to_owned(),
        PostKind::Point { number } => format!("Q{number}"),
        PostKind::WrapUp => "Wrap-up".to_owned(),
    };
    let mut text = format!("{label}: {} {}", content.text, content.hashtag);
    if !content.mentions.is_empty() {
        let _ = write!(text, " (cc {})", content.mentions.join(", "));
    }
    text
}

/// The whole session as text: each point with the answers under it.
///
/// Deleted messages are left out; edited ones show their current text marked `(edited)`.
pub fn render_session(session: &Session, chat: &Chat, messages: &[StoredMessage]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}), session {}",
        chat.title, chat.hashtag, session.id
    );
    let _ = writeln!(
        out,
        "{}, {}",
        format_local(
            session.started_at.unwrap_or(session.scheduled_start),
            chat.zone
        ),
        session.state
    );
    let visible: Vec<&StoredMessage> = messages.iter().filter(|m| m.deleted_at.is_none()).collect();
    let section = |title: String, point: Option<u32>, out: &mut String| {
        let answers: Vec<&&StoredMessage> = visible.iter().filter(|m| m.point == point).collect();
        if point.is_none() && answers.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n{title}");
        for m in answers {
            let edited = if m.edits.is_empty() { "" } else { " (edited)" };
            let time = m.message.sent_at.with_timezone(&chat.zone).format("%H:%M");
            let body = one_line(&m.message.body);
            let _ = writeln!(
                out,
                "  [{time}] {}: {body}{edited}",
                one_line(&m.message.author_name)
            );
        }
    };
    section("Before the first point".to_owned(), None, &mut out);
    for (i, point) in chat.points.iter().enumerate() {
        let n = i as u32 + 1;
        section(
            format!("Q{n}: {}", one_line(&point.text)),
            Some(n),
            &mut out,
        );
    }
    let _ = writeln!(out, "\n{} messages", visible.len());
    out
}

/// Folds line breaks and control characters so one message stays on one line of a terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
