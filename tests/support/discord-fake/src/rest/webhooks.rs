//! Channel webhooks (what bots use to relay messages under other names): create, list, get,
//! delete, execute, and get/edit/delete of messages sent through them, with Discord's rules:
//! managing webhooks needs Manage Webhooks (403 50013), only a guild text channel has them
//! (50024 otherwise; 15 at most, 30007), names and usernames are 1 to 80 characters and contain
//! neither `clyde` nor `discord` (50035), a message in a thread is found only with its
//! `thread_id`, and an execute cannot reply (`message_reference` and `nonce` are not among its
//! parameters: they are ignored).

use serde_json::{json, Value};

use super::messages::{apply_edit, message_from_body, parse_body};
use super::{Reply, Req, Unknown};
use crate::ids::*;
use crate::state::{permissions, ChannelKind, Webhook, WebhookAuthor, World};

/// Discord's cap on a channel's webhooks.
pub(crate) const MAX_PER_CHANNEL: usize = 15;

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

fn missing_permissions() -> Reply {
    Reply::error(403, 50013, "Missing Permissions")
}

/// Whether the bot may manage webhooks in `guild` (channel overwrites are not modelled).
fn may_manage(w: &World, guild: Option<GuildId>) -> bool {
    guild.is_some_and(|g| w.member_permissions(g, w.bot_id()) & permissions::MANAGE_WEBHOOKS != 0)
}

/// What is wrong with a webhook name or username, as Discord words it: `None` when it is
/// accepted. Discord trims it first.
pub(crate) fn bad_name(name: &str) -> Option<(&'static str, &'static str)> {
    let name = name.trim();
    let lower = name.to_lowercase();
    if name.is_empty() || name.chars().count() > 80 {
        Some((
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 80 in length.",
        ))
    } else if lower.contains("clyde") {
        Some((
            "USERNAME_INVALID_CONTAINS",
            "Username cannot contain \"clyde\"",
        ))
    } else if lower.contains("discord") {
        Some((
            "USERNAME_INVALID_CONTAINS",
            "Username cannot contain \"discord\"",
        ))
    } else {
        None
    }
}

/// Makes a webhook in `channel` (already checked to take one): the fake's part of a create.
pub(crate) fn add_webhook(
    w: &mut World,
    channel: ChannelId,
    name: &str,
    creator: UserId,
    application: Option<ApplicationId>,
) -> Webhook {
    let guild_id = w.channels.get(&channel).and_then(|c| c.guild_id);
    let wid = WebhookId(w.next_id());
    let token = crate::state::image_hash(wid.0, 11) + &crate::state::image_hash(wid.0, 12);
    let hook = Webhook {
        id: wid,
        token,
        guild_id,
        channel_id: channel,
        name: name.trim().to_string(),
        creator_id: creator,
        application_id: application,
    };
    w.webhooks.insert(wid, hook.clone());
    w.dispatch_webhooks_update(guild_id, channel);
    hook
}

/// Why `channel` cannot have another webhook, if it cannot.
pub(crate) fn refuse_webhook(w: &World, channel: ChannelId) -> Option<Reply> {
    let Some(ch) = w.channels.get(&channel) else {
        return Some(Reply::unknown(Unknown::Channel));
    };
    if ch.kind != ChannelKind::Text || ch.guild_id.is_none() {
        return Some(Reply::error(
            400,
            50024,
            "Cannot execute action on this channel type",
        ));
    }
    if w.webhooks
        .values()
        .filter(|h| h.channel_id == channel)
        .count()
        >= MAX_PER_CHANNEL
    {
        return Some(Reply::error(
            400,
            30007,
            "Maximum number of webhooks reached (15)",
        ));
    }
    None
}

