//! Gateway discovery, users, the application, guilds, members, channels.

use serde_json::{json, Value};

use super::{Reply, Req, Unknown};
use crate::ids::*;
use crate::state::{ChannelKind, World};

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

pub(super) fn route(w: &mut World, r: &Req<'_>, m: &str, segs: &[&str]) -> Option<Reply> {
    Some(match (m, segs) {
        ("GET", ["gateway"]) => Reply::ok(json!({"url": w.gateway.url})),
        ("GET", ["gateway", "bot"]) => Reply::ok(json!({
            "url": w.gateway.url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000u32.saturating_sub(w.gateway.stats.identifies),
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        })),
        ("GET", ["users", "@me"]) => Reply::ok(w.current_user_json()),
        ("GET", ["users", "@me", "guilds"]) => {
            let guilds: Vec<Value> = w
                .guilds
                .values()
                .map(|g| {
                    json!({
                        "id": g.id, "name": g.name, "icon": null, "banner": null, "owner": false,
                        "permissions": w.member_permissions(g.id, w.bot_id()).to_string(),
                        "features": [],
                    })
                })
                .collect();
            Reply::ok(json!(guilds))
        }
        ("POST", ["users", "@me", "channels"]) => {
            let Some(user) = r.body.get("recipient_id").and_then(parse_snowflake) else {
                return Some(Reply::invalid_form(
                    "recipient_id",
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ));
            };
            if !w.users.contains_key(&UserId(user)) {
                return Some(Reply::unknown(Unknown::User));
            }
            let c = w.dm_channel(UserId(user));
            Reply::ok(w.channel_json(c))
        }
        ("GET", ["users", user]) => {
            match id(user).map(UserId).filter(|u| w.users.contains_key(u)) {
                Some(u) => Reply::ok(w.user_json(u)),
                None => Reply::unknown(Unknown::User),
            }
        }
        ("GET", ["oauth2", "applications", "@me"]) | ("GET", ["applications", "@me"]) => {
            Reply::ok(w.application_json())
        }
        ("GET", ["guilds", g]) => match id(g).map(GuildId).filter(|g| w.guilds.contains_key(g)) {
            Some(g) => {
                let mut v = w.guild_json(g);
                if r.q("with_counts") == Some("true") {
                    let n = w.guilds[&g].members.len();
                    v["approximate_member_count"] = json!(n);
                    v["approximate_presence_count"] = json!(0);
                }
                Reply::ok(v)
            }
            None => Reply::unknown(Unknown::Guild),
        },
        ("GET", ["guilds", g, "channels"]) => {
            let Some(g) = id(g).map(GuildId).filter(|g| w.guilds.contains_key(g)) else {
                return Some(Reply::unknown(Unknown::Guild));
            };
            let v: Vec<Value> = w
                .channels
                .values()
                .filter(|c| c.guild_id == Some(g) && !c.kind.is_thread())
                .map(|c| w.channel_json(c.id))
                .collect();
            Reply::ok(json!(v))
        }
        ("GET", ["guilds", g, "roles"]) => {
            let Some(guild) = id(g).and_then(|g| w.guilds.get(&GuildId(g))) else {
                return Some(Reply::unknown(Unknown::Guild));
            };
            let v: Vec<Value> = guild.roles.values().map(|r| w.role_json(r)).collect();
            Reply::ok(json!(v))
        }
        ("GET", ["guilds", g, "members"]) => {
            let Some(gid) = id(g).map(GuildId).filter(|g| w.guilds.contains_key(g)) else {
                return Some(Reply::unknown(Unknown::Guild));
            };
            let limit = r
                .q("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(1usize)
                .clamp(1, 1000);
            let after = r.q("after").and_then(id).unwrap_or(0);
            let v: Vec<Value> = w.guilds[&gid]
                .members
                .keys()
                .filter(|u| u.0 > after)
                .take(limit)
                .map(|u| w.member_json(gid, *u, true))
                .collect();
            Reply::ok(json!(v))
        }
        ("GET", ["guilds", g, "members", user]) => {
            let Some(gid) = id(g).map(GuildId).filter(|g| w.guilds.contains_key(g)) else {
                return Some(Reply::unknown(Unknown::Guild));
            };
            let uid = if *user == "@me" {
                Some(w.bot_id())
            } else {
                id(user).map(UserId)
            };
            match uid.filter(|u| w.guilds[&gid].members.contains_key(u)) {
                Some(u) => Reply::ok(w.member_json(gid, u, true)),
                None => Reply::unknown(Unknown::Member),
            }
        }
        ("GET", ["channels", c]) => {
            match id(c).map(ChannelId).filter(|c| w.channels.contains_key(c)) {
                Some(c) => Reply::ok(w.channel_json(c)),
                None => Reply::unknown(Unknown::Channel),
            }
        }
        ("PATCH", ["channels", c]) => {
            let Some(cid) = id(c).map(ChannelId).filter(|c| w.channels.contains_key(c)) else {
                return Some(Reply::unknown(Unknown::Channel));
            };
            patch_channel(w, cid, &r.body)
        }
        ("POST", ["channels", c, "typing"]) => {
            if id(c)
                .map(ChannelId)
                .is_some_and(|c| w.channels.contains_key(&c))
            {
                Reply::no_content()
            } else {
                Reply::unknown(Unknown::Channel)
            }
        }
        _ => return None,
    })
}

/// PATCH /channels/{id}: name and topic for channels; name, archived, locked and
/// auto_archive_duration for threads. Dispatches CHANNEL_UPDATE or THREAD_UPDATE.
fn patch_channel(w: &mut World, cid: ChannelId, body: &Value) -> Reply {
    let c = w.channels.get_mut(&cid).expect("checked by caller");
    if c.kind == ChannelKind::Dm {
        return Reply::error(400, 50003, "Cannot execute action on a DM channel");
    }
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        if name.is_empty() || name.chars().count() > 100 {
            return Reply::invalid_form(
                "name",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            );
        }
        c.name = name.to_string();
    }
    if let Some(t) = c.thread.as_mut() {
        if let Some(a) = body.get("archived").and_then(Value::as_bool) {
            if a != t.archived {
                t.archived = a;
                t.archive_timestamp = chrono::Utc::now();
            }
        }
        if let Some(l) = body.get("locked").and_then(Value::as_bool) {
            t.locked = l;
        }
        if let Some(d) = body.get("auto_archive_duration").and_then(Value::as_u64) {
            if ![60, 1440, 4320, 10080].contains(&d) {
                return Reply::invalid_form(
                    "auto_archive_duration",
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {60, 1440, 4320, 10080}.",
                );
            }
            t.auto_archive_duration = d as u32;
        }
        w.dispatch_channel_event("THREAD_UPDATE", cid);
    } else {
        if let Some(topic) = body.get("topic") {
            c.topic = topic.as_str().map(str::to_string);
        }
        w.dispatch_channel_event("CHANNEL_UPDATE", cid);
    }
    Reply::ok(w.channel_json(cid))
}
