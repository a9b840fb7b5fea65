//! Interaction responses: the callback, `@original` (get, edit, delete) and follow-ups.

use serde_json::{json, Value};

use super::messages::{apply_edit, message_from_body, parse_body};
use super::{Reply, Req, Unknown};
use crate::ids::*;
use crate::state::{InteractionCallback, Message, WebhookAuthor, World};

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

pub(super) fn route(w: &mut World, r: &Req<'_>, m: &str, segs: &[&str]) -> Option<Reply> {
    match (m, segs) {
        ("POST", ["interactions", iid, token, "callback"]) => Some(callback(w, r, iid, token)),
        (_, ["webhooks", app, token, rest @ ..])
            if id(app) == Some(w.app.id.0) && w.interaction_tokens.contains_key(*token) =>
        {
            let iid = w.interaction_tokens[*token];
            Some(match (m, rest) {
                ("POST", []) => followup(w, r, iid),
                ("GET", ["messages", "@original"]) => match original(w, iid) {
                    Some(msg) => Reply::ok(w.message_json(&msg, false)),
                    None => Reply::unknown(Unknown::Message),
                },
                ("PATCH", ["messages", which]) => edit(w, r, iid, which),
                ("DELETE", ["messages", which]) => delete(w, iid, which),
                ("GET", ["messages", mid]) => {
                    match id(mid).and_then(|x| find(w, iid, MessageId(x))) {
                        Some(msg) => Reply::ok(w.message_json(&msg, false)),
                        None => Reply::unknown(Unknown::Message),
                    }
                }
                _ => return None,
            })
        }
        _ => None,
    }
}

fn callback(w: &mut World, r: &Req<'_>, iid: &str, token: &str) -> Reply {
    let Some(iid) = id(iid).map(InteractionId) else {
        return Reply::unknown(Unknown::Interaction);
    };
    let deadline = w.interaction_deadline;
    let Some(inter) = w.interactions.get(&iid).filter(|i| i.token == token) else {
        return Reply::unknown(Unknown::Interaction);
    };
    if inter.callback.is_some() {
        return Reply::error(400, 40060, "Interaction has already been acknowledged.");
    }
    let latency = inter.dispatched_at.elapsed();
    if latency > deadline {
        // Discord forgets an interaction that was not answered within three seconds.
        return Reply::unknown(Unknown::Interaction);
    }
    let (kind_i, channel) = (inter.kind, inter.channel_id);
    let Some(kind) = r.body.get("type").and_then(Value::as_u64) else {
        return Reply::invalid_form("type", "BASE_TYPE_REQUIRED", "This field is required");
    };
    let data = r.body.get("data").cloned().unwrap_or(Value::Null);
    let valid = match kind {
        4 | 5 | 9 => kind_i == 2 || kind_i == 3 || kind_i == 5,
        6 | 7 => kind_i == 3,
        8 => kind_i == 4,
        _ => false,
    };
    if !valid {
        return Reply::error(
            400,
            40043,
            "Interaction callback type is not valid for this interaction",
        );
    }
    let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
    let content = data
        .get("content")
        .and_then(Value::as_str)
        .map(str::to_string);
    if kind == 8 {
        let ok = data
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(|c| c.len() <= 25);
        if !ok {
            return Reply::invalid_form(
                "data.choices",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            );
        }
    }
    // Types 4 and 5 create the response message (5 as a "thinking" placeholder).
    let mut original = None;
    if kind == 4 || kind == 5 {
        let bot = w.bot_id();
        let msg = if kind == 4 {
            match message_from_body(w, channel, bot, &data, &r.files) {
                Ok(m) => Some(m),
                Err(e) => return e,
            }
        } else {
            let mut m = w.new_message(channel, bot, String::new());
            m.flags = (flags & Message::EPHEMERAL) | Message::LOADING;
            Some(m)
        };
        if let Some(mut m) = msg {
            m.kind = 20;
            m.interaction = Some(iid);
            m.application_id = Some(w.app.id);
            m.webhook = Some(WebhookAuthor {
                webhook_id: WebhookId(w.app.id.0),
                username: w.app.name.clone(),
                avatar_url: None,
            });
            original = Some(store(w, iid, m));
        }
    }
    let answered = original
        .as_ref()
        .is_some_and(|m: &Message| !m.content.is_empty() || !m.embeds.is_empty());
    let inter = w.interactions.get_mut(&iid).expect("checked above");
    inter.callback = Some(InteractionCallback {
        kind: kind as u8,
        content,
        flags,
        data,
        latency,
    });
    inter.original = original.as_ref().map(|m| m.id);
    if answered || kind == 8 {
        inter.answered_after = Some(latency);
    }
    Reply::no_content()
}

