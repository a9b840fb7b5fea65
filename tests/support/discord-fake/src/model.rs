//! Builds the JSON objects the fake sends, field for field as Discord's API v10 documents them.
//!
//! Clients such as serenity drop a whole event when one required field is missing, so these
//! builders write every field of each object, including the ones that are usually `null`, and
//! the crate's tests parse each of them with serenity's own models.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::ids::*;
use crate::state::*;

/// Discord's timestamp format: ISO 8601 with microseconds and an explicit UTC offset.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

impl World {
    /// A user object. Unknown ids render as a deleted user, which is what Discord shows.
    pub(crate) fn user_json(&self, id: UserId) -> Value {
        match self.users.get(&id) {
            Some(u) => json!({
                "id": u.id,
                "username": u.username,
                // Discord migrated users to unique usernames: their discriminator is "0"; bots
                // keep a four-digit one.
                "discriminator": if u.bot { "0001" } else { "0" },
                "global_name": u.global_name,
                "avatar": u.avatar,
                "bot": u.bot,
                "system": false,
                "banner": null,
                "accent_color": null,
                "public_flags": 0,
                "flags": 0,
                "avatar_decoration_data": null,
                "primary_guild": null,
                "collectibles": null,
            }),
            None => json!({
                "id": id,
                "username": "Deleted User",
                "discriminator": "0",
                "global_name": null,
                "avatar": null,
                "public_flags": 0,
            }),
        }
    }

    /// The current bot user as /users/@me and READY carry it.
    pub(crate) fn current_user_json(&self) -> Value {
        let mut u = self.user_json(self.bot_id());
        let o = u.as_object_mut().expect("user is an object");
        o.insert("verified".into(), json!(true));
        o.insert("mfa_enabled".into(), json!(false));
        o.insert("email".into(), Value::Null);
        o.insert("locale".into(), json!("en-US"));
        o.insert("premium_type".into(), json!(0));
        u
    }

    /// A guild member object. With `with_user` it carries the user (GUILD_CREATE, REST, the
    /// interaction member); message `member` objects leave the user out, as Discord does.
    pub(crate) fn member_json(&self, guild: GuildId, user: UserId, with_user: bool) -> Value {
        let g = self.guilds.get(&guild);
        let m = g.and_then(|g| g.members.get(&user));
        let joined = m.map(|m| timestamp(&m.joined_at));
        let mut o = json!({
            "nick": m.and_then(|m| m.nick.clone()),
            "avatar": null,
            "banner": null,
            "roles": m.map(|m| m.roles.clone()).unwrap_or_default(),
            "joined_at": joined,
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": null,
            "unusual_dm_activity_until": null,
            "avatar_decoration_data": null,
        });
        if with_user {
            o["user"] = self.user_json(user);
        }
        o
    }

    pub(crate) fn role_json(&self, role: &Role) -> Value {
        let mut tags = Map::new();
        if let Some(bot) = role.managed_by_bot {
            tags.insert("bot_id".into(), json!(bot));
        }
        json!({
            "id": role.id,
            "name": role.name,
            "color": role.color,
            "colors": {"primary_color": role.color, "secondary_color": null, "tertiary_color": null},
            "hoist": false,
            "icon": null,
            "unicode_emoji": null,
            "position": role.position,
            "permissions": role.permissions.to_string(),
            "managed": role.managed_by_bot.is_some(),
            "mentionable": false,
            "flags": 0,
            "tags": tags,
        })
    }

