//! Plain-text rendering: posts as the loopback adapter shows them, and a session's transcript
//! as the demo and `hashchat transcript` print it.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::model::{PostContent, PostKind, SessionId};
use crate::transcript::{MessageRecord, Transcript};

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
        PostKind::Notice => "Notice".to_owned(),
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

/// The whole session as text: each point with the answers under it; `number` is the session's
/// number in this installation (the one people see).
///
/// Read from the transcript, so curation holds here too: hidden messages are left out and an
/// opted-out person's words read as withheld. Edited messages show their current text marked
/// `(edited)`, replies name whom they answer, highlights are starred and reactions counted;
/// curator notes follow their point's answers. Messages are in the order they were written,
/// whatever room they were written in; when they come from more than one platform each says
/// which (`[19:02] Ann (Matrix): …`). Bodies are plain text: formatting is not shown, and
/// control characters that could make a line read differently from what it is (bidi
/// overrides) are shown as their code (`⟨U+202E⟩`), as in Markdown.
pub fn render_session(t: &Transcript, number: SessionId) -> String {
    let zone: Tz = t.chat.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}), session {number}",
        one_line(&t.chat.title),
        one_line(&t.chat.hashtag),
    );
    let _ = writeln!(out, "{}", one_line(&super::when_phrase(t)));
    if let Some(host) = &t.session.host {
        let _ = writeln!(out, "Hosted by {}", one_line(&host.name));
    }
    let shown: Vec<_> = t.shown_messages().collect();
    let highlighted: Vec<&str> = t.highlights.iter().map(|h| h.message.as_str()).collect();
    // Where each message was written, when that differs between messages.
    let several_platforms = t.spans_platforms();
    // Replies name their parent's author: looked up, not searched for, in a long session.
    let by_key: std::collections::HashMap<(&str, &str), &MessageRecord> = shown
        .iter()
        .map(|m| ((m.platform.as_str(), m.platform_message_id.as_str()), *m))
        .collect();
    let author_of = |m: &MessageRecord, parent: &str| -> Option<String> {
        by_key
            .get(&(m.platform.as_str(), parent))
            .map(|p| one_line(&p.author.name))
    };
    let section = |title: String, point: Option<u32>, out: &mut String| {
        let answers: Vec<_> = t.shown_under(point).collect();
        let notes: Vec<_> = t.notes.iter().filter(|n| n.point == point).collect();
        if point.is_none() && answers.is_empty() && notes.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n{title}");
        for m in answers {
            let time = m.sent_at.with_timezone(&zone).format("%H:%M");
            let star = if highlighted.contains(&m.key().as_str()) {
                "★ "
            } else {
                ""
            };
            let place = if several_platforms {
                format!(
                    " ({})",
                    one_line(m.platform_label.as_deref().unwrap_or(&m.platform))
                )
            } else {
                String::new()
            };
            let replying = match m.reply_to.as_deref() {
                Some(parent) => match author_of(m, parent) {
                    Some(name) => format!(", replying to {name}"),
                    None => t
                        .post_replied_to(parent)
                        .map(|post| format!(", replying to {post}"))
                        .unwrap_or_default(),
                },
                None => String::new(),
            };
            let edited = if m.edited_at.is_some() {
                " (edited)"
            } else {
                ""
            };
            let marks: String = t
                .answer_marks(m, point)
                .iter()
                .map(|mark| format!(" [{mark}]"))
                .collect();
            let _ = writeln!(
                out,
                "  [{time}] {star}{}{place}{replying}: {}{edited}{marks}",
                one_line(&m.author.name),
                one_line(&m.body)
            );
            for a in &m.attachments {
                let _ = writeln!(out, "      📎 {} <{}>", one_line(&a.name), one_line(&a.url));
            }
            if !m.reactions.is_empty() {
                let counts: Vec<String> = m
                    .reactions
                    .iter()
                    .map(|r| format!("{} {}", one_line(&r.key), r.count))
                    .collect();
                let _ = writeln!(out, "      Reactions: {}", counts.join(" · "));
            }
        }
        for note in notes {
            let _ = writeln!(
                out,
                "  Note from {}: {}",
                one_line(note.credit()),
                one_line(&note.text)
            );
        }
    };
    section("Introduction".to_owned(), None, &mut out);
    for point in &t.points {
        let reached = if point.posted_at.is_some() {
            ""
        } else {
            " (not reached)"
        };
        section(
            format!("Q{}: {}{reached}", point.number, one_line(&point.text)),
            Some(point.number),
            &mut out,
        );
    }
    let _ = writeln!(
        out,
        "\n{}",
        super::count(shown.len() as u64, "message", "messages")
    );
    out
}

/// One line of a terminal as the text reads: line breaks and tabs are spaces, bidirectional
/// controls are shown as their code, and other control characters become U+FFFD.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c => super::push_shown(&mut out, c),
        }
    }
    out
}
