//! Reading Matrix room events: the raw JSON a homeserver sends, checked field by field and
//! turned into what hashchat cares about. Nothing here trusts the payload: a missing or
//! mistyped field is an error naming the event and the field, never a panic.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use bot_core::model::Attachment;

/// Who sent an event, which one, and when (the homeserver's timestamp).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub event_id: String,
    pub sender: String,
    pub sent_at: DateTime<Utc>,
}

/// What an event means to hashchat.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Something said in the room: text, notice, emote or media.
    Message(MessageParts),
    /// `!chat …`: the text after the prefix.
    Command {
        text: String,
        reply_to: Option<String>,
    },
    /// A new text for an earlier message (`m.replace`).
    Edit {
        target: String,
        body: String,
        formatted_body: Option<String>,
    },
    Redaction {
        target: String,
    },
    /// An annotation (`m.reaction`) on an earlier message.
    Reaction {
        target: String,
        key: String,
    },
    /// State changes, receipts, call signalling…: nothing to archive.
    Ignored,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageParts {
    pub kind: MessageKind,
    pub body: String,
    pub formatted_body: Option<String>,
    pub reply_to: Option<String>,
    pub attachments: Vec<Attachment>,
    /// For an encrypted attachment: the `file` object needed to fetch and decrypt it.
    pub encrypted_file: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Notice,
    Emote,
    Media,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event}: {field}: {why}")]
pub struct EventError {
    pub event: String,
    pub field: &'static str,
    pub why: String,
}

/// Reads one timeline event. `prefix` is the command prefix (`!chat`).
pub fn parse_event(event: &Value, prefix: &str) -> Result<(Envelope, Parsed), EventError> {
    let event_id = event
        .get("event_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| EventError {
            event: "(no id)".into(),
            field: "event_id",
            why: "missing or not a string".into(),
        })?
        .to_owned();
    let err = |field: &'static str, why: &str| EventError {
        event: event_id.clone(),
        field,
        why: why.to_owned(),
    };
    let sender = event
        .get("sender")
        .and_then(Value::as_str)
        .filter(|s| s.starts_with('@'))
        .ok_or_else(|| err("sender", "missing or not a user id"))?
        .to_owned();
    let ts = event
        .get("origin_server_ts")
        .and_then(Value::as_i64)
        .ok_or_else(|| err("origin_server_ts", "missing or not a whole number"))?;
    let sent_at = Utc
        .timestamp_millis_opt(ts)
        .single()
        .ok_or_else(|| err("origin_server_ts", "out of range"))?;
    let envelope = Envelope {
        event_id: event_id.clone(),
        sender,
        sent_at,
    };
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    // A state event is never a message, whatever its type says.
    if event.get("state_key").is_some() {
        return Ok((envelope, Parsed::Ignored));
    }
    let empty = Value::Object(Default::default());
    let content = event.get("content").unwrap_or(&empty);
    let parsed = match kind {
        "m.room.message" => parse_message(content, prefix).map_err(|(f, why)| err(f, &why))?,
        "m.room.redaction" => {
            // Room versions up to 10 put `redacts` at the top; 11 and later in the content.
            let target = event
                .get("redacts")
                .or_else(|| content.get("redacts"))
                .and_then(Value::as_str)
                .ok_or_else(|| err("redacts", "missing or not an event id"))?;
            Parsed::Redaction {
                target: target.to_owned(),
            }
        }
        "m.reaction" => {
            let relates = content.get("m.relates_to");
            let target = relates
                .and_then(|r| r.get("event_id"))
                .and_then(Value::as_str)
                .ok_or_else(|| err("content.m.relates_to.event_id", "missing"))?;
            let key = relates
                .and_then(|r| r.get("key"))
                .and_then(Value::as_str)
                .ok_or_else(|| err("content.m.relates_to.key", "missing"))?;
            Parsed::Reaction {
                target: target.to_owned(),
                key: key.to_owned(),
            }
        }
        _ => Parsed::Ignored,
    };
    check_ids(&envelope, &parsed).map_err(|(f, why)| err(f, why))?;
    Ok((envelope, parsed))
}

