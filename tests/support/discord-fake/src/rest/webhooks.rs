//! Channel webhooks (what bots use to relay messages under other names): create, list, get,
//! delete, execute, and edit/delete of messages sent through them.

use serde_json::{json, Value};

use super::messages::{apply_edit, message_from_body, parse_body};
use super::{Reply, Req, Unknown};
use crate::ids::*;
use crate::state::{Webhook, WebhookAuthor, World};

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

pub(super) fn route(w: &mut World, r: &Req<'_>, m: &str, segs: &[&str]) -> Option<Reply> {
    Some(match (m, segs) {
        ("POST", ["channels", c, "webhooks"]) => {
            let cid = ChannelId(id(c)?);
            let Some(ch) = w.channels.get(&cid) else {
                return Some(Reply::unknown(Unknown::Channel));
            };
            let name = match r.body.get("name").and_then(Value::as_str) {
                Some(n)
                    if !n.is_empty()
                        && n.chars().count() <= 80
                        && !n.to_lowercase().contains("clyde") =>
                {
                    n.to_string()
                }
                _ => {
                    return Some(Reply::invalid_form(
                        "name",
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 80 in length.",
                    ))
                }
            };
            let guild_id = ch.guild_id;
            let wid = WebhookId(w.next_id());
            let token = crate::state::image_hash(wid.0, 11) + &crate::state::image_hash(wid.0, 12);
            let hook = Webhook {
                id: wid,
                token,
                guild_id,
                channel_id: cid,
                name,
                creator_id: w.bot_id(),
            };
            let v = w.webhook_json(&hook);
            w.webhooks.insert(wid, hook);
            Reply::ok(v)
        }
        ("GET", ["channels", c, "webhooks"]) => {
            let cid = ChannelId(id(c)?);
            let v: Vec<Value> = w
                .webhooks
                .values()
                .filter(|h| h.channel_id == cid)
                .map(|h| w.webhook_json(h))
                .collect();
            Reply::ok(json!(v))
        }
        ("GET", ["guilds", g, "webhooks"]) => {
            let gid = GuildId(id(g)?);
            let v: Vec<Value> = w
                .webhooks
                .values()
                .filter(|h| h.guild_id == Some(gid))
                .map(|h| w.webhook_json(h))
                .collect();
            Reply::ok(json!(v))
        }
        ("GET", ["webhooks", wid]) => match id(wid).and_then(|x| w.webhooks.get(&WebhookId(x))) {
            Some(h) => Reply::ok(w.webhook_json(h)),
            None => Reply::unknown(Unknown::Webhook),
        },
        ("DELETE", ["webhooks", wid]) => {
            match id(wid).and_then(|x| w.webhooks.remove(&WebhookId(x))) {
                Some(_) => Reply::no_content(),
                None => Reply::unknown(Unknown::Webhook),
            }
        }
        (_, ["webhooks", wid, token, rest @ ..]) => {
            let Some(hook) = id(wid)
                .and_then(|x| w.webhooks.get(&WebhookId(x)))
                .filter(|h| h.token == *token)
                .cloned()
            else {
                return Some(Reply::unknown(Unknown::Webhook));
            };
            match (m, rest) {
                ("GET", []) => Reply::ok(w.webhook_json(&hook)),
                ("POST", []) => execute(w, r, &hook),
                ("GET", ["messages", mid]) => match id(mid)
                    .and_then(|x| w.message(hook.channel_id, MessageId(x)))
                    .filter(|x| x.webhook.as_ref().is_some_and(|a| a.webhook_id == hook.id))
                {
                    Some(msg) => Reply::ok(w.message_json(msg, false)),
                    None => Reply::unknown(Unknown::Message),
                },
                ("PATCH", ["messages", mid]) => {
                    let Some(mid) = id(mid).map(MessageId).filter(|x| {
                        w.message(hook.channel_id, *x).is_some_and(|x| {
                            x.webhook.as_ref().is_some_and(|a| a.webhook_id == hook.id)
                        })
                    }) else {
                        return Some(Reply::unknown(Unknown::Message));
                    };
                    let b = match parse_body(&r.body) {
                        Ok(b) => b,
                        Err(e) => return Some(e),
                    };
                    let msg = w
                        .edit_message(hook.channel_id, mid, |x| apply_edit(x, b))
                        .expect("checked");
                    Reply::ok(w.message_json(&msg, false))
                }
                ("DELETE", ["messages", mid]) => {
                    let ok = id(mid).map(MessageId).filter(|x| {
                        w.message(hook.channel_id, *x).is_some_and(|x| {
                            x.webhook.as_ref().is_some_and(|a| a.webhook_id == hook.id)
                        })
                    });
                    match ok.and_then(|mid| w.delete_message(hook.channel_id, mid)) {
                        Some(_) => Reply::no_content(),
                        None => Reply::unknown(Unknown::Message),
                    }
                }
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// POST /webhooks/{id}/{token}: posts under the given username and avatar. With `wait=true`
/// the message comes back; without, 204 (as on Discord). `thread_id` posts into a thread.
fn execute(w: &mut World, r: &Req<'_>, hook: &Webhook) -> Reply {
    let channel = match r.q("thread_id").and_then(id).map(ChannelId) {
        Some(t) => match w.channels.get(&t) {
            Some(c) if c.parent_id == Some(hook.channel_id) && c.kind.is_thread() => t,
            _ => return Reply::unknown(Unknown::Channel),
        },
        None => hook.channel_id,
    };
    let bot = w.bot_id();
    let mut m = match message_from_body(w, channel, bot, &r.body, &r.files) {
        Ok(m) => m,
        Err(e) => return e,
    };
    m.flags &= !crate::state::Message::EPHEMERAL;
    let username = r
        .body
        .get("username")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if username.is_some_and(|u| u.chars().count() > 80) {
        return Reply::invalid_form(
            "username",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 80 in length.",
        );
    }
    m.webhook = Some(WebhookAuthor {
        webhook_id: hook.id,
        username: username.unwrap_or(&hook.name).to_string(),
        avatar_url: r
            .body
            .get("avatar_url")
            .and_then(Value::as_str)
            .map(str::to_string),
    });
    m.application_id = Some(w.app.id);
    let m = w.insert_message(m);
    if r.q("wait") == Some("true") {
        Reply::ok(w.message_json(&m, false))
    } else {
        Reply::no_content()
    }
}
