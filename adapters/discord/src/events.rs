//! Gateway dispatches (and REST messages, which have the same shape) read from their raw
//! JSON, field by field. A payload that lacks what we need, or carries ids that are not
//! snowflakes, is an `Err` naming the field: the listener logs it and skips it, never panics.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use bot_core::model::Attachment;

/// What a dispatch means to hashchat.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatch {
    Guild(GuildInfo),
    /// GUILD_UPDATE: the guild's owner, who may have changed.
    GuildOwner {
        guild: u64,
        owner: u64,
    },
    /// A role made or changed (its permission bits), or deleted (`None`).
    Role {
        guild: u64,
        role: u64,
        permissions: Option<u64>,
    },
    /// A thread created or updated, and its parent channel.
    Thread {
        id: u64,
        parent: u64,
        guild: Option<u64>,
    },
    Message(Box<MessageData>),
    Edited {
        id: u64,
        channel: u64,
        content: String,
        /// Display names of the users the new text mentions.
        names: HashMap<u64, String>,
        at: DateTime<Utc>,
    },
    Deleted {
        ids: Vec<u64>,
        channel: u64,
    },
    Reaction {
        added: bool,
        channel: u64,
        message: u64,
        user: u64,
        /// The reacting member's nickname, else global name, else username, when Discord
        /// sends their member (it does with additions in guilds).
        name: Option<String>,
        emoji: String,
    },
    Interaction(Box<InteractionData>),
    /// Nothing hashchat uses.
    Ignored,
}

