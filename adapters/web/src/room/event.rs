//! What a browser room is shown, as kept in its log (the store's local room events, whose
//! bodies are these as JSON), and how each is drawn: as HTML the page writes and the live
//! stream sends, so a message looks the same whether it came with the page or after it.
//! Everything a person wrote goes through the transcript's own renderer
//! ([`bot_core::render::html::message_body`]) or [`esc`].

use std::fmt::Write as _;

use bot_core::render::html::message_body;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::page::esc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A session step the bot posted (`Q1`, the intro, …).
    Post {
        label: String,
        text: String,
        hashtag: String,
    },
    /// A participant's message: written here (`author_id` set, no `origin`) or copied from
    /// another room of the session (`origin` is where, as people know it).
    Message {
        author: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        formatted_body: Option<String>,
        /// The event in this room it answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<i64>,
        /// Files the original carried, by name (the room shows no one's uploads inline).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<String>,
    },
    /// Someone reacted to a message of this room.
    Reaction {
        author: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<i64>,
    },
    /// A message of this room now says this.
    Edit {
        target: i64,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        formatted_body: Option<String>,
    },
    /// A message of this room was deleted (or hidden by a moderator).
    Delete { target: i64 },
    /// The bot's answer to a command.
    Answer { text: String },
    /// A command someone ran here, shown to them alone.
    Command { text: String },
}

impl RoomEvent {
    /// The store's `kind` for it.
    pub fn kind(&self) -> &'static str {
        match self {
            RoomEvent::Post { .. } => "post",
            RoomEvent::Message { .. } => "message",
            RoomEvent::Reaction { .. } => "reaction",
            RoomEvent::Edit { .. } => "edit",
            RoomEvent::Delete { .. } => "delete",
            RoomEvent::Answer { .. } => "answer",
            RoomEvent::Command { .. } => "command",
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a room event always serialises")
    }

    /// The event a stored body holds; `None` for one this build cannot read.
    pub fn from_json(body: &str) -> Option<RoomEvent> {
        serde_json::from_str(body).ok()
    }
}

/// The element id of event `seq` on the page: the live stream and links use it.
pub fn anchor(seq: i64) -> String {
    format!("e-{seq}")
}

fn time_element(at: DateTime<Utc>, zone: Tz) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        at.to_rfc3339_opts(SecondsFormat::Millis, true),
        esc(&at.with_timezone(&zone).format("%H:%M").to_string())
    )
}

/// A message's body as HTML.
pub fn body_html(body: &str, formatted_body: Option<&str>) -> String {
    let mut out = Vec::new();
    message_body(&mut out, body, formatted_body).expect("writing to a Vec does not fail");
    String::from_utf8(out).expect("the renderer writes UTF-8")
}

