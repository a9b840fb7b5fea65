//! Threads: started from a message, or standalone; the guild's active threads; joining.

use chrono::Utc;
use serde_json::{json, Value};

use super::{Reply, Req, Unknown};
use crate::ids::*;
use crate::state::{permissions, Channel, ChannelKind, Message, ThreadState, World};

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

pub(super) fn route(w: &mut World, r: &Req<'_>, m: &str, segs: &[&str]) -> Option<Reply> {
    Some(match (m, segs) {
        ("POST", ["channels", c, "messages", mid, "threads"]) => {
            let cid = ChannelId(id(c)?);
            let Some(mid) = id(mid).map(MessageId) else {
                return Some(Reply::unknown(Unknown::Message));
            };
            from_message(w, r, cid, mid)
        }
        ("POST", ["channels", c, "threads"]) => {
            let cid = ChannelId(id(c)?);
            standalone(w, r, cid)
        }
        ("GET", ["guilds", g, "threads", "active"]) => {
            let gid = GuildId(id(g)?);
            if !w.guilds.contains_key(&gid) {
                return Some(Reply::unknown(Unknown::Guild));
            }
            let threads: Vec<Value> = w
                .channels
                .values()
                .filter(|c| {
                    c.guild_id == Some(gid) && c.thread.as_ref().is_some_and(|t| !t.archived)
                })
                .map(|c| w.channel_json(c.id))
                .collect();
            Reply::ok(json!({"threads": threads, "members": []}))
        }
        ("PUT", ["channels", c, "thread-members", "@me"]) => {
            let cid = ChannelId(id(c)?);
            match w.channels.get(&cid) {
                Some(ch) if ch.kind.is_thread() => Reply::no_content(),
                Some(_) => Reply::error(400, 50024, "Cannot execute action on this channel type"),
                None => Reply::unknown(Unknown::Channel),
            }
        }
        _ => return None,
    })
}

fn thread_name(body: &Value) -> Result<String, Reply> {
    match body.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() && n.chars().count() <= 100 => Ok(n.to_string()),
        _ => Err(Reply::invalid_form(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        )),
    }
}

fn parent_ok(w: &World, cid: ChannelId) -> Result<GuildId, Reply> {
    match w.channels.get(&cid) {
        None => Err(Reply::unknown(Unknown::Channel)),
        Some(c) if c.kind != ChannelKind::Text => Err(Reply::error(
            400,
            50024,
            "Cannot execute action on this channel type",
        )),
        Some(c) => Ok(c.guild_id.expect("text channels belong to a guild")),
    }
}

/// Creates the thread channel and dispatches THREAD_CREATE.
#[allow(clippy::too_many_arguments)] // one call per field of the thread; a struct would only rename them
pub(crate) fn make_thread(
    w: &mut World,
    id: ChannelId,
    parent: ChannelId,
    guild: GuildId,
    name: String,
    kind: ChannelKind,
    owner: UserId,
    auto_archive: u32,
) {
    let now = Utc::now();
    w.channels.insert(
        id,
        Channel {
            id,
            guild_id: Some(guild),
            kind,
            name,
            topic: None,
            position: 0,
            parent_id: Some(parent),
            thread: Some(ThreadState {
                owner_id: owner,
                archived: false,
                locked: false,
                auto_archive_duration: auto_archive,
                archive_timestamp: now,
                created_at: now,
                total_message_sent: 0,
            }),
            last_message_id: None,
            recipients: vec![],
        },
    );
    w.dispatch_channel_event("THREAD_CREATE", id);
}

fn auto_archive(body: &Value) -> u32 {
    body.get("auto_archive_duration")
        .and_then(Value::as_u64)
        .filter(|d| [60, 1440, 4320, 10080].contains(d))
        .unwrap_or(1440) as u32
}

/// Whether the bot may start a thread of `kind` in `guild` (channel overwrites are not
/// modelled): Discord answers 403 50013 otherwise.
fn may_start(w: &World, guild: GuildId, kind: ChannelKind) -> Result<(), Reply> {
    let needed = match kind {
        ChannelKind::PrivateThread => permissions::CREATE_PRIVATE_THREADS,
        _ => permissions::CREATE_PUBLIC_THREADS,
    };
    if w.member_permissions(guild, w.bot_id()) & needed == 0 {
        return Err(Reply::error(403, 50013, "Missing Permissions"));
    }
    Ok(())
}

fn from_message(w: &mut World, r: &Req<'_>, cid: ChannelId, mid: MessageId) -> Reply {
    let guild = match parent_ok(w, cid) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = may_start(w, guild, ChannelKind::PublicThread) {
        return e;
    }
    let name = match thread_name(&r.body) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let Some(msg) = w.message(cid, mid) else {
        return Reply::unknown(Unknown::Message);
    };
    if msg.thread_id.is_some() {
        return Reply::error(
            400,
            160004,
            "A thread has already been created for this message",
        );
    }
    // A thread started from a message has the message's id, as on Discord.
    let tid = ChannelId(mid.0);
    let bot = w.bot_id();
    make_thread(
        w,
        tid,
        cid,
        guild,
        name,
        ChannelKind::PublicThread,
        bot,
        auto_archive(&r.body),
    );
    w.edit_message_silently(cid, mid, |m: &mut Message| {
        m.thread_id = Some(tid);
        m.flags |= Message::HAS_THREAD;
    });
    Reply::created(w.channel_json(tid))
}

fn standalone(w: &mut World, r: &Req<'_>, cid: ChannelId) -> Reply {
    let guild = match parent_ok(w, cid) {
        Ok(g) => g,
        Err(e) => return e,
    };
    let name = match thread_name(&r.body) {
        Ok(n) => n,
        Err(e) => return e,
    };
    // Discord's default for this endpoint is a private thread.
    let kind = match r.body.get("type").and_then(Value::as_u64) {
        Some(11) => ChannelKind::PublicThread,
        None | Some(12) => ChannelKind::PrivateThread,
        Some(_) => {
            return Reply::invalid_form(
                "type",
                "BASE_TYPE_CHOICES",
                "Value must be one of {11, 12}.",
            )
        }
    };
    if let Err(e) = may_start(w, guild, kind) {
        return e;
    }
    let tid = ChannelId(w.next_id());
    let bot = w.bot_id();
    make_thread(w, tid, cid, guild, name, kind, bot, auto_archive(&r.body));
    Reply::created(w.channel_json(tid))
}