/// A guild as GUILD_CREATE gives it: what moderation and threads need.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuildInfo {
    pub id: u64,
    pub owner: u64,
    /// Role id → permission bits; the guild's own id is `@everyone`.
    pub roles: HashMap<u64, u64>,
    /// Channels of the guild (text channels and active threads) → parent for threads.
    pub channels: Vec<(u64, Option<u64>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Author {
    pub id: u64,
    pub username: String,
    pub global_name: Option<String>,
    pub avatar: Option<String>,
    pub bot: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageData {
    pub id: u64,
    pub channel: u64,
    pub guild: Option<u64>,
    pub author: Author,
    pub webhook: Option<u64>,
    /// The application whose interaction or webhook sent it, if one did.
    pub application: Option<u64>,
    /// The author's nickname in the guild, when the payload has their member.
    pub nick: Option<String>,
    /// The author's roles, when the payload has their member.
    pub roles: Option<Vec<u64>>,
    pub content: String,
    pub sent_at: DateTime<Utc>,
    pub reply_to: Option<u64>,
    pub attachments: Vec<Attachment>,
    /// Display names of the users the message mentions (`<@id>` in its content).
    pub mention_names: HashMap<u64, String>,
}

impl MessageData {
    /// Member nickname, else global name, else username.
    pub fn display_name(&self) -> String {
        self.nick
            .clone()
            .or_else(|| self.author.global_name.clone())
            .unwrap_or_else(|| self.author.username.clone())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InteractionData {
    pub id: u64,
    pub token: String,
    /// 2: application command; 4: autocomplete.
    pub kind: u64,
    pub channel: u64,
    pub guild: Option<u64>,
    pub user: u64,
    pub display_name: String,
    /// The member's permissions in the channel, as Discord computed them for this interaction.
    pub permissions: u64,
    pub roles: Vec<u64>,
    /// The command's `data`: name and options.
    pub data: Value,
}

type Parsed<T> = Result<T, String>;

/// Reads a dispatch of type `t` with payload `d`.
pub fn parse_dispatch(t: &str, d: &Value) -> Parsed<Dispatch> {
    Ok(match t {
        "GUILD_CREATE" => Dispatch::Guild(parse_guild(d)?),
        "GUILD_UPDATE" => match opt_snowflake(d, "owner_id")? {
            Some(owner) => Dispatch::GuildOwner {
                guild: snowflake(d, "id")?,
                owner,
            },
            None => Dispatch::Ignored,
        },
        "GUILD_ROLE_CREATE" | "GUILD_ROLE_UPDATE" => {
            let role = d.get("role").ok_or("role: missing")?;
            Dispatch::Role {
                guild: snowflake(d, "guild_id")?,
                role: snowflake(role, "id")?,
                permissions: Some(permissions(role).ok_or("role.permissions: not a number")?),
            }
        }
        "GUILD_ROLE_DELETE" => Dispatch::Role {
            guild: snowflake(d, "guild_id")?,
            role: snowflake(d, "role_id")?,
            permissions: None,
        },
        "THREAD_CREATE" | "THREAD_UPDATE" | "CHANNEL_CREATE" => match d.get("parent_id") {
            Some(p) if !p.is_null() && is_thread(d) => Dispatch::Thread {
                id: snowflake(d, "id")?,
                parent: snowflake(d, "parent_id")?,
                guild: opt_snowflake(d, "guild_id")?,
            },
            _ => Dispatch::Ignored,
        },
        "MESSAGE_CREATE" => match parse_message(d)? {
            Some(m) => Dispatch::Message(Box::new(m)),
            None => Dispatch::Ignored,
        },
        "MESSAGE_UPDATE" => {
            // An update without content or an edit time is Discord filling in an embed, not
            // the author editing.
            match (
                d.get("content").and_then(Value::as_str),
                d.get("edited_timestamp"),
            ) {
                (Some(content), Some(at)) if !at.is_null() => Dispatch::Edited {
                    id: snowflake(d, "id")?,
                    channel: snowflake(d, "channel_id")?,
                    content: content.to_owned(),
                    names: mention_names(d),
                    at: timestamp(d, "edited_timestamp")?,
                },
                _ => Dispatch::Ignored,
            }
        }
        "MESSAGE_DELETE" => Dispatch::Deleted {
            ids: vec![snowflake(d, "id")?],
            channel: snowflake(d, "channel_id")?,
        },
        "MESSAGE_DELETE_BULK" => {
            let ids = d
                .get("ids")
                .and_then(Value::as_array)
                .ok_or("ids: missing or not a list")?
                .iter()
                .map(|v| {
                    v.as_str()
                        .and_then(parse_snowflake)
                        .ok_or("ids: not snowflakes")
                })
                .collect::<Result<Vec<u64>, _>>()?;
            Dispatch::Deleted {
                ids,
                channel: snowflake(d, "channel_id")?,
            }
        }
        "MESSAGE_REACTION_ADD" | "MESSAGE_REACTION_REMOVE" => Dispatch::Reaction {
            added: t == "MESSAGE_REACTION_ADD",
            channel: snowflake(d, "channel_id")?,
            message: snowflake(d, "message_id")?,
            user: snowflake(d, "user_id")?,
            name: reacting_member_name(d)?,
            emoji: emoji_key(d.get("emoji").ok_or("emoji: missing")?)?,
        },
        "INTERACTION_CREATE" => match parse_interaction(d)? {
            Some(i) => Dispatch::Interaction(Box::new(i)),
            None => Dispatch::Ignored,
        },
        _ => Dispatch::Ignored,
    })
}

/// The name a reaction's `member` goes by in the guild, if the payload has one.
fn reacting_member_name(d: &Value) -> Parsed<Option<String>> {
    let Some(member) = d.get("member").filter(|m| m.is_object()) else {
        return Ok(None);
    };
    let user = member.get("user").filter(|u| u.is_object());
    let from_user = |key: &str| -> Parsed<Option<String>> {
        match user {
            Some(u) => text(u, key),
            None => Ok(None),
        }
    };
    Ok(text(member, "nick")?
        .or(from_user("global_name")?)
        .or(from_user("username")?))
}

fn is_thread(d: &Value) -> bool {
    // 10, 11, 12: announcement, public and private threads.
    matches!(d.get("type").and_then(Value::as_u64), Some(10..=12))
}

/// A guild from GUILD_CREATE, or from REST (which has no channels or threads).
pub fn parse_guild(d: &Value) -> Parsed<GuildInfo> {
    let id = snowflake(d, "id")?;
    let mut roles = HashMap::new();
    for role in d
        .get("roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let rid = snowflake(role, "id")?;
        let perms = permissions(role).ok_or("roles[].permissions: not a number")?;
        roles.insert(rid, perms);
    }
    // A text channel's parent is its category, which means nothing here; a thread's is the
    // channel it belongs to.
    let mut channels = Vec::new();
    for c in d
        .get("channels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        channels.push((snowflake(c, "id")?, None));
    }
    for c in d
        .get("threads")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        channels.push((snowflake(c, "id")?, opt_snowflake(c, "parent_id")?));
    }
    Ok(GuildInfo {
        id,
        owner: opt_snowflake(d, "owner_id")?.unwrap_or(0),
        roles,
        channels,
    })
}

/// A role's permission bits (Discord sends them as a decimal string).
fn permissions(role: &Value) -> Option<u64> {
    role.get("permissions")?.as_str()?.parse().ok()
}

/// A message people wrote: default (0) and replies (19). Joins, pins, boosts and the like are
/// `None`.
pub fn parse_message(d: &Value) -> Parsed<Option<MessageData>> {
    let kind = d.get("type").and_then(Value::as_u64).unwrap_or(0);
    if !matches!(kind, 0 | 19) {
        return Ok(None);
    }
    let a = d.get("author").ok_or("author: missing")?;
    let author = Author {
        id: snowflake(a, "id")?,
        username: text(a, "username")?.unwrap_or_default(),
        global_name: text(a, "global_name")?,
        avatar: text(a, "avatar")?,
        bot: a.get("bot").and_then(Value::as_bool).unwrap_or(false),
    };
    let member = d.get("member").filter(|m| m.is_object());
    let nick = match member {
        Some(m) => text(m, "nick")?,
        None => None,
    };
    let roles = match member {
        Some(m) => Some(
            m.get("roles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| {
                    r.as_str()
                        .and_then(parse_snowflake)
                        .ok_or("member.roles: not snowflakes")
                })
                .collect::<Result<Vec<u64>, _>>()?,
        ),
        None => None,
    };
    let reply_to = match (kind, d.get("message_reference")) {
        (19, Some(r)) if r.is_object() => opt_snowflake(r, "message_id")?,
        _ => None,
    };
    let mut attachments = Vec::new();
    for att in d
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let url = text(att, "url")?.ok_or("attachments[].url: missing")?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("attachments[].url: not an http(s) URL".to_owned());
        }
        attachments.push(Attachment {
            url,
            name: text(att, "filename")?.unwrap_or_else(|| "attachment".to_owned()),
            content_type: text(att, "content_type")?,
            size_bytes: att.get("size").and_then(Value::as_i64),
        });
    }
    Ok(Some(MessageData {
        id: snowflake(d, "id")?,
        channel: snowflake(d, "channel_id")?,
        guild: opt_snowflake(d, "guild_id")?,
        author,
        webhook: opt_snowflake(d, "webhook_id")?,
        application: opt_snowflake(d, "application_id")?,
        nick,
        roles,
        content: d
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        sent_at: timestamp(d, "timestamp")?,
        reply_to,
        attachments,
        mention_names: mention_names(d),
    }))
}

