//! Channel messages: create (with nonce enforcement), edit, delete, bulk delete, history
//! paging, reactions, pins.

use serde_json::{json, Value};

use super::{Reply, Req, Unknown, Upload};
use crate::ids::*;
use crate::state::{nonce_key, Message, World};

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// The fields of a message body that create and edit share (content, embeds, components,
/// allowed_mentions, attachments), validated as Discord does.
pub(super) struct MessageBody {
    pub content: Option<String>,
    pub embeds: Option<Vec<Value>>,
    pub components: Option<Vec<Value>>,
    pub allowed_mentions: Option<Value>,
    pub flags: Option<u64>,
}

pub(super) fn parse_body(body: &Value) -> Result<MessageBody, Reply> {
    let content = match body.get("content") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            if s.chars().count() > 2000 {
                return Err(Reply::invalid_form(
                    "content",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 2000 or fewer in length.",
                ));
            }
            Some(s.clone())
        }
        Some(_) => {
            return Err(Reply::invalid_form(
                "content",
                "STRING_TYPE_CONVERT",
                "Could not interpret value as string.",
            ))
        }
    };
    let embeds = match body.get("embeds") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) if a.len() <= 10 => Some(a.clone()),
        Some(_) => {
            return Err(Reply::invalid_form(
                "embeds",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 10 or fewer in length.",
            ))
        }
    };
    let components = body.get("components").and_then(Value::as_array).cloned();
    let allowed_mentions = body
        .get("allowed_mentions")
        .filter(|v| !v.is_null())
        .cloned();
    let flags = body.get("flags").and_then(Value::as_u64);
    Ok(MessageBody {
        content,
        embeds,
        components,
        allowed_mentions,
        flags,
    })
}

/// Builds (not yet stores) a message from a create body: the caller decides author and kind.
pub(super) fn message_from_body(
    w: &mut World,
    channel: ChannelId,
    author: UserId,
    body: &Value,
    files: &[Upload],
) -> Result<Message, Reply> {
    let b = parse_body(body)?;
    let has_any = b.content.as_deref().is_some_and(|c| !c.is_empty())
        || b.embeds.as_ref().is_some_and(|e| !e.is_empty())
        || b.components.as_ref().is_some_and(|c| !c.is_empty())
        || !files.is_empty()
        || body.get("sticker_ids").is_some()
        || body.get("poll").is_some();
    if !has_any {
        return Err(Reply::error(400, 50006, "Cannot send an empty message"));
    }
    let mut m = w.new_message(channel, author, b.content.unwrap_or_default());
    m.embeds = b.embeds.unwrap_or_default();
    m.components = b.components.unwrap_or_default();
    m.allowed_mentions = b.allowed_mentions;
    // Only SUPPRESS_EMBEDS, EPHEMERAL (interactions) and SUPPRESS_NOTIFICATIONS may be set.
    m.flags = b.flags.unwrap_or(0) & ((1 << 2) | (1 << 6) | (1 << 12));
    m.tts = body.get("tts").and_then(Value::as_bool).unwrap_or(false);
    if let Some(r) = body.get("message_reference").filter(|v| !v.is_null()) {
        let target = r.get("message_id").and_then(parse_snowflake).map(MessageId);
        let ref_channel = r
            .get("channel_id")
            .and_then(parse_snowflake)
            .map_or(channel, ChannelId);
        let fail = r
            .get("fail_if_not_exists")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        match target {
            Some(t) if ref_channel == channel && w.message(channel, t).is_some() => {
                m.reply_to = Some(t);
                m.kind = 19;
            }
            _ if fail => {
                return Err(Reply::invalid_form(
                    "message_reference",
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                ))
            }
            _ => {}
        }
    }
    let meta: Vec<Value> = body
        .get("attachments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, f) in files.iter().enumerate() {
        // Attachment metadata may rename the file (`attachments[n].filename`).
        let name = meta
            .iter()
            .find(|a| a.get("id").and_then(parse_snowflake) == Some(i as u64))
            .and_then(|a| a.get("filename").and_then(Value::as_str))
            .unwrap_or(&f.filename)
            .to_string();
        let a = w.store_file(channel, &name, &f.content_type, f.bytes.clone());
        m.attachments.push(a);
    }
    Ok(m)
}