/// Event ids, user ids and `mxc://` links are short and printable (the specification allows
/// 255 bytes); anything else is refused here, at the edge, rather than handed on to a store
/// that may refuse it (PostgreSQL rejects NUL) and stall reading on an event that never passes.
fn check_ids(envelope: &Envelope, parsed: &Parsed) -> Result<(), (&'static str, &'static str)> {
    let ok = |id: &str| !id.is_empty() && id.len() <= 255 && !id.chars().any(char::is_control);
    let mut ids: Vec<(&'static str, &str)> = vec![
        ("event_id", &envelope.event_id),
        ("sender", &envelope.sender),
    ];
    match parsed {
        Parsed::Message(m) => {
            ids.extend(m.reply_to.as_deref().map(|r| ("content.m.relates_to", r)));
            ids.extend(
                m.attachments
                    .iter()
                    .map(|a| ("content.url", a.url.as_str())),
            );
        }
        Parsed::Command { reply_to, .. } => {
            ids.extend(reply_to.as_deref().map(|r| ("content.m.relates_to", r)));
        }
        Parsed::Edit { target, .. } | Parsed::Reaction { target, .. } => {
            ids.push(("content.m.relates_to.event_id", target));
        }
        Parsed::Redaction { target } => ids.push(("redacts", target)),
        Parsed::Ignored => {}
    }
    match ids.into_iter().find(|(_, id)| !ok(id)) {
        Some((field, _)) => Err((
            field,
            "not an identifier (empty, too long, or with control characters)",
        )),
        None => Ok(()),
    }
}