    /// A channel object: guild text channel, thread, or DM.
    pub(crate) fn channel_json(&self, id: ChannelId) -> Value {
        let Some(c) = self.channels.get(&id) else {
            return Value::Null;
        };
        if c.kind == ChannelKind::Dm {
            return json!({
                "id": c.id,
                "type": 1,
                "last_message_id": c.last_message_id,
                "flags": 0,
                "recipients": c.recipients.iter().map(|u| self.user_json(*u)).collect::<Vec<_>>(),
            });
        }
        let mut o = json!({
            "id": c.id,
            "type": c.kind as u8,
            "guild_id": c.guild_id,
            "name": c.name,
            "parent_id": c.parent_id,
            "last_message_id": c.last_message_id,
            "last_pin_timestamp": null,
            "rate_limit_per_user": 0,
            "flags": 0,
            "nsfw": false,
        });
        let map = o.as_object_mut().expect("channel is an object");
        if let Some(t) = &c.thread {
            let count = self.messages.get(&c.id).map_or(0, |m| m.len());
            map.insert("owner_id".into(), json!(t.owner_id));
            map.insert("message_count".into(), json!(count));
            map.insert("member_count".into(), json!(1));
            map.insert("total_message_sent".into(), json!(t.total_message_sent));
            map.insert(
                "thread_metadata".into(),
                json!({
                    "archived": t.archived,
                    "auto_archive_duration": t.auto_archive_duration,
                    "archive_timestamp": timestamp(&t.archive_timestamp),
                    "locked": t.locked,
                    "invitable": c.kind == ChannelKind::PrivateThread,
                    "create_timestamp": timestamp(&t.created_at),
                }),
            );
            map.insert("applied_tags".into(), json!([]));
        } else {
            map.insert("position".into(), json!(c.position));
            map.insert("topic".into(), json!(c.topic));
            map.insert("permission_overwrites".into(), json!([]));
            map.insert("default_auto_archive_duration".into(), json!(1440));
            map.insert("default_thread_rate_limit_per_user".into(), json!(0));
        }
        o
    }

    /// The full guild object of GUILD_CREATE: channels, active threads, roles, members with
    /// their users, scheduled events, and the rest of the fields that go with it.
    pub(crate) fn guild_create_json(&self, guild: GuildId) -> Value {
        let Some(g) = self.guilds.get(&guild) else {
            return Value::Null;
        };
        let mut o = self.guild_json(guild);
        let channels: Vec<Value> = self
            .channels
            .values()
            .filter(|c| c.guild_id == Some(guild) && !c.kind.is_thread())
            .map(|c| self.channel_json(c.id))
            .collect();
        let threads: Vec<Value> = self
            .channels
            .values()
            .filter(|c| c.guild_id == Some(guild) && c.thread.as_ref().is_some_and(|t| !t.archived))
            .map(|c| self.channel_json(c.id))
            .collect();
        let members: Vec<Value> = g
            .members
            .keys()
            .map(|u| self.member_json(guild, *u, true))
            .collect();
        let events: Vec<Value> = self
            .scheduled_events
            .values()
            .filter(|e| e.guild_id == guild)
            .map(|e| self.scheduled_event_json(e))
            .collect();
        let bot_joined = g
            .members
            .get(&self.bot_id())
            .map_or(g.created_at, |m| m.joined_at);
        let map = o.as_object_mut().expect("guild is an object");
        map.insert("joined_at".into(), json!(timestamp(&bot_joined)));
        map.insert("large".into(), json!(false));
        map.insert("unavailable".into(), json!(false));
        map.insert("member_count".into(), json!(g.members.len()));
        map.insert("voice_states".into(), json!([]));
        map.insert("members".into(), json!(members));
        map.insert("channels".into(), json!(channels));
        map.insert("threads".into(), json!(threads));
        map.insert("presences".into(), json!([]));
        map.insert("stage_instances".into(), json!([]));
        map.insert("guild_scheduled_events".into(), json!(events));
        map.insert("soundboard_sounds".into(), json!([]));
        o
    }

    /// The guild object REST returns (no members/channels).
    pub(crate) fn guild_json(&self, guild: GuildId) -> Value {
        let Some(g) = self.guilds.get(&guild) else {
            return Value::Null;
        };
        let roles: Vec<Value> = g.roles.values().map(|r| self.role_json(r)).collect();
        let system_channel = self
            .channels
            .values()
            .find(|c| c.guild_id == Some(guild) && c.kind == ChannelKind::Text)
            .map(|c| c.id);
        json!({
            "id": g.id,
            "name": g.name,
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": g.owner_id,
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": roles,
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": system_channel,
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "max_presences": null,
            "max_members": 500000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
        })
    }