pub(super) fn route(w: &mut World, r: &Req<'_>, m: &str, segs: &[&str]) -> Option<Reply> {
    let ["channels", c, rest @ ..] = segs else {
        return None;
    };
    let cid = id(c).map(ChannelId)?;
    if !matches!(rest.first(), Some(&"messages") | Some(&"pins")) {
        return None;
    }
    if !w.channels.contains_key(&cid) {
        return Some(Reply::unknown(Unknown::Channel));
    }
    let bot = w.bot_id();
    Some(match (m, rest) {
        ("GET", ["messages"]) => history(w, r, cid),
        ("POST", ["messages"]) => create(w, r, cid),
        ("POST", ["messages", "bulk-delete"]) => bulk_delete(w, r, cid),
        ("GET", ["messages", mid]) => match id(mid).and_then(|x| w.message(cid, MessageId(x))) {
            Some(msg) => Reply::ok(w.message_json(msg, false)),
            None => Reply::unknown(Unknown::Message),
        },
        ("PATCH", ["messages", mid]) => {
            let Some(mid) = id(mid)
                .map(MessageId)
                .filter(|x| w.message(cid, *x).is_some())
            else {
                return Some(Reply::unknown(Unknown::Message));
            };
            if w.message(cid, mid)
                .is_some_and(|x| x.author_id != bot || x.webhook.is_some())
            {
                return Some(Reply::error(
                    403,
                    50005,
                    "Cannot edit a message authored by another user",
                ));
            }
            let b = match parse_body(&r.body) {
                Ok(b) => b,
                Err(e) => return Some(e),
            };
            let msg = w
                .edit_message(cid, mid, |x| apply_edit(x, b))
                .expect("checked above");
            Reply::ok(w.message_json(&msg, false))
        }
        ("DELETE", ["messages", mid]) => {
            match id(mid).map(MessageId).and_then(|x| w.message(cid, x)) {
                // Someone else's message (a webhook's too): Manage Messages.
                Some(x)
                    if (x.author_id != bot
                        || x.webhook
                            .as_ref()
                            .is_some_and(|h| h.webhook_id.0 != w.app.id.0))
                        && !x.guild_id.is_some_and(|g| {
                            w.member_permissions(g, bot)
                                & crate::state::permissions::MANAGE_MESSAGES
                                != 0
                        }) =>
                {
                    Reply::error(403, 50013, "Missing Permissions")
                }
                Some(x) => {
                    let x = x.id;
                    w.delete_message(cid, x);
                    Reply::no_content()
                }
                None => Reply::unknown(Unknown::Message),
            }
        }
        ("PUT", ["messages", mid, "reactions", emoji, "@me"]) => {
            let Some(mid) = id(mid).map(MessageId) else {
                return Some(Reply::unknown(Unknown::Message));
            };
            if emoji.is_empty() {
                return Some(Reply::unknown(Unknown::Emoji));
            }
            if w.react(cid, mid, bot, emoji) {
                Reply::no_content()
            } else {
                Reply::unknown(Unknown::Message)
            }
        }
        ("DELETE", ["messages", mid, "reactions", emoji, who]) => {
            let Some(mid) = id(mid).map(MessageId) else {
                return Some(Reply::unknown(Unknown::Message));
            };
            let user = if *who == "@me" {
                Some(bot)
            } else {
                id(who).map(UserId)
            };
            match user {
                Some(u) if w.unreact(cid, mid, u, emoji) => Reply::no_content(),
                Some(_) => Reply::unknown(Unknown::Message),
                None => Reply::unknown(Unknown::User),
            }
        }
        ("GET", ["messages", mid, "reactions", emoji]) => {
            let Some(msg) = id(mid).and_then(|x| w.message(cid, MessageId(x))) else {
                return Some(Reply::unknown(Unknown::Message));
            };
            let users: Vec<Value> = msg
                .reactions
                .iter()
                .find(|x| x.emoji == *emoji)
                .map(|x| x.users.iter().map(|u| w.user_json(*u)).collect())
                .unwrap_or_default();
            Reply::ok(json!(users))
        }
        ("PUT", ["pins", mid]) | ("DELETE", ["pins", mid]) => {
            let pin = m == "PUT";
            match id(mid).and_then(|x| w.message_mut(cid, MessageId(x))) {
                Some(msg) => {
                    msg.pinned = pin;
                    Reply::no_content()
                }
                None => Reply::unknown(Unknown::Message),
            }
        }
        ("GET", ["pins"]) => {
            let v: Vec<Value> = w
                .channel_messages(cid)
                .iter()
                .rev()
                .filter(|x| x.pinned)
                .map(|x| w.message_json(x, false))
                .collect();
            Reply::ok(json!(v))
        }
        _ => return None,
    })
}

pub(super) fn apply_edit(x: &mut Message, b: MessageBody) {
    if let Some(c) = b.content {
        x.content = c;
    }
    if let Some(e) = b.embeds {
        x.embeds = e;
    }
    if let Some(c) = b.components {
        x.components = c;
    }
    if b.allowed_mentions.is_some() {
        x.allowed_mentions = b.allowed_mentions;
    }
    // Editing the original of a deferred interaction ends its "thinking" state.
    x.flags &= !Message::LOADING;
}