type FieldError = (&'static str, String);

fn parse_message(content: &Value, prefix: &str) -> Result<Parsed, FieldError> {
    // A redacted message arrives with empty content: nothing left to read.
    if content.as_object().is_none_or(|c| c.is_empty()) {
        return Ok(Parsed::Ignored);
    }
    let relates = content.get("m.relates_to");
    let rel_type = relates
        .and_then(|r| r.get("rel_type"))
        .and_then(Value::as_str);
    if rel_type == Some("m.replace") {
        let target = relates
            .and_then(|r| r.get("event_id"))
            .and_then(Value::as_str)
            .ok_or(("content.m.relates_to.event_id", "missing on an edit".into()))?;
        let new = content
            .get("m.new_content")
            .ok_or(("content.m.new_content", "missing on an edit".into()))?;
        let body = string_field(new, "body").ok_or((
            "content.m.new_content.body",
            "missing or not a string".into(),
        ))?;
        return Ok(Parsed::Edit {
            target: target.to_owned(),
            body,
            formatted_body: html_body(new),
        });
    }
    let msgtype = content
        .get("msgtype")
        .and_then(Value::as_str)
        .ok_or(("content.msgtype", "missing or not a string".into()))?;
    let body =
        string_field(content, "body").ok_or(("content.body", "missing or not a string".into()))?;
    let reply_to = relates
        .and_then(|r| r.get("m.in_reply_to"))
        .and_then(|r| r.get("event_id"))
        .and_then(Value::as_str)
        .or_else(|| {
            // A message in a thread answers the thread's root.
            (rel_type == Some("m.thread"))
                .then(|| {
                    relates
                        .and_then(|r| r.get("event_id"))
                        .and_then(Value::as_str)
                })
                .flatten()
        })
        .map(str::to_owned);
    let body = if reply_to.is_some() {
        strip_reply_fallback(&body)
    } else {
        body
    };
    let formatted_body = html_body(content).map(|html| {
        if reply_to.is_some() {
            strip_reply_html(&html)
        } else {
            html
        }
    });
    let kind = match msgtype {
        "m.text" => MessageKind::Text,
        "m.notice" => MessageKind::Notice,
        "m.emote" => MessageKind::Emote,
        "m.image" | "m.file" | "m.video" | "m.audio" => MessageKind::Media,
        // Locations, polls, unknown types: their `body` is the fallback text meant for clients
        // that do not understand them, which is what a transcript can show.
        _ => MessageKind::Text,
    };
    if kind == MessageKind::Text && msgtype == "m.text" {
        if let Some(text) = command_text(&body, prefix) {
            return Ok(Parsed::Command { text, reply_to });
        }
    }
    let mut parts = MessageParts {
        kind,
        body,
        formatted_body,
        reply_to,
        attachments: Vec::new(),
        encrypted_file: None,
    };
    if kind == MessageKind::Media {
        let (url, encrypted) = match content.get("file") {
            Some(file) => (file.get("url").and_then(Value::as_str), Some(file.clone())),
            None => (content.get("url").and_then(Value::as_str), None),
        };
        let url = url.filter(|u| u.starts_with("mxc://")).ok_or((
            "content.url",
            "a media message without an mxc:// link".into(),
        ))?;
        let info = content.get("info");
        let filename = string_field(content, "filename");
        // With a `filename`, `body` is a caption (when it differs); without, it is the name.
        let (name, caption) = match filename {
            Some(f) if f != parts.body => (f, std::mem::take(&mut parts.body)),
            Some(f) => (f, String::new()),
            None => (std::mem::take(&mut parts.body), String::new()),
        };
        parts.body = caption;
        if parts.body.is_empty() {
            parts.formatted_body = None;
        }
        parts.attachments.push(Attachment {
            url: url.to_owned(),
            name,
            content_type: info
                .and_then(|i| i.get("mimetype"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            size_bytes: info.and_then(|i| i.get("size")).and_then(Value::as_i64),
        });
        parts.encrypted_file = encrypted;
    }
    Ok(Parsed::Message(parts))
}

fn string_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn html_body(v: &Value) -> Option<String> {
    (v.get("format").and_then(Value::as_str) == Some("org.matrix.custom.html"))
        .then(|| string_field(v, "formatted_body"))
        .flatten()
}

/// The text after the command prefix, if `body` is a command: `!chat start x` → `start x`.
/// `!chatter` is not a command; `!chat` alone is (`help` answers it).
pub fn command_text(body: &str, prefix: &str) -> Option<String> {
    let rest = body.trim_start().strip_prefix(prefix)?;
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let text = rest.trim();
    Some(if text.is_empty() { "help" } else { text }.to_owned())
}

/// Drops the quoted fallback older clients put at the top of a reply's body (`> <@a:x> …`
/// lines, then a blank line).
fn strip_reply_fallback(body: &str) -> String {
    if !body.starts_with("> ") {
        return body.to_owned();
    }
    let mut lines = body.split('\n');
    let mut rest_start = body.len();
    let mut offset = 0;
    for line in lines.by_ref() {
        let next = offset + line.len() + 1;
        if line.starts_with('>') {
            offset = next;
            continue;
        }
        if line.is_empty() {
            rest_start = next.min(body.len());
        }
        break;
    }
    if rest_start >= body.len() {
        // Only quote lines: keep the body as sent rather than archive nothing.
        return body.to_owned();
    }
    body[rest_start..].to_owned()
}

fn strip_reply_html(html: &str) -> String {
    match (html.find("<mx-reply>"), html.find("</mx-reply>")) {
        (Some(start), Some(end)) if start < end => {
            let mut out = String::with_capacity(html.len());
            out.push_str(&html[..start]);
            out.push_str(&html[end + "</mx-reply>".len()..]);
            out
        }
        _ => html.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: &str, content: Value) -> Value {
        json!({
            "type": kind,
            "event_id": "$e1",
            "sender": "@ann:example.org",
            "origin_server_ts": 1_764_000_000_000_i64,
            "content": content,
        })
    }

    fn parsed(kind: &str, content: Value) -> Parsed {
        parse_event(&event(kind, content), "!chat").unwrap().1
    }

    #[test]
    fn a_text_message_keeps_its_body_and_html() {
        let p = parsed(
            "m.room.message",
            json!({"msgtype": "m.text", "body": "A1 yes", "format": "org.matrix.custom.html", "formatted_body": "<b>A1</b> yes"}),
        );
        let Parsed::Message(m) = p else {
            panic!("{p:?}")
        };
        assert_eq!(m.kind, MessageKind::Text);
        assert_eq!(m.body, "A1 yes");
        assert_eq!(m.formatted_body.as_deref(), Some("<b>A1</b> yes"));
        assert_eq!(m.reply_to, None);
    }

    #[test]
    fn a_prefixed_text_is_a_command_and_a_lookalike_is_not() {
        assert_eq!(
            parsed(
                "m.room.message",
                json!({"msgtype": "m.text", "body": "!chat  start interlibnet "})
            ),
            Parsed::Command {
                text: "start interlibnet".into(),
                reply_to: None
            }
        );
        assert_eq!(
            parsed(
                "m.room.message",
                json!({"msgtype": "m.text", "body": "!chat"})
            ),
            Parsed::Command {
                text: "help".into(),
                reply_to: None
            }
        );
        assert!(matches!(
            parsed(
                "m.room.message",
                json!({"msgtype": "m.text", "body": "!chatter start"})
            ),
            Parsed::Message(_)
        ));
        assert!(
            matches!(
                parsed(
                    "m.room.message",
                    json!({"msgtype": "m.notice", "body": "!chat start x"})
                ),
                Parsed::Message(_)
            ),
            "a notice (another bot) never commands"
        );
    }

    #[test]
    fn a_reply_points_at_its_parent_without_the_quoted_fallback() {
        let p = parsed(
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": "> <@bob:x> Q1 what?\n> more\n\nmy answer",
                "format": "org.matrix.custom.html",
                "formatted_body": "<mx-reply><blockquote>Q1</blockquote></mx-reply>my <i>answer</i>",
                "m.relates_to": {"m.in_reply_to": {"event_id": "$parent"}}
            }),
        );
        let Parsed::Message(m) = p else {
            panic!("{p:?}")
        };
        assert_eq!(m.reply_to.as_deref(), Some("$parent"));
        assert_eq!(m.body, "my answer");
        assert_eq!(m.formatted_body.as_deref(), Some("my <i>answer</i>"));
    }

    #[test]
    fn an_edit_names_its_target_and_new_text() {
        let p = parsed(
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": " * A1 fixed",
                "m.new_content": {"msgtype": "m.text", "body": "A1 fixed"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}
            }),
        );
        assert_eq!(
            p,
            Parsed::Edit {
                target: "$orig".into(),
                body: "A1 fixed".into(),
                formatted_body: None
            }
        );
    }

    #[test]
    fn redactions_are_read_in_old_and_new_room_versions() {
        let mut old = event("m.room.redaction", json!({}));
        old["redacts"] = json!("$gone");
        assert_eq!(
            parse_event(&old, "!chat").unwrap().1,
            Parsed::Redaction {
                target: "$gone".into()
            }
        );
        assert_eq!(
            parsed("m.room.redaction", json!({"redacts": "$gone"})),
            Parsed::Redaction {
                target: "$gone".into()
            }
        );
    }

    #[test]
    fn an_image_becomes_an_attachment_with_its_caption() {
        let p = parsed(
            "m.room.message",
            json!({
                "msgtype": "m.image", "body": "our shelf", "filename": "shelf.png",
                "url": "mxc://example.org/abc", "info": {"mimetype": "image/png", "size": 1234}
            }),
        );
        let Parsed::Message(m) = p else {
            panic!("{p:?}")
        };
        assert_eq!(m.kind, MessageKind::Media);
        assert_eq!(m.body, "our shelf");
        assert_eq!(
            m.attachments,
            vec![Attachment {
                url: "mxc://example.org/abc".into(),
                name: "shelf.png".into(),
                content_type: Some("image/png".into()),
                size_bytes: Some(1234),
            }]
        );
        let plain = parsed(
            "m.room.message",
            json!({"msgtype": "m.file", "body": "notes.pdf", "url": "mxc://example.org/def"}),
        );
        let Parsed::Message(m) = plain else { panic!() };
        assert_eq!(
            (m.body.as_str(), m.attachments[0].name.as_str()),
            ("", "notes.pdf")
        );
    }

    #[test]
    fn an_encrypted_attachment_keeps_its_key_material_for_the_fetcher() {
        let file = json!({"url": "mxc://example.org/enc", "key": {"k": "x"}, "iv": "y", "hashes": {"sha256": "z"}, "v": "v2"});
        let p = parsed(
            "m.room.message",
            json!({"msgtype": "m.image", "body": "pic.jpg", "file": file}),
        );
        let Parsed::Message(m) = p else { panic!() };
        assert_eq!(m.attachments[0].url, "mxc://example.org/enc");
        assert_eq!(m.encrypted_file, Some(file));
    }

    #[test]
    fn reactions_name_their_target_and_key() {
        assert_eq!(
            parsed(
                "m.reaction",
                json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m", "key": "👍"}})
            ),
            Parsed::Reaction {
                target: "$m".into(),
                key: "👍".into()
            }
        );
    }

    #[test]
    fn malformed_events_are_errors_that_say_where() {
        let cases = [
            (
                json!({"type": "m.room.message", "sender": "@a:x", "origin_server_ts": 1, "content": {}}),
                "event_id",
            ),
            (
                json!({"type": "m.room.message", "event_id": "$x", "origin_server_ts": 1, "content": {}}),
                "sender",
            ),
            (
                json!({"type": "m.room.message", "event_id": "$x", "sender": "@a:x", "origin_server_ts": "soon"}),
                "origin_server_ts",
            ),
            (
                json!({"type": "m.room.message", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 1, "content": {"msgtype": 5, "body": "x"}}),
                "content.msgtype",
            ),
            (
                json!({"type": "m.room.message", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": ["x"]}}),
                "content.body",
            ),
            (
                json!({"type": "m.room.message", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 1, "content": {"msgtype": "m.image", "body": "x", "url": "https://evil"}}),
                "content.url",
            ),
            (
                json!({"type": "m.room.redaction", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 1, "content": {}}),
                "redacts",
            ),
            (
                json!({"type": "m.reaction", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 1, "content": {"m.relates_to": {}}}),
                "content.m.relates_to.event_id",
            ),
            (
                json!({"type": "m.room.message", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "x", "m.relates_to": {"rel_type": "m.replace", "event_id": "$y"}}}),
                "content.m.new_content",
            ),
        ];
        for (event, field) in cases {
            let e = parse_event(&event, "!chat").unwrap_err();
            assert_eq!(e.field, field, "{event}");
        }
        let bad_ids = [
            (
                json!({"type": "m.room.message", "event_id": "$x\u{0}", "sender": "@a:x", "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "x"}}),
                "event_id",
            ),
            (
                json!({"type": "m.room.message", "event_id": "$x", "sender": "@a\u{0}:x", "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "x"}}),
                "sender",
            ),
            (
                json!({"type": "m.room.redaction", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 1, "redacts": "$y\u{0}"}),
                "redacts",
            ),
            (
                json!({"type": "m.reaction", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 1, "content": {"m.relates_to": {"event_id": "$y\u{7}", "key": "k"}}}),
                "content.m.relates_to.event_id",
            ),
            (
                json!({"type": "m.room.message", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "x", "m.relates_to": {"m.in_reply_to": {"event_id": "$p\u{0}"}}}}),
                "content.m.relates_to",
            ),
            (
                json!({"type": "m.room.message", "event_id": "$".repeat(300), "sender": "@a:x", "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "x"}}),
                "event_id",
            ),
        ];
        for (event, field) in bad_ids {
            let e = parse_event(&event, "!chat").unwrap_err();
            assert_eq!(e.field, field, "{event}");
        }
        for junk in [
            json!(null),
            json!([1, 2]),
            json!("x"),
            json!({"event_id": 5}),
        ] {
            assert!(parse_event(&junk, "!chat").is_err(), "{junk}");
        }
    }

    #[test]
    fn state_events_and_redacted_messages_are_ignored() {
        let mut state = event("m.room.message", json!({"msgtype": "m.text", "body": "x"}));
        state["state_key"] = json!("");
        assert_eq!(parse_event(&state, "!chat").unwrap().1, Parsed::Ignored);
        assert_eq!(parsed("m.room.message", json!({})), Parsed::Ignored);
        assert_eq!(
            parsed("m.room.member", json!({"membership": "join"})),
            Parsed::Ignored
        );
    }

    #[test]
    fn a_quote_only_body_is_kept_whole() {
        assert_eq!(strip_reply_fallback("> just a quote"), "> just a quote");
        assert_eq!(
            strip_reply_fallback("> <@a:x> q\n\nanswer\n\nmore"),
            "answer\n\nmore"
        );
        assert_eq!(strip_reply_fallback("no quote"), "no quote");
    }
}