    /// The author object of a message: the user, or the webhook's name and avatar.
    fn author_json(&self, m: &Message) -> Value {
        match &m.webhook {
            // Interaction responses carry the application id as webhook id but show the bot.
            Some(w) if w.webhook_id.0 == self.app.id.0 => self.user_json(m.author_id),
            Some(w) => json!({
                "id": w.webhook_id,
                "username": w.username,
                "discriminator": "0000",
                "global_name": null,
                "avatar": w.avatar_url.as_ref().map(|u| image_hash(u.len() as u64, w.webhook_id.0)),
                "bot": true,
                "public_flags": 0,
                "flags": 0,
            }),
            None => self.user_json(m.author_id),
        }
    }

    /// A message object. `gateway` adds what only gateway events carry (`guild_id`, `member`).
    pub(crate) fn message_json(&self, m: &Message, gateway: bool) -> Value {
        let attachments: Vec<Value> = m
            .attachments
            .iter()
            .map(|a| {
                json!({
                    "id": a.id,
                    "filename": a.filename,
                    "size": a.size,
                    "url": a.url,
                    "proxy_url": a.url,
                    "content_type": a.content_type,
                    "width": a.width,
                    "height": a.height,
                    "flags": 0,
                })
            })
            .collect();
        let reactions: Vec<Value> = m
            .reactions
            .iter()
            .map(|r| {
                json!({
                    "count": r.users.len(),
                    "count_details": {"burst": 0, "normal": r.users.len()},
                    "me": r.users.contains(&self.bot_id()),
                    "me_burst": false,
                    "emoji": emoji_json(&r.emoji),
                    "burst_colors": [],
                })
            })
            .collect();
        let mentions: Vec<Value> = m
            .mentions
            .iter()
            .map(|u| {
                let mut v = self.user_json(*u);
                if gateway {
                    if let Some(g) = m.guild_id {
                        if self
                            .guilds
                            .get(&g)
                            .is_some_and(|g| g.members.contains_key(u))
                        {
                            v["member"] = self.member_json(g, *u, false);
                        }
                    }
                }
                v
            })
            .collect();
        let reference = m.reply_to.map(|r| {
            json!({
                "type": 0,
                "message_id": r,
                "channel_id": m.channel_id,
                "guild_id": m.guild_id,
            })
        });
        // A reply carries the message it answers (null when that one was deleted).
        let referenced = m.reply_to.map(|r| match self.message(m.channel_id, r) {
            Some(parent) => {
                let mut p = self.message_json_inner(parent, false, None);
                p.as_object_mut().map(|o| o.remove("referenced_message"));
                p
            }
            None => Value::Null,
        });
        let mut v = self.message_json_inner(m, gateway, referenced);
        let o = v.as_object_mut().expect("message is an object");
        o.insert("attachments".into(), json!(attachments));
        o.insert("reactions".into(), json!(reactions));
        o.insert("mentions".into(), json!(mentions));
        o.insert("message_reference".into(), json!(reference));
        v
    }