/// The `mentions` a message payload lists: each user's nickname (when the payload has their
/// member), else global name, else username. Entries that are not users are left out; a
/// mention without a name is written as someone unnamed.
fn mention_names(d: &Value) -> HashMap<u64, String> {
    d.get("mentions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|u| {
            let id = u.get("id")?.as_str().and_then(parse_snowflake)?;
            fn field(v: Option<&Value>) -> Option<&str> {
                v.and_then(Value::as_str).filter(|n| !n.is_empty())
            }
            let name = field(u.get("member").and_then(|m| m.get("nick")))
                .or_else(|| field(u.get("global_name")))
                .or_else(|| field(u.get("username")))?;
            Some((id, name.to_owned()))
        })
        .collect()
}

fn parse_interaction(d: &Value) -> Parsed<Option<InteractionData>> {
    let kind = d.get("type").and_then(Value::as_u64).unwrap_or(0);
    if !matches!(kind, 2 | 4) {
        return Ok(None);
    }
    let token = text(d, "token")?.ok_or("token: missing")?;
    let member = d.get("member").filter(|m| m.is_object());
    let user = member
        .and_then(|m| m.get("user"))
        .or_else(|| d.get("user"))
        .ok_or("user: missing")?;
    let nick = match member {
        Some(m) => text(m, "nick")?,
        None => None,
    };
    let display_name = nick
        .or(text(user, "global_name")?)
        .or(text(user, "username")?)
        .unwrap_or_default();
    let permissions = member
        .and_then(|m| m.get("permissions"))
        .and_then(Value::as_str)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0);
    let roles = member
        .and_then(|m| m.get("roles"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().and_then(parse_snowflake))
        .collect();
    let channel = match opt_snowflake(d, "channel_id")? {
        Some(c) => c,
        None => snowflake(d.get("channel").ok_or("channel_id: missing")?, "id")?,
    };
    Ok(Some(InteractionData {
        id: snowflake(d, "id")?,
        token,
        kind,
        channel,
        guild: opt_snowflake(d, "guild_id")?,
        user: snowflake(user, "id")?,
        display_name,
        permissions,
        roles,
        data: d.get("data").cloned().ok_or("data: missing")?,
    }))
}

/// A reaction's emoji as a key: the unicode emoji itself, or `name:id` for a custom one.
fn emoji_key(e: &Value) -> Parsed<String> {
    let name = text(e, "name")?;
    match (opt_snowflake(e, "id")?, name) {
        (Some(id), name) => Ok(format!("{}:{id}", name.unwrap_or_default())),
        (None, Some(name)) => Ok(name),
        (None, None) => Err("emoji: neither name nor id".to_owned()),
    }
}