fn create(w: &mut World, r: &Req<'_>, cid: ChannelId) -> Reply {
    let bot = w.bot_id();
    if let Some(t) = w.channels.get_mut(&cid).and_then(|c| c.thread.as_mut()) {
        if t.archived && t.locked {
            return Reply::error(400, 50083, "Thread is archived");
        }
        if t.archived {
            // Sending in an archived, unlocked thread unarchives it, as on Discord.
            t.archived = false;
            w.dispatch_channel_event("THREAD_UPDATE", cid);
        }
    }
    let nonce = r.body.get("nonce").filter(|v| !v.is_null()).cloned();
    if let Some(Value::String(s)) = &nonce {
        if s.len() > 25 {
            return Reply::invalid_form(
                "nonce",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            );
        }
    }
    let enforce = r
        .body
        .get("enforce_nonce")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if enforce {
        let Some(key) = nonce.as_ref().and_then(nonce_key) else {
            return Reply::invalid_form(
                "nonce",
                "BASE_TYPE_REQUIRED",
                "This field is required when enforce_nonce is set.",
            );
        };
        // Discord returns the message already created with this nonce by the same author
        // instead of creating a second one.
        if let Some(existing) = w
            .nonces
            .get(&(cid, key))
            .and_then(|mid| w.message(cid, *mid))
            .filter(|x| x.author_id == bot)
        {
            return Reply::ok(w.message_json(existing, false));
        }
    }
    let mut msg = match message_from_body(w, cid, bot, &r.body, &r.files) {
        Ok(x) => x,
        Err(e) => return e,
    };
    msg.flags &= !Message::EPHEMERAL; // only interaction responses can be ephemeral
    msg.nonce = nonce;
    let msg = w.insert_message(msg);
    Reply::ok(w.message_json(&msg, false))
}

/// GET /channels/{id}/messages: newest first; `before`, `after` or `around` a message id,
/// `limit` 1..=100 (default 50). A range scan over the channel's ordered map, so paging through
/// a long history costs O(limit) per page.
fn history(w: &World, r: &Req<'_>, cid: ChannelId) -> Reply {
    let limit = match r.q("limit").map(str::parse::<usize>) {
        None => 50,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => {
            return Reply::invalid_form(
                "limit",
                "NUMBER_TYPE_MAX",
                "int value should be between 1 and 100.",
            )
        }
    };
    let parse = |k: &str| r.q(k).and_then(|v| v.parse::<u64>().ok()).map(MessageId);
    let empty = std::collections::BTreeMap::new();
    let map = w.messages.get(&cid).unwrap_or(&empty);
    let picked: Vec<&Message> = if let Some(a) = parse("around") {
        let before_n = limit / 2;
        let mut older: Vec<&Message> = map
            .range(..a)
            .rev()
            .take(before_n)
            .map(|(_, m)| m)
            .collect();
        older.reverse();
        let newer: Vec<&Message> = map
            .range(a..)
            .take(limit - older.len())
            .map(|(_, m)| m)
            .collect();
        let mut all: Vec<&Message> = older.into_iter().chain(newer).collect();
        all.reverse();
        all
    } else if let Some(b) = parse("before") {
        map.range(..b).rev().take(limit).map(|(_, m)| m).collect()
    } else if let Some(a) = parse("after") {
        // `after` pages forward: the `limit` messages right after the id, still newest first.
        let mut v: Vec<&Message> = map
            .range(MessageId(a.0.saturating_add(1))..)
            .take(limit)
            .map(|(_, m)| m)
            .collect();
        v.reverse();
        v
    } else {
        map.values().rev().take(limit).collect()
    };
    let content_ok = w.app.privileged_intents & crate::state::intents::MESSAGE_CONTENT != 0;
    let v: Vec<Value> = picked
        .into_iter()
        .map(|m| {
            let mut j = w.message_json(m, false);
            if !content_ok && m.author_id != w.bot_id() {
                j["content"] = json!("");
                j["embeds"] = json!([]);
                j["attachments"] = json!([]);
            }
            j
        })
        .collect();
    Reply::ok(json!(v))
}

fn bulk_delete(w: &mut World, r: &Req<'_>, cid: ChannelId) -> Reply {
    let Some(ids) = r.body.get("messages").and_then(Value::as_array) else {
        return Reply::invalid_form("messages", "BASE_TYPE_REQUIRED", "This field is required");
    };
    if !(2..=100).contains(&ids.len()) {
        return Reply::invalid_form(
            "messages",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 2 and 100 in length.",
        );
    }
    let ids: Vec<MessageId> = ids
        .iter()
        .filter_map(parse_snowflake)
        .map(MessageId)
        .collect();
    // Discord refuses messages older than two weeks in a bulk delete.
    let two_weeks = chrono::Utc::now() - chrono::Duration::days(14);
    if ids.iter().any(|i| snowflake_time(i.0) < two_weeks) {
        return Reply::error(
            400,
            50034,
            "You can only bulk delete messages that are under 14 days old.",
        );
    }
    w.bulk_delete(cid, &ids);
    Reply::no_content()
}