pub(super) fn route(w: &mut World, r: &Req<'_>, m: &str, segs: &[&str]) -> Option<Reply> {
    Some(match (m, segs) {
        ("POST", ["channels", c, "webhooks"]) => {
            let cid = ChannelId(id(c)?);
            let Some(ch) = w.channels.get(&cid) else {
                return Some(Reply::unknown(Unknown::Channel));
            };
            if !may_manage(w, ch.guild_id) {
                return Some(missing_permissions());
            }
            if let Some(refused) = refuse_webhook(w, cid) {
                return Some(refused);
            }
            let name = r.body.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some((code, message)) = bad_name(name) {
                return Some(Reply::invalid_form("name", code, message));
            }
            let (bot, app) = (w.bot_id(), w.app.id);
            let hook = add_webhook(w, cid, name, bot, Some(app));
            Reply::ok(w.webhook_json(&hook))
        }
        ("GET", ["channels", c, "webhooks"]) => {
            let cid = ChannelId(id(c)?);
            let Some(ch) = w.channels.get(&cid) else {
                return Some(Reply::unknown(Unknown::Channel));
            };
            if !may_manage(w, ch.guild_id) {
                return Some(missing_permissions());
            }
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
            if !w.guilds.contains_key(&gid) {
                return Some(Reply::unknown(Unknown::Guild));
            }
            if !may_manage(w, Some(gid)) {
                return Some(missing_permissions());
            }
            let v: Vec<Value> = w
                .webhooks
                .values()
                .filter(|h| h.guild_id == Some(gid))
                .map(|h| w.webhook_json(h))
                .collect();
            Reply::ok(json!(v))
        }
        // Without its token: Manage Webhooks, unless the application owns it (Get Webhook).
        ("GET", ["webhooks", wid]) => match id(wid).and_then(|x| w.webhooks.get(&WebhookId(x))) {
            Some(h) if h.application_id == Some(w.app.id) || may_manage(w, h.guild_id) => {
                Reply::ok(w.webhook_json(h))
            }
            Some(_) => missing_permissions(),
            None => Reply::unknown(Unknown::Webhook),
        },
        ("DELETE", ["webhooks", wid]) => {
            match id(wid).and_then(|x| w.webhooks.get(&WebhookId(x))).cloned() {
                Some(h) if may_manage(w, h.guild_id) => {
                    w.webhooks.remove(&h.id);
                    w.dispatch_webhooks_update(h.guild_id, h.channel_id);
                    Reply::no_content()
                }
                Some(_) => missing_permissions(),
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
            // A message in a thread is found only with its thread named (`thread_id`).
            let channel = match thread_of(w, r, &hook) {
                Ok(c) => c,
                Err(e) => return Some(e),
            };
            let sent_by_hook = |w: &World, mid: &str| {
                id(mid).map(MessageId).filter(|x| {
                    w.message(channel, *x).is_some_and(|x| {
                        x.webhook.as_ref().is_some_and(|a| a.webhook_id == hook.id)
                    })
                })
            };
            match (m, rest) {
                ("GET", []) => {
                    let mut v = w.webhook_json(&hook);
                    // Read with its token, a webhook comes without its creator.
                    v.as_object_mut().map(|o| o.remove("user"));
                    Reply::ok(v)
                }
                ("DELETE", []) => {
                    w.webhooks.remove(&hook.id);
                    w.dispatch_webhooks_update(hook.guild_id, hook.channel_id);
                    Reply::no_content()
                }
                ("POST", []) => execute(w, r, &hook, channel),
                ("GET", ["messages", mid]) => match sent_by_hook(w, mid) {
                    Some(mid) => {
                        Reply::ok(w.message_json(w.message(channel, mid).expect("checked"), false))
                    }
                    None => Reply::unknown(Unknown::Message),
                },
                ("PATCH", ["messages", mid]) => {
                    let Some(mid) = sent_by_hook(w, mid) else {
                        return Some(Reply::unknown(Unknown::Message));
                    };
                    let b = match parse_body(&r.body) {
                        Ok(b) => b,
                        Err(e) => return Some(e),
                    };
                    let msg = w
                        .edit_message(channel, mid, |x| apply_edit(x, b))
                        .expect("checked");
                    Reply::ok(w.message_json(&msg, false))
                }
                ("DELETE", ["messages", mid]) => {
                    match sent_by_hook(w, mid).and_then(|mid| w.delete_message(channel, mid)) {
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

/// The channel a token route acts in: the thread `thread_id` names (which must be one of the
/// webhook's channel), else the webhook's channel.
fn thread_of(w: &World, r: &Req<'_>, hook: &Webhook) -> Result<ChannelId, Reply> {
    match r.q("thread_id") {
        None => Ok(hook.channel_id),
        Some(t) => match id(t).map(ChannelId).and_then(|t| w.channels.get(&t)) {
            Some(c) if c.parent_id == Some(hook.channel_id) && c.kind.is_thread() => Ok(c.id),
            _ => Err(Reply::unknown(Unknown::Channel)),
        },
    }
}

/// POST /webhooks/{id}/{token}: posts under the given username and avatar. With `wait=true`
/// the message comes back; without, 204 (as on Discord). `thread_id` posts into a thread,
/// unarchiving it (a locked one refuses).
fn execute(w: &mut World, r: &Req<'_>, hook: &Webhook, channel: ChannelId) -> Reply {
    if let Some(t) = w.channels.get_mut(&channel).and_then(|c| c.thread.as_mut()) {
        if t.locked {
            return Reply::error(400, 50083, "Thread is archived");
        }
        t.archived = false;
    }
    let username = match r.body.get("username") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) => {
            if let Some((code, message)) = bad_name(u) {
                return Reply::invalid_form("username", code, message);
            }
            Some(u.trim().to_string())
        }
        Some(_) => {
            return Reply::invalid_form(
                "username",
                "STRING_TYPE_CONVERT",
                "Could not interpret value as string.",
            )
        }
    };
    // Not parameters of an execute: a webhook cannot reply, and has no nonce.
    let mut body = r.body.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("message_reference");
        o.remove("nonce");
        o.remove("enforce_nonce");
    }
    let mut m = match message_from_body(w, channel, hook.creator_id, &body, &r.files) {
        Ok(m) => m,
        Err(e) => return e,
    };
    m.flags &= !crate::state::Message::EPHEMERAL;
    m.webhook = Some(WebhookAuthor {
        webhook_id: hook.id,
        username: username.unwrap_or_else(|| hook.name.clone()),
        avatar_url: r
            .body
            .get("avatar_url")
            .and_then(Value::as_str)
            .map(str::to_string),
    });
    m.application_id = hook.application_id;
    let m = w.insert_message(m);
    if r.q("wait") == Some("true") {
        Reply::ok(w.message_json(&m, false))
    } else {
        Reply::no_content()
    }
}