/// Stores an interaction's message: ephemeral ones stay with the interaction, others go into
/// the channel (and out on the gateway).
fn store(w: &mut World, iid: InteractionId, m: Message) -> Message {
    if m.is_ephemeral() {
        if let Some(i) = w.interactions.get_mut(&iid) {
            i.ephemeral_messages.insert(m.id, m.clone());
        }
        m
    } else {
        w.insert_message(m)
    }
}

fn find(w: &World, iid: InteractionId, mid: MessageId) -> Option<Message> {
    let i = w.interactions.get(&iid)?;
    if let Some(m) = i.ephemeral_messages.get(&mid) {
        return Some(m.clone());
    }
    w.message(i.channel_id, mid).cloned()
}

fn original(w: &World, iid: InteractionId) -> Option<Message> {
    let mid = w.interactions.get(&iid)?.original?;
    find(w, iid, mid)
}

fn target(w: &World, iid: InteractionId, which: &str) -> Option<MessageId> {
    if which == "@original" {
        w.interactions.get(&iid)?.original
    } else {
        let mid = MessageId(id(which)?);
        find(w, iid, mid).map(|m| m.id)
    }
}

fn edit(w: &mut World, r: &Req<'_>, iid: InteractionId, which: &str) -> Reply {
    let Some(mid) = target(w, iid, which) else {
        return Reply::unknown(Unknown::Message);
    };
    let b = match parse_body(&r.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut files_added = Vec::new();
    let channel = w.interactions[&iid].channel_id;
    for f in &r.files {
        files_added.push(w.store_file(channel, &f.filename, &f.content_type, f.bytes.clone()));
    }
    let ephemeral = w.interactions[&iid].ephemeral_messages.contains_key(&mid);
    let msg = if ephemeral {
        let i = w.interactions.get_mut(&iid).expect("exists");
        let m = i.ephemeral_messages.get_mut(&mid).expect("checked");
        apply_edit(m, b);
        m.attachments.extend(files_added);
        m.edited_at = Some(chrono::Utc::now());
        m.clone()
    } else {
        match w.edit_message(channel, mid, |m| {
            apply_edit(m, b);
            m.attachments.extend(files_added);
        }) {
            Some(m) => m,
            None => return Reply::unknown(Unknown::Message),
        }
    };
    let i = w.interactions.get_mut(&iid).expect("exists");
    if i.answered_after.is_none()
        && Some(mid) == i.original
        && (!msg.content.is_empty() || !msg.embeds.is_empty())
    {
        i.answered_after = Some(i.dispatched_at.elapsed());
    }
    Reply::ok(w.message_json(&msg, false))
}

fn delete(w: &mut World, iid: InteractionId, which: &str) -> Reply {
    let Some(mid) = target(w, iid, which) else {
        return Reply::unknown(Unknown::Message);
    };
    let channel = w.interactions[&iid].channel_id;
    let i = w.interactions.get_mut(&iid).expect("exists");
    if i.ephemeral_messages.remove(&mid).is_some() {
        return Reply::no_content();
    }
    match w.delete_message(channel, mid) {
        Some(_) => Reply::no_content(),
        None => Reply::unknown(Unknown::Message),
    }
}

fn followup(w: &mut World, r: &Req<'_>, iid: InteractionId) -> Reply {
    let (channel, acked) = {
        let i = &w.interactions[&iid];
        (i.channel_id, i.callback.is_some())
    };
    if !acked {
        // A follow-up needs the interaction acknowledged first.
        return Reply::unknown(Unknown::Webhook);
    }
    let bot = w.bot_id();
    let mut m = match message_from_body(w, channel, bot, &r.body, &r.files) {
        Ok(m) => m,
        Err(e) => return e,
    };
    m.interaction = Some(iid);
    m.application_id = Some(w.app.id);
    m.webhook = Some(WebhookAuthor {
        webhook_id: WebhookId(w.app.id.0),
        username: w.app.name.clone(),
        avatar_url: None,
    });
    let m = store(w, iid, m);
    let i = w.interactions.get_mut(&iid).expect("exists");
    i.followups.push(m.id);
    Reply::ok(json!(w.message_json(&m, false)))
}