fn parse_snowflake(s: &str) -> Option<u64> {
    (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn snowflake(v: &Value, key: &str) -> Parsed<u64> {
    opt_snowflake(v, key)?.ok_or_else(|| format!("{key}: missing"))
}

fn opt_snowflake(v: &Value, key: &str) -> Parsed<Option<u64>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_snowflake(s)
            .map(Some)
            .ok_or_else(|| format!("{key}: `{}` is not a snowflake", short(s))),
        Some(_) => Err(format!("{key}: not a string")),
    }
}

/// An optional string with no control characters but line breaks and tabs, at most 64 kB (a
/// store could refuse what is not, and stall reading).
fn text(v: &Value, key: &str) -> Parsed<Option<String>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() > 65_536 => Err(format!("{key}: too long")),
        Some(Value::String(s)) if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
            Err(format!("{key}: control characters"))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{key}: not a string")),
    }
}

fn timestamp(v: &Value, key: &str) -> Parsed<DateTime<Utc>> {
    let s = v
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{key}: missing"))?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{key}: `{}` is not an ISO 8601 time", short(s)))
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message() -> Value {
        json!({
            "id": "1100", "channel_id": "10", "guild_id": "1", "type": 19,
            "author": {"id": "7", "username": "alice", "global_name": "Alice A", "avatar": "abc"},
            "member": {"nick": "Ali", "roles": ["3"]},
            "content": "A1: hello @everyone", "timestamp": "2025-01-08T10:00:00.000000+00:00",
            "message_reference": {"message_id": "1099", "channel_id": "10"},
            "attachments": [{"id": "5", "filename": "cat.png", "content_type": "image/png", "size": 68,
                             "url": "http://127.0.0.1:9/attachments/10/5/cat.png"}]
        })
    }

    #[test]
    fn a_message_becomes_its_parts() {
        let Dispatch::Message(m) = parse_dispatch("MESSAGE_CREATE", &message()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (m.id, m.channel, m.guild, m.author.id),
            (1100, 10, Some(1), 7)
        );
        assert_eq!(m.display_name(), "Ali");
        assert_eq!(m.roles, Some(vec![3]));
        assert_eq!(m.reply_to, Some(1099));
        assert_eq!(m.attachments[0].name, "cat.png");
        assert_eq!(m.sent_at.to_rfc3339(), "2025-01-08T10:00:00+00:00");
        let mut no_member = message();
        no_member.as_object_mut().unwrap().remove("member");
        let Dispatch::Message(m) = parse_dispatch("MESSAGE_CREATE", &no_member).unwrap() else {
            panic!()
        };
        assert_eq!(m.display_name(), "Alice A");
    }

    #[test]
    fn malformed_payloads_are_errors_naming_the_field_never_panics() {
        let cases = [
            ("MESSAGE_CREATE", json!({})),
            ("MESSAGE_CREATE", json!({"author": {"id": "x"}})),
            ("MESSAGE_CREATE", json!({"author": {"id": 7}, "id": "1"})),
            ("MESSAGE_CREATE", {
                let mut m = message();
                m["timestamp"] = json!("yesterday");
                m
            }),
            ("MESSAGE_CREATE", {
                let mut m = message();
                m["attachments"][0]["url"] = json!("file:///etc/passwd");
                m
            }),
            ("MESSAGE_CREATE", {
                let mut m = message();
                m["author"]["username"] = json!("a\u{0}b");
                m
            }),
            ("MESSAGE_DELETE", json!({"id": "99999999999999999999999"})),
            (
                "MESSAGE_DELETE_BULK",
                json!({"ids": [1, 2], "channel_id": "1"}),
            ),
            (
                "MESSAGE_REACTION_ADD",
                json!({"channel_id": "1", "message_id": "2", "user_id": "3", "emoji": {}}),
            ),
            ("INTERACTION_CREATE", json!({"type": 2, "id": "1"})),
            (
                "GUILD_CREATE",
                json!({"id": "1", "roles": [{"id": "2", "permissions": 8}]}),
            ),
            (
                "MESSAGE_UPDATE",
                json!({"content": "x", "edited_timestamp": "2025-01-08T10:00:00Z", "id": []}),
            ),
        ];
        for (t, d) in cases {
            let e = parse_dispatch(t, &d).expect_err(&format!("{t} {d}"));
            assert!(!e.is_empty());
        }
        assert_eq!(
            parse_dispatch("MESSAGE_CREATE", &json!({})).unwrap_err(),
            "author: missing"
        );
        // Not ours to read, but not errors: other dispatches, other message types, embed updates.
        assert_eq!(
            parse_dispatch("TYPING_START", &json!(null)),
            Ok(Dispatch::Ignored)
        );
        assert_eq!(
            parse_dispatch("MESSAGE_CREATE", &json!({"type": 7})),
            Ok(Dispatch::Ignored)
        );
        assert_eq!(
            parse_dispatch(
                "MESSAGE_UPDATE",
                &json!({"id": "1", "channel_id": "2", "embeds": []})
            ),
            Ok(Dispatch::Ignored)
        );
    }

    #[test]
    fn reactions_edits_deletions_and_interactions_are_read() {
        assert_eq!(
            parse_dispatch(
                "MESSAGE_REACTION_REMOVE",
                &json!({"channel_id": "1", "message_id": "2", "user_id": "3", "emoji": {"id": "9", "name": "blob"}})
            ),
            Ok(Dispatch::Reaction {
                added: false,
                channel: 1,
                message: 2,
                user: 3,
                name: None,
                emoji: "blob:9".into()
            })
        );
        assert_eq!(
            parse_dispatch(
                "MESSAGE_REACTION_ADD",
                &json!({"channel_id": "1", "message_id": "2", "user_id": "3", "emoji": {"id": null, "name": "👍"},
                        "member": {"nick": null, "user": {"id": "3", "username": "ann", "global_name": "Ann B"}}})
            ),
            Ok(Dispatch::Reaction {
                added: true,
                channel: 1,
                message: 2,
                user: 3,
                name: Some("Ann B".into()),
                emoji: "👍".into()
            })
        );
        assert_eq!(
            parse_dispatch(
                "MESSAGE_DELETE_BULK",
                &json!({"ids": ["4", "5"], "channel_id": "1"})
            ),
            Ok(Dispatch::Deleted {
                ids: vec![4, 5],
                channel: 1
            })
        );
        let Dispatch::Edited { content, .. } = parse_dispatch(
            "MESSAGE_UPDATE",
            &json!({"id": "1", "channel_id": "2", "content": "new", "edited_timestamp": "2025-01-08T10:00:00Z"}),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(content, "new");
        let Dispatch::Interaction(i) = parse_dispatch(
            "INTERACTION_CREATE",
            &json!({"type": 2, "id": "50", "token": "tok", "channel_id": "10", "guild_id": "1",
                    "member": {"user": {"id": "7", "username": "morgan"}, "roles": ["3"], "permissions": "8589934592"},
                    "data": {"name": "chat", "options": []}}),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (i.id, i.user, i.permissions, i.roles.clone()),
            (50, 7, 1 << 33, vec![3])
        );
        assert_eq!(i.display_name, "morgan");
    }

    #[test]
    fn mentioned_users_are_named_by_nickname_else_global_name_else_username() {
        let d = json!({"mentions": [
            {"id": "1", "username": "ann", "global_name": "Ann", "member": {"nick": "Annie"}},
            {"id": "2", "username": "bob", "global_name": "Bob", "member": {"nick": null}},
            {"id": "3", "username": "cy", "global_name": null},
            {"id": "x", "username": "not a snowflake"},
            "not a user"
        ]});
        assert_eq!(
            mention_names(&d),
            HashMap::from([
                (1, "Annie".to_owned()),
                (2, "Bob".to_owned()),
                (3, "cy".to_owned())
            ])
        );
    }

    #[test]
    fn role_and_guild_updates_are_read_and_malformed_ones_are_errors() {
        assert_eq!(
            parse_dispatch(
                "GUILD_ROLE_UPDATE",
                &json!({"guild_id": "1", "role": {"id": "2", "permissions": "8589934592"}})
            ),
            Ok(Dispatch::Role {
                guild: 1,
                role: 2,
                permissions: Some(1 << 33)
            })
        );
        assert_eq!(
            parse_dispatch(
                "GUILD_ROLE_DELETE",
                &json!({"guild_id": "1", "role_id": "2"})
            ),
            Ok(Dispatch::Role {
                guild: 1,
                role: 2,
                permissions: None
            })
        );
        assert_eq!(
            parse_dispatch("GUILD_UPDATE", &json!({"id": "1", "owner_id": "5"})),
            Ok(Dispatch::GuildOwner { guild: 1, owner: 5 })
        );
        assert_eq!(
            parse_dispatch(
                "GUILD_ROLE_CREATE",
                &json!({"guild_id": "1", "role": {"id": "2", "permissions": 8}})
            ),
            Err("role.permissions: not a number".to_owned())
        );
        assert!(parse_dispatch("GUILD_ROLE_CREATE", &json!({"guild_id": "1"})).is_err());
    }
}