/// What one event looks like in the room; `None` for the events that change another
/// ([`RoomEvent::Edit`], [`RoomEvent::Delete`]). `parent` is the author of the message a reply
/// answers, when it is known.
pub fn render(
    seq: i64,
    event: &RoomEvent,
    at: DateTime<Utc>,
    zone: Tz,
    parent: Option<&str>,
) -> Option<String> {
    let id = anchor(seq);
    let when = time_element(at, zone);
    let mut out = String::new();
    match event {
        RoomEvent::Post {
            label,
            text,
            hashtag,
        } => {
            let _ = write!(
                out,
                "<article class=\"room-post\" id=\"{id}\" data-seq=\"{seq}\" tabindex=\"-1\">\
                 <h2><span class=\"label\">{label}</span> <span class=\"hashtag\">{tag}</span> \
                 {when}</h2>{body}</article>",
                label = esc(label),
                tag = esc(hashtag),
                body = body_html(text, None),
            );
        }
        RoomEvent::Message {
            author,
            author_id,
            origin,
            body,
            formatted_body,
            reply_to,
            files,
        } => {
            let _ = write!(
                out,
                "<article class=\"room-msg\" id=\"{id}\" data-seq=\"{seq}\" \
                 data-author=\"{author_attr}\"{local}><header><bdi class=\"author\">{author}</bdi>",
                author_attr = esc(author),
                author = esc(author),
                local = if author_id.is_some() {
                    " data-local=\"1\""
                } else {
                    ""
                },
            );
            if let Some(origin) = origin {
                let _ = write!(out, " <span class=\"origin\">{}</span>", esc(origin));
            }
            let _ = write!(out, " {when}</header>");
            if let Some(target) = reply_to {
                let _ = write!(
                    out,
                    "<a class=\"reply-to\" href=\"#{}\">in reply to {}</a>",
                    anchor(*target),
                    parent.map_or_else(
                        || "a message".to_owned(),
                        |p| format!("<bdi>{}</bdi>", esc(p))
                    )
                );
            }
            out.push_str(&body_html(body, formatted_body.as_deref()));
            if !files.is_empty() {
                out.push_str("<ul class=\"files\">");
                for file in files {
                    let _ = write!(out, "<li><bdi>{}</bdi></li>", esc(file));
                }
                out.push_str("</ul>");
            }
            let _ = write!(
                out,
                "<div class=\"actions\"><button type=\"button\" data-act=\"reply\" \
                 aria-label=\"Reply to {author}\">Reply</button>\
                 <button type=\"button\" data-act=\"react\" data-key=\"👍\" \
                 aria-label=\"React with a thumbs up\">👍</button>\
                 <button type=\"button\" class=\"mod-only\" data-act=\"hide\">Hide</button>{block}</div>\
                 </article>",
                author = esc(author),
                block = if author_id.is_some() {
                    "<button type=\"button\" class=\"mod-only\" data-act=\"block\">Block</button>"
                } else {
                    ""
                },
            );
        }
        RoomEvent::Reaction {
            author,
            origin,
            key,
            target,
            ..
        } => {
            let _ = write!(
                out,
                "<p class=\"room-reaction\" id=\"{id}\" data-seq=\"{seq}\"><bdi>{author}</bdi>{origin} \
                 reacted {key}{to}</p>",
                author = esc(author),
                origin = origin
                    .as_deref()
                    .map(|o| format!(" <span class=\"origin\">{}</span>", esc(o)))
                    .unwrap_or_default(),
                key = esc(key),
                to = match (target, parent) {
                    (Some(t), Some(p)) => format!(" to <a href=\"#{}\"><bdi>{}</bdi>’s message</a>", anchor(*t), esc(p)),
                    (Some(t), None) => format!(" to <a href=\"#{}\">a message</a>", anchor(*t)),
                    _ => String::new(),
                },
            );
        }
        RoomEvent::Answer { text } => {
            let _ = write!(
                out,
                "<p class=\"room-answer\" id=\"{id}\" data-seq=\"{seq}\">{}</p>",
                esc(text)
            );
        }
        RoomEvent::Command { text } => {
            let _ = write!(
                out,
                "<p class=\"room-command\" id=\"{id}\" data-seq=\"{seq}\">You asked: <code>{}</code></p>",
                esc(text)
            );
        }
        RoomEvent::Edit { .. } | RoomEvent::Delete { .. } => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 19, 5, 0).unwrap()
    }

    #[test]
    fn events_survive_the_store_as_json() {
        let event = RoomEvent::Message {
            author: "Ada".into(),
            author_id: Some("w-1".into()),
            origin: None,
            body: "A1 hello".into(),
            formatted_body: None,
            reply_to: Some(3),
            files: vec![],
        };
        assert_eq!(RoomEvent::from_json(&event.to_json()), Some(event));
        assert_eq!(RoomEvent::from_json("{\"type\":\"nonsense\"}"), None);
    }

    #[test]
    fn what_people_write_is_escaped_everywhere_it_is_shown() {
        let event = RoomEvent::Message {
            author: "<b>Eve</b>\"".into(),
            author_id: Some("w-2".into()),
            origin: Some("<i>Matrix</i>".into()),
            body: "<script>alert(1)</script> @everyone".into(),
            formatted_body: Some("<img src=x onerror=alert(1)><b>bold</b>".into()),
            reply_to: Some(1),
            files: vec!["<x>.png".into()],
        };
        let html = render(9, &event, at(), chrono_tz::Europe::London, Some("<Bob>")).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>Eve"), "{html}");
        assert!(!html.contains("<i>Matrix"), "{html}");
        assert!(!html.contains("<Bob>"), "{html}");
        assert!(!html.contains("<x>"), "{html}");
        assert!(html.contains("&lt;b&gt;Eve&lt;/b&gt;"), "{html}");
        assert!(
            html.contains("<strong>bold</strong>") || html.contains("<b>bold</b>"),
            "{html}"
        );
        assert!(html.contains("id=\"e-9\""));
        assert!(html.contains("href=\"#e-1\""));
        assert!(html.contains("19:05"), "shown in the chat's zone: {html}");
    }

    #[test]
    fn only_messages_written_here_can_be_blocked() {
        let mut event = RoomEvent::Message {
            author: "Ada".into(),
            author_id: None,
            origin: Some("Matrix".into()),
            body: "hi".into(),
            formatted_body: None,
            reply_to: None,
            files: vec![],
        };
        let relayed = render(1, &event, at(), chrono_tz::UTC, None).unwrap();
        assert!(!relayed.contains("data-act=\"block\""));
        if let RoomEvent::Message { author_id, .. } = &mut event {
            *author_id = Some("w-1".into());
        }
        let local = render(1, &event, at(), chrono_tz::UTC, None).unwrap();
        assert!(local.contains("data-act=\"block\""));
    }
}