    fn message_json_inner(&self, m: &Message, gateway: bool, referenced: Option<Value>) -> Value {
        let interaction_metadata = m
            .interaction
            .and_then(|i| self.interactions.get(&i))
            .map(|i| {
                json!({
                    "id": i.id,
                    "type": 2,
                    "user": self.user_json(i.user_id),
                    "authorizing_integration_owners": match i.guild_id {
                        Some(g) => json!({"0": g}),
                        None => json!({"1": i.user_id}),
                    },
                    "original_response_message_id": null,
                })
            });
        let thread = m.thread_id.map(|t| self.channel_json(t));
        let mut o = json!({
            "id": m.id,
            "channel_id": m.channel_id,
            "author": self.author_json(m),
            "content": m.content,
            "timestamp": timestamp(&m.created_at),
            "edited_timestamp": m.edited_at.as_ref().map(timestamp),
            "tts": m.tts,
            "mention_everyone": m.mention_everyone,
            "mentions": [],
            "mention_roles": m.mention_roles,
            "mention_channels": [],
            "attachments": [],
            "embeds": m.embeds,
            "reactions": [],
            "pinned": m.pinned,
            "webhook_id": m.webhook.as_ref().map(|w| w.webhook_id),
            "type": m.kind,
            "activity": null,
            "application": null,
            "application_id": m.application_id,
            "flags": m.flags,
            "message_reference": null,
            "referenced_message": referenced,
            "interaction_metadata": interaction_metadata,
            "thread": thread,
            "components": m.components,
            "sticker_items": [],
            "position": null,
            "role_subscription_data": null,
            "poll": null,
        });
        let map = o.as_object_mut().expect("message is an object");
        if let Some(n) = &m.nonce {
            map.insert("nonce".into(), n.clone());
        }
        if gateway {
            map.insert("guild_id".into(), json!(m.guild_id));
            if let Some(g) = m.guild_id {
                if m.webhook.is_none()
                    && self
                        .guilds
                        .get(&g)
                        .is_some_and(|g| g.members.contains_key(&m.author_id))
                {
                    map.insert("member".into(), self.member_json(g, m.author_id, false));
                }
            }
        }
        o
    }

    pub(crate) fn scheduled_event_json(&self, e: &ScheduledEvent) -> Value {
        json!({
            "id": e.id,
            "guild_id": e.guild_id,
            "channel_id": e.channel_id,
            "creator_id": e.creator_id,
            "name": e.name,
            "description": e.description,
            "scheduled_start_time": e.start,
            "scheduled_end_time": e.end,
            "privacy_level": e.privacy_level,
            "status": e.status,
            "entity_type": e.entity_type,
            "entity_id": null,
            "entity_metadata": e.location.as_ref().map(|l| json!({"location": l})),
            "creator": self.user_json(e.creator_id),
            "user_count": 0,
            "image": e.image,
            "recurrence_rule": null,
        })
    }

    /// The application object of GET /oauth2/applications/@me.
    pub(crate) fn application_json(&self) -> Value {
        json!({
            "id": self.app.id,
            "name": self.app.name,
            "icon": null,
            "description": "hashtag chats, scheduled and archived",
            "rpc_origins": [],
            "bot_public": true,
            "bot_require_code_grant": false,
            "bot": self.user_json(self.bot_id()),
            "terms_of_service_url": null,
            "privacy_policy_url": null,
            "owner": self.user_json(self.app.owner),
            "verify_key": image_hash(self.app.id.0, 3) + &image_hash(self.app.id.0, 4),
            "team": null,
            "guild_id": null,
            "flags": self.app.flags(),
            "tags": [],
            "install_params": null,
            "custom_install_url": null,
            "role_connections_verification_url": null,
            "integration_types_config": {"0": {}},
            "approximate_guild_count": self.guilds.len(),
            "approximate_user_install_count": 0,
            "redirect_uris": [],
            "interactions_endpoint_url": null,
        })
    }

    pub(crate) fn webhook_json(&self, w: &Webhook) -> Value {
        json!({
            "id": w.id,
            "type": 1,
            "guild_id": w.guild_id,
            "channel_id": w.channel_id,
            "user": self.user_json(w.creator_id),
            "name": w.name,
            "avatar": null,
            "token": w.token,
            "application_id": w.application_id,
            "url": format!("{}/api/webhooks/{}/{}", self.base_url, w.id, w.token),
        })
    }
}

/// A reaction emoji object: unicode emoji have only a name; custom ones are `name:id`.
pub(crate) fn emoji_json(emoji: &str) -> Value {
    match emoji.rsplit_once(':') {
        Some((name, id)) if id.chars().all(|c| c.is_ascii_digit()) && !id.is_empty() => {
            json!({"id": id, "name": name, "animated": false})
        }
        _ => json!({"id": null, "name": emoji}),
    }
}
