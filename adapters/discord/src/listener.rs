//! The bot's ear: takes the gateway's dispatches in order, one at a time, and hands them to
//! the engine; back-fills each chat channel, and each active thread of them, from its saved
//! cursor whenever a new gateway session starts, before any newer event is handled.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use serenity::http::{LightMethod, Route};
use serenity::model::id::{ChannelId, GuildId, UserId};
use tokio::sync::{mpsc, watch};

use bot_core::adapter::{CommandInvocation, Inbound, MessageDeleted, MessageEdited, Reaction};
use bot_core::engine::Engine;
use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::model::IncomingMessage;

use crate::commands::{command_text, definitions, focused};
use crate::events::{
    parse_dispatch, parse_guild, parse_message, Dispatch, InteractionData, MessageData,
};
use crate::gateway::{Gateway, GatewayItem, INTENTS};
use crate::interactions::{suggest, Interactions};
use crate::rest::Rest;
use crate::state::{Known, ADMINISTRATOR, MANAGE_EVENTS};
use crate::threads::{Place, Threads};
use crate::webhooks::Webhooks;
use crate::{DiscordError, Settings};

const PAGE: usize = 100;
/// At most this many pages of history are read per channel per back-fill (100,000 messages).
const MAX_PAGES: usize = 1000;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub(crate) struct Listener {
    pub rest: Rest,
    pub token: String,
    pub known: Arc<Known>,
    pub interactions: Interactions,
    pub settings: Arc<Settings>,
    pub threads: Arc<Threads>,
    pub webhooks: Arc<Webhooks>,
    pub engine: Engine,
    /// Saved cursors, by channel (and thread).
    pub cursors: HashMap<u64, u64>,
    /// Channels outside the chats where the hashtag gathered a message: read back like the
    /// chats' channels after a reconnect, so what is tagged there while the bot is away is
    /// gathered too (a channel where it never gathered one is not known to matter).
    pub watched: HashSet<u64>,
    pub registered: bool,
    /// Members looked up for messages read back, which come without them: (guild, user) →
    /// nickname and roles (`None`: not a member now). Emptied at each back-fill, so a
    /// nickname changed meanwhile is read again.
    pub members: HashMap<(u64, u64), Option<GuildMember>>,
}

/// What a message's author is in its guild: their nickname and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuildMember {
    nick: Option<String>,
    roles: Vec<u64>,
}

fn account(channel: u64) -> String {
    format!("channel:{channel}")
}

/// Where a channel watched for the hashtag is recorded (its cursor is under [`account`]).
const WATCHED_PREFIX: &str = "hashtag-channel:";

impl Listener {
    /// The Discord channels the chat files name.
    fn chat_channels(&self) -> HashSet<u64> {
        self.engine
            .chats()
            .iter()
            .flat_map(|c| c.rooms.iter())
            .filter(|r| r.platform == Platform::Discord)
            .filter_map(|r| r.id.parse().ok())
            .collect()
    }

    /// The chat channel a channel's messages belong to: itself, or a thread's parent.
    fn room_of(&self, channel: u64, chats: &HashSet<u64>) -> Option<u64> {
        if chats.contains(&channel) {
            return Some(channel);
        }
        self.known.parent_of(channel).filter(|p| chats.contains(p))
    }

    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), DiscordError> {
        self.engine.health().expect(Platform::Discord);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut stop = stop_rx.clone();
        let rest = self.rest.clone();
        let token = self.token.clone();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let gateway = tokio::spawn(async move {
            let url = gateway_url(&rest, stop_rx.clone()).await?;
            Gateway {
                url,
                token,
                intents: INTENTS,
            }
            .run(tx, stop_rx)
            .await
            .map_err(DiscordError::Gateway)
        });
        tokio::pin!(shutdown);
        loop {
            let item = tokio::select! {
                _ = &mut shutdown => break,
                item = rx.recv() => item,
            };
            let Some(item) = item else {
                break;
            };
            self.item(item, &mut stop).await;
        }
        let _ = stop_tx.send(true);
        let ended = tokio::time::timeout(Duration::from_secs(5), gateway).await;
        tracing::info!("Discord listener stopped");
        match ended {
            Ok(Ok(Err(e))) => Err(e),
            _ => Ok(()),
        }
    }

    async fn item(&mut self, item: GatewayItem, stop: &mut watch::Receiver<bool>) {
        match item {
            GatewayItem::Ready { me, application } => {
                self.engine.health().up(Platform::Discord);
                self.known.set_identity(me, application);
                let was_online = self.known.set_online(true);
                tracing::info!(was_online, "connected to the Discord gateway (new session)");
                if !self.registered {
                    self.registered = self.register_commands(application).await;
                }
                self.backfill_all(stop).await;
                // Posts that waited for Discord go out now.
                self.engine.wake();
            }
            GatewayItem::Resumed => {
                self.engine.health().up(Platform::Discord);
                self.known.set_online(true);
                tracing::info!("resumed the Discord gateway session");
                self.engine.wake();
            }
            GatewayItem::Beat => self.engine.health().heard(Platform::Discord),
            GatewayItem::Lost => {
                self.engine.health().down(Platform::Discord);
                if self.known.set_online(false) {
                    tracing::warn!("lost the Discord gateway; reconnecting");
                }
            }
            GatewayItem::Dispatch { t, d } => {
                self.engine.health().heard(Platform::Discord);
                let parsed = match parse_dispatch(&t, &d) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(event = %t, id = ?d.get("id"), error = %e, "malformed Discord event skipped");
                        return;
                    }
                };
                self.dispatch(parsed, stop).await;
            }
        }
    }

    async fn register_commands(&self, application: u64) -> bool {
        let Some(app) = std::num::NonZeroU64::new(application) else {
            return false;
        };
        let app = serenity::model::id::ApplicationId::from(app);
        let body = serde_json::to_value(definitions()).unwrap_or(Value::Null);
        let mut ok = true;
        for guild in &self.settings.guilds {
            let route = Route::GuildCommands {
                application_id: app,
                guild_id: GuildId::new((*guild).max(1)),
            };
            match self
                .rest
                .call(
                    LightMethod::Put,
                    route,
                    Some(&body),
                    None,
                    "registering /chat",
                )
                .await
            {
                Ok(_) => tracing::info!(guild, "registered /chat"),
                Err(e) => {
                    ok = false;
                    tracing::warn!(guild, error = %e, "could not register /chat in a guild");
                }
            }
        }
        if self.settings.register_globally {
            let route = Route::Commands {
                application_id: app,
            };
            match self
                .rest
                .call(
                    LightMethod::Put,
                    route,
                    Some(&body),
                    None,
                    "registering /chat globally",
                )
                .await
            {
                Ok(_) => tracing::info!("registered /chat globally"),
                Err(e) => {
                    ok = false;
                    tracing::warn!(error = %e, "could not register /chat globally");
                }
            }
        }
        ok
    }

    async fn dispatch(&mut self, parsed: Dispatch, stop: &mut watch::Receiver<bool>) {
        let chats = self.chat_channels();
        match parsed {
            Dispatch::Ignored => {}
            Dispatch::Guild(g) => self.known.add_guild(g),
            Dispatch::GuildOwner { guild, owner } => self.known.set_owner(guild, owner),
            Dispatch::Role {
                guild,
                role,
                permissions,
            } => self.known.set_role(guild, role, permissions),
            Dispatch::Thread { id, parent, guild } => self.known.add_thread(id, parent, guild),
            Dispatch::Message(m) => self.message(*m, &chats, stop).await,
            Dispatch::Edited {
                id,
                channel,
                content,
                names,
                at,
            } => {
                if self.room_of(channel, &chats).is_some() {
                    let edit = Inbound::Edited(MessageEdited {
                        platform: Platform::Discord,
                        platform_msg_id: id.to_string(),
                        // Only the author can edit a Discord message.
                        editor_id: None,
                        formatted_body: crate::markdown::to_html(&content, &names),
                        body: content,
                        edited_at: self.engine.platform_time(at),
                    });
                    self.hand(edit, stop).await;
                }
            }
            Dispatch::Deleted { ids, channel } => {
                if self.room_of(channel, &chats).is_some() {
                    for id in ids {
                        let deleted = Inbound::Deleted(MessageDeleted {
                            platform: Platform::Discord,
                            platform_msg_id: id.to_string(),
                            deleted_at: self.engine.now(),
                        });
                        self.hand(deleted, stop).await;
                    }
                }
            }
            Dispatch::Reaction {
                added,
                channel,
                message,
                user,
                name,
                emoji,
            } => {
                let Some(room) = self.room_of(channel, &chats) else {
                    return;
                };
                if user == self.known.me() {
                    return;
                }
                let id = reaction_id(message, user, &emoji);
                let inbound = if added {
                    Inbound::Reacted(Reaction {
                        platform: Platform::Discord,
                        platform_reaction_id: id,
                        target_msg_id: message.to_string(),
                        room: room.to_string(),
                        author_id: user.to_string(),
                        author_name: name.unwrap_or_else(|| user.to_string()),
                        platform_label: Some("Discord".to_owned()),
                        key: emoji,
                        at: self.engine.now(),
                    })
                } else {
                    Inbound::Deleted(MessageDeleted {
                        platform: Platform::Discord,
                        platform_msg_id: id,
                        deleted_at: self.engine.now(),
                    })
                };
                self.hand(inbound, stop).await;
            }
            Dispatch::Interaction(i) => self.interaction(*i, &chats, stop).await,
        }
    }

    /// Hands an event to the engine; if the archive cannot take it, tries again with backoff
    /// (skipping would lose it) until it can or the bot stops.
    async fn hand(&self, inbound: Inbound, stop: &mut watch::Receiver<bool>) -> bool {
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.engine.handle(inbound.clone()).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::error!(error = %e, ?backoff, "could not archive a Discord event; trying again");
                    tokio::select! {
                        _ = crate::gateway::stopped(stop) => return false,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn avatar(&self, m: &MessageData) -> String {
        let cdn = &self.settings.cdn_url;
        match &m.author.avatar {
            Some(hash) if hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                format!("{cdn}/avatars/{}/{hash}.png", m.author.id)
            }
            _ => format!("{cdn}/embed/avatars/{}.png", (m.author.id >> 22) % 6),
        }
    }

    /// The guild a channel is in: known from the gateway, else asked of Discord once.
    async fn guild_of(&self, channel: u64) -> Option<u64> {
        if let Some(g) = self.known.guild_of(channel) {
            return Some(g);
        }
        let route = Route::Channel {
            channel_id: ChannelId::new(channel.max(1)),
        };
        let c = self
            .rest
            .call(LightMethod::Get, route, None, None, "reading a channel")
            .await
            .ok()?;
        let g = c["guild_id"].as_str()?.parse().ok()?;
        self.known.remember_channel_guild(channel, g);
        Some(g)
    }

    /// Makes sure the guild's owner and roles are known before a text command is judged by
    /// them: a command read back at a reconnect comes before the guild's GUILD_CREATE, so the
    /// guild is asked of Discord then (GUILD_CREATE, when it comes, replaces what this read).
    async fn learn_guild(&self, guild: u64) {
        if self.known.knows_guild(guild) {
            return;
        }
        let route = Route::Guild {
            guild_id: GuildId::new(guild.max(1)),
        };
        let read = self
            .rest
            .call(LightMethod::Get, route, None, None, "reading a guild")
            .await;
        match read.map(|g| parse_guild(&g)) {
            Ok(Ok(info)) => self.known.add_guild(info),
            Ok(Err(e)) => tracing::warn!(guild, error = %e, "unreadable guild from Discord"),
            Err(e) => {
                tracing::warn!(guild, error = %e, "cannot read a guild; its roles are not known yet")
            }
        }
    }

    /// Fills in the author's nickname and roles for a message read back over REST (Discord
    /// sends messages there without their member): what names them in the archive and decides
    /// whether a text command sent while the bot was away came from a moderator. Asked of
    /// Discord once per author and back-fill; if Discord cannot say, the message keeps its
    /// global name and no roles.
    async fn with_member(&mut self, mut m: MessageData) -> MessageData {
        if m.roles.is_some() || m.webhook.is_some() {
            return m;
        }
        let guild = match m.guild {
            Some(g) => g,
            None => match self.guild_of(m.channel).await {
                Some(g) => g,
                None => return m,
            },
        };
        let key = (guild, m.author.id);
        if !self.members.contains_key(&key) {
            let route = Route::GuildMember {
                guild_id: GuildId::new(guild.max(1)),
                user_id: UserId::new(m.author.id.max(1)),
            };
            let member = match self
                .rest
                .call(LightMethod::Get, route, None, None, "reading a member")
                .await
            {
                Ok(member) => Some(member_parts(&member)),
                Err(e) if e.status() == Some(404) => None,
                Err(e) => {
                    tracing::warn!(error = %e, user = m.author.id, "cannot read a member; their message keeps their global name");
                    return m;
                }
            };
            self.members.insert(key, member);
        }
        if let Some(Some(member)) = self.members.get(&key) {
            m.nick = member.nick.clone();
            m.roles = Some(member.roles.clone());
        }
        m
    }

    async fn message(
        &mut self,
        m: MessageData,
        chats: &HashSet<u64>,
        stop: &mut watch::Receiver<bool>,
    ) {
        tracing::debug!(
            channel = m.channel,
            message = m.id,
            "Discord message received"
        );
        let room = self.room_of(m.channel, chats);
        let ours = self.is_ours(&m).await;
        let m = if ours || room.is_none() && self.command_in(&m.content).is_none() {
            m
        } else {
            self.with_member(m).await
        };
        let command = self.command_in(&m.content);
        // Outside the chats' channels only a message with a hashtag may matter (the engine
        // decides whether a live session's chat gathers it); it is archived under its own
        // channel.
        // (Messages read back from a channel's history come without their guild; a watched
        // channel is one of a guild's.)
        let in_guild = m.guild.is_some() || self.watched.contains(&m.channel);
        let hashtagged =
            (room.is_none() && in_guild && m.content.contains('#')).then_some(m.channel);
        if !ours {
            let inbound = match (&command, room.or(hashtagged)) {
                (Some(text), _) => {
                    if room.is_some_and(|r| r != m.channel) {
                        self.known.remember_command_thread(m.id, m.channel);
                    }
                    let guild = match m.guild {
                        Some(g) => Some(g),
                        None => self.guild_of(m.channel).await,
                    };
                    if let Some(g) = guild {
                        self.learn_guild(g).await;
                    }
                    let roles = m.roles.clone().unwrap_or_default();
                    let moderator = guild
                        .is_some_and(|g| self.known.moderates_by_roles(g, m.author.id, &roles))
                        || roles
                            .iter()
                            .any(|r| self.settings.moderator_roles.contains(r));
                    Some(Inbound::Command(CommandInvocation {
                        room: RoomRef::new(
                            Platform::Discord,
                            room.unwrap_or(m.channel).to_string(),
                        ),
                        user: UserRef::new(Platform::Discord, m.author.id.to_string()),
                        display_name: m.display_name(),
                        platform_moderator: moderator,
                        text: text.clone(),
                        platform_msg_id: Some(m.id.to_string()),
                        reply_to: m.reply_to.map(|r| r.to_string()),
                    }))
                }
                (None, Some(room)) => {
                    let guild = match m.guild {
                        Some(g) => Some(g),
                        None => self.guild_of(m.channel).await,
                    };
                    let permalink = guild.map(|g| {
                        format!("https://discord.com/channels/{g}/{}/{}", m.channel, m.id)
                    });
                    Some(Inbound::Message(IncomingMessage {
                        platform: Platform::Discord,
                        room: room.to_string(),
                        platform_msg_id: m.id.to_string(),
                        author_id: m.author.id.to_string(),
                        author_name: m.display_name(),
                        avatar_url: Some(self.avatar(&m)),
                        body: m.content.clone(),
                        formatted_body: crate::markdown::to_html(&m.content, &m.mention_names),
                        sent_at: self.engine.platform_time(m.sent_at),
                        reply_to: m.reply_to.map(|r| r.to_string()),
                        attachments: m.attachments.clone(),
                        platform_label: Some("Discord".to_owned()),
                        permalink,
                    }))
                }
                (None, None) => None,
            };
            if let Some(inbound) = inbound {
                if !self.hand(inbound, stop).await {
                    return;
                }
            }
        }
        if room.is_some() || self.watched.contains(&m.channel) {
            // A chat channel, a thread of one, or a channel watched for the hashtag: each has
            // its own cursor.
            self.save_cursor(m.channel, m.id).await;
        } else if hashtagged.is_some() && !ours && self.gathered(m.id).await {
            self.watch(m.channel).await;
            self.save_cursor(m.channel, m.id).await;
        }
        tracing::debug!(
            channel = m.channel,
            message = m.id,
            "Discord message handled"
        );
    }

    /// Whether the bot sent `m`, told by ids, never names: its own messages, its
    /// interactions' (whose webhook id is the application's), and its relay webhooks'
    /// (recorded when made; a webhook message our application sent also carries the
    /// application's id). Other webhooks' messages are people's: an integration posting for
    /// someone, another bridge.
    async fn is_ours(&self, m: &MessageData) -> bool {
        let (me, application) = (self.known.me(), self.known.application());
        if m.author.id == me {
            return true;
        }
        let Some(webhook) = m.webhook else {
            return false;
        };
        webhook == application
            || (application != 0 && m.application == Some(application))
            || self.webhooks.is_ours(webhook).await
    }

    /// The command text after the configured prefix, if the message is a command.
    fn command_in(&self, content: &str) -> Option<String> {
        let rest = content
            .trim_start()
            .strip_prefix(&self.settings.command_prefix)?;
        (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim().to_owned())
    }

    /// Whether the engine archived message `id` (a hashtag outside the chats gathered it).
    async fn gathered(&self, id: u64) -> bool {
        matches!(
            self.engine
                .store()
                .find_message(Platform::Discord, &id.to_string())
                .await,
            Ok(Some(_))
        )
    }

    /// From now on `channel` is read back after a reconnect, like a chat's channel.
    async fn watch(&mut self, channel: u64) {
        let recorded = self
            .engine
            .store()
            .set_sync_cursor(
                Platform::Discord,
                &format!("{WATCHED_PREFIX}{channel}"),
                &channel.to_string(),
            )
            .await;
        match recorded {
            Ok(()) => {
                tracing::info!(
                    channel,
                    "the hashtag gathered a message here; watching this channel"
                );
                self.watched.insert(channel);
            }
            Err(e) => {
                tracing::warn!(channel, error = %e, "could not record a channel watched for the hashtag")
            }
        }
    }

    async fn save_cursor(&mut self, channel: u64, id: u64) {
        if self.cursors.get(&channel).is_some_and(|c| *c >= id) {
            return;
        }
        match self
            .engine
            .store()
            .set_sync_cursor(Platform::Discord, &account(channel), &id.to_string())
            .await
        {
            Ok(()) => {
                self.cursors.insert(channel, id);
            }
            // Reading again from the old cursor is harmless; the next message saves it.
            Err(e) => tracing::warn!(channel, error = %e, "could not save the Discord cursor"),
        }
    }

    async fn interaction(
        &self,
        i: InteractionData,
        chats: &HashSet<u64>,
        stop: &mut watch::Receiver<bool>,
    ) {
        if i.kind == 4 {
            // Suggestions are answered beside the event stream: they change nothing.
            let choices = self.choices(&i.data).await;
            let rest = self.rest.clone();
            tokio::spawn(async move {
                if let Err(e) = suggest(&rest, i.id, &i.token, choices).await {
                    tracing::debug!(error = %e, "could not answer an autocomplete");
                }
            });
            return;
        }
        self.interactions.begin(&self.rest, i.id, i.token.clone());
        let text = match command_text(&i.data) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(interaction = i.id, error = %e, "unreadable /chat invocation");
                let _ = self
                    .interactions
                    .answer(
                        &self.rest,
                        self.known.application(),
                        i.id,
                        "That command could not be read; try `/chat help`.",
                        true,
                    )
                    .await;
                return;
            }
        };
        let moderator = i.permissions & (ADMINISTRATOR | MANAGE_EVENTS) != 0
            || i.roles
                .iter()
                .any(|r| self.settings.moderator_roles.contains(r));
        let room = self.room_of(i.channel, chats).unwrap_or(i.channel);
        let invocation = Inbound::Command(CommandInvocation {
            room: RoomRef::new(Platform::Discord, room.to_string()),
            user: UserRef::new(Platform::Discord, i.user.to_string()),
            display_name: i.display_name.clone(),
            platform_moderator: moderator,
            text,
            // The interaction's id is the command's identity: the engine's claim makes it act
            // once, even when read again after a crash.
            platform_msg_id: Some(i.id.to_string()),
            reply_to: None,
        });
        if self.hand(invocation, stop).await && !self.interactions.answered(i.id).await {
            // The engine had nothing to say, or its answer could not be delivered: the person
            // should not be left with "the application did not respond".
            let _ = self
                .interactions
                .answer(
                    &self.rest,
                    self.known.application(),
                    i.id,
                    "Sorry, that did not work; please try again.",
                    true,
                )
                .await;
        }
    }

    /// Autocomplete choices for the option being typed: chat slugs, or sessions.
    async fn choices(&self, data: &Value) -> Vec<Value> {
        let Some((option, typed)) = focused(data) else {
            return Vec::new();
        };
        let typed = typed.to_lowercase();
        match option.as_str() {
            "chat" => self
                .engine
                .chats()
                .iter()
                .filter(|c| c.slug.contains(&typed) || c.title.to_lowercase().contains(&typed))
                .take(25)
                .map(|c| json!({ "name": truncate(&format!("{} ({})", c.slug, c.title), 100), "value": c.slug }))
                .collect(),
            "session" => match self.engine.store().list_sessions().await {
                Ok(sessions) => sessions
                    .iter()
                    .filter(|s| s.session.id.to_string().starts_with(&typed) || s.session.chat_slug.contains(&typed))
                    .take(25)
                    .map(|s| {
                        json!({
                            "name": truncate(&format!("{} {} ({}, {})", s.session.id, s.session.chat_slug, s.session.state, s.session.scheduled_start.format("%Y-%m-%d %H:%M UTC")), 100),
                            "value": s.session.id,
                        })
                    })
                    .collect(),
                Err(_) => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// Reads what was said in every chat channel since its cursor, then in every active thread
    /// of them and every running session's thread, oldest first, before any newer event is
    /// handled (the caller is the one event loop, so events wait meanwhile). Whatever cannot be
    /// read is tried again with backoff: new events would move the cursors past the gap.
    async fn backfill_all(&mut self, stop: &mut watch::Receiver<bool>) {
        self.members.clear();
        let mut channels: Vec<u64> = self.chat_channels().into_iter().collect();
        channels.sort_unstable();
        let mut first_looks = HashSet::new();
        for &channel in &channels {
            let mut backoff = Duration::from_secs(1);
            loop {
                match self.backfill(channel, Start::Newest, stop).await {
                    Ok(read) => {
                        if read == Read::FirstLook {
                            first_looks.insert(channel);
                        }
                        break;
                    }
                    Err(e) if refused(&e) => {
                        // No such channel any more, or no right to read it: asking again would
                        // stall every other channel and every new event behind it.
                        tracing::warn!(channel, error = %e, "Discord refuses to give a channel's history; skipping it");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(channel, error = %e, ?backoff, "could not read a channel's history; trying again");
                        if !pause(stop, &mut backoff).await {
                            return;
                        }
                    }
                }
            }
        }
        let mut backoff = Duration::from_secs(1);
        let threads = loop {
            match self.threads_to_read().await {
                Ok(threads) => break threads,
                Err(e) => {
                    tracing::warn!(error = %e, ?backoff, "could not list the threads to read; trying again");
                    if !pause(stop, &mut backoff).await {
                        return;
                    }
                }
            }
        };
        // Channels outside the chats where the hashtag gathered messages before.
        match self
            .engine
            .store()
            .sync_cursors_under(Platform::Discord, WATCHED_PREFIX)
            .await
        {
            Ok(watched) => {
                self.watched = watched
                    .iter()
                    .filter_map(|(account, _)| account[WATCHED_PREFIX.len()..].parse().ok())
                    .filter(|c| !channels.contains(c))
                    .collect();
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not list the channels watched for the hashtag")
            }
        }
        let mut watched: Vec<u64> = self.watched.iter().copied().collect();
        watched.sort_unstable();
        for channel in watched {
            if !self
                .backfill_until_read(channel, Start::Newest, "a watched channel", stop)
                .await
            {
                return;
            }
        }
        for (thread, parent) in threads {
            // History from before the bot first looked at a channel is not ours, in its threads
            // either; a thread of a channel it knew is new to it: read from its start.
            let start = if first_looks.contains(&parent) {
                Start::Newest
            } else {
                Start::After(thread)
            };
            if !self
                .backfill_until_read(thread, start, "a thread (deleted, or private)", stop)
                .await
            {
                return;
            }
        }
    }

    /// Back-fills `channel` (`what` it is, for the log), trying again with backoff until it is
    /// read or Discord refuses it (then it is skipped); `false` when the bot stops meanwhile.
    async fn backfill_until_read(
        &mut self,
        channel: u64,
        start: Start,
        what: &str,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut backoff = Duration::from_secs(1);
        while let Err(e) = self.backfill(channel, start, stop).await {
            if refused(&e) {
                tracing::warn!(channel, error = %e, "Discord refuses to give the history of {what}; skipping it");
                return true;
            }
            tracing::warn!(channel, error = %e, ?backoff, "could not read the history of {what}; trying again");
            if !pause(stop, &mut backoff).await {
                return false;
            }
        }
        true
    }

    /// The threads to back-fill, each with its chat channel, in id order: the guilds' active
    /// threads under chat channels (asked of Discord) and the running sessions' own threads
    /// (from the store: an archived one is not in the active list).
    async fn threads_to_read(&mut self) -> Result<Vec<(u64, u64)>, DiscordError> {
        let chats = self.chat_channels();
        let mut guilds = HashSet::new();
        for &channel in &chats {
            if let Some(g) = self.guild_of(channel).await {
                guilds.insert(g);
            }
        }
        let mut threads = std::collections::BTreeMap::new();
        let mut guilds: Vec<u64> = guilds.into_iter().collect();
        guilds.sort_unstable();
        for guild in guilds {
            let active = self
                .rest
                .call(
                    LightMethod::Get,
                    Route::GuildThreadsActive {
                        guild_id: GuildId::new(guild.max(1)),
                    },
                    None,
                    None,
                    "listing a guild's active threads",
                )
                .await?;
            for t in active["threads"].as_array().into_iter().flatten() {
                let id = t["id"].as_str().and_then(|id| id.parse::<u64>().ok());
                let parent = t["parent_id"]
                    .as_str()
                    .and_then(|id| id.parse::<u64>().ok());
                if let (Some(id), Some(parent)) = (id, parent) {
                    if chats.contains(&parent) {
                        self.known.add_thread(id, parent, Some(guild));
                        threads.insert(id, parent);
                    }
                }
            }
        }
        // The sessions' own threads, from the store: an archived one is not in the active list,
        // and a session may have ended (its thread closed) while the bot was away. A closed
        // thread is read only while its cursor is short of the wrap-up.
        let recorded = self
            .threads
            .recorded()
            .await
            .map_err(|e| DiscordError::Store(e.to_string()))?;
        for (channel, place) in recorded {
            if !chats.contains(&channel) {
                continue;
            }
            let thread = match place {
                Place::Thread { thread } => thread,
                Place::Closed { thread, wrap_up } => {
                    if self
                        .saved_cursor(thread)
                        .await?
                        .is_some_and(|c| c >= wrap_up)
                    {
                        continue;
                    }
                    thread
                }
                Place::Channel | Place::Intro { .. } => continue,
            };
            self.known
                .add_thread(thread, channel, self.known.guild_of(channel));
            threads.insert(thread, channel);
        }
        Ok(threads.into_iter().collect())
    }

    /// The last message of `channel` (or thread) handled, as saved.
    async fn saved_cursor(&self, channel: u64) -> Result<Option<u64>, DiscordError> {
        if let Some(c) = self.cursors.get(&channel) {
            return Ok(Some(*c));
        }
        Ok(self
            .engine
            .store()
            .sync_cursor(Platform::Discord, &account(channel))
            .await
            .map_err(|e| DiscordError::Store(e.to_string()))?
            .and_then(|c| c.parse().ok()))
    }

    /// Reads a channel (or thread) from its saved cursor; without one, from `start`.
    async fn backfill(
        &mut self,
        channel: u64,
        start: Start,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Read, DiscordError> {
        let saved = self.saved_cursor(channel).await?;
        let route = || Route::ChannelMessages {
            channel_id: ChannelId::new(channel.max(1)),
        };
        let Some(mut after) = saved.or(match start {
            Start::After(id) => Some(id),
            Start::Newest => None,
        }) else {
            // The first run only notes where history ends: what came before is not ours.
            let page = self
                .rest
                .call(
                    LightMethod::Get,
                    route(),
                    None,
                    Some(vec![("limit", "1".to_owned())]),
                    "reading a channel's newest message",
                )
                .await?;
            let newest = page
                .as_array()
                .and_then(|p| p.first())
                .and_then(|m| m["id"].as_str())
                .and_then(|id| id.parse().ok())
                .unwrap_or(0);
            tracing::info!(
                channel,
                "first look at a Discord channel; archiving from now on"
            );
            self.save_cursor(channel, newest).await;
            self.cursors.insert(channel, newest);
            return Ok(Read::FirstLook);
        };
        let chats = self.chat_channels();
        let mut handled = 0;
        for _ in 0..MAX_PAGES {
            let page = self
                .rest
                .call(
                    LightMethod::Get,
                    route(),
                    None,
                    Some(vec![
                        ("after", after.to_string()),
                        ("limit", PAGE.to_string()),
                    ]),
                    "reading a channel's history",
                )
                .await?;
            let mut messages: Vec<(u64, Value)> = page
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| Some((m["id"].as_str()?.parse::<u64>().ok()?, m.clone())))
                .filter(|(id, _)| *id > after)
                .collect();
            // Discord pages newest first; the archive wants them in the order they were said.
            messages.sort_by_key(|(id, _)| *id);
            let full = page.as_array().is_some_and(|p| p.len() >= PAGE);
            for (id, raw) in messages {
                match parse_message(&raw) {
                    Ok(Some(m)) => self.message(m, &chats, stop).await,
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(channel, id, error = %e, "malformed Discord message skipped")
                    }
                }
                self.save_cursor(channel, id).await;
                after = after.max(id);
                handled += 1;
            }
            if !full {
                if handled > 0 {
                    tracing::info!(channel, messages = handled, "read messages sent while away");
                }
                return Ok(Read::Messages(handled));
            }
        }
        tracing::warn!(
            channel,
            "too many missed messages; the rest is read at the next reconnect"
        );
        Ok(Read::Messages(handled))
    }
}

/// Where a channel without a saved cursor is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Nowhere: only its newest message is noted (history from before the bot is not ours).
    Newest,
    /// Everything after this id: a thread new to the bot, from its start.
    After(u64),
}

/// What a back-fill of one channel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// It had no cursor; its newest message is noted.
    FirstLook,
    /// This many messages read.
    Messages(usize),
}

/// Waits out `backoff` (doubling it for next time); `false` when the bot stops meanwhile.
async fn pause(stop: &mut watch::Receiver<bool>, backoff: &mut Duration) -> bool {
    let stopped = tokio::select! {
        _ = crate::gateway::stopped(stop) => true,
        _ = tokio::time::sleep(*backoff) => false,
    };
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    !stopped
}

/// Discord will never give it (a 4xx other than a rate limit).
fn refused(e: &DiscordError) -> bool {
    matches!(e, DiscordError::Rest(r) if r.is_refusal())
}

/// Discord reactions have no id of their own: this one is stable for one person's one emoji
/// on one message, so taking it back finds it.
pub(crate) fn reaction_id(message: u64, user: u64, emoji: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = hex::encode(Sha256::digest(emoji.as_bytes()));
    format!("reaction-{message}-{user}-{}", &hash[..16])
}

/// A guild member object's nickname and role ids (ids that are not snowflakes left out).
fn member_parts(member: &Value) -> GuildMember {
    GuildMember {
        nick: member["nick"].as_str().map(str::to_owned),
        roles: member["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str()?.parse().ok())
            .collect(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Where the gateway is, asked of Discord (with backoff while it cannot be reached).
async fn gateway_url(rest: &Rest, mut stop: watch::Receiver<bool>) -> Result<String, DiscordError> {
    let mut backoff = Duration::from_secs(1);
    loop {
        match rest
            .call(
                LightMethod::Get,
                Route::GatewayBot,
                None,
                None,
                "finding the gateway",
            )
            .await
        {
            Ok(v) => {
                if let Some(url) = v["url"].as_str() {
                    return Ok(url.to_owned());
                }
            }
            Err(e) if e.status() == Some(401) => return Err(DiscordError::Rest(e)),
            Err(e) => tracing::warn!(error = %e, ?backoff, "cannot find the Discord gateway yet"),
        }
        tokio::select! {
            _ = crate::gateway::stopped(&mut stop) => return Err(DiscordError::Stopped),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaction_ids_are_stable_and_distinct() {
        let a = reaction_id(1, 2, "👍");
        assert_eq!(a, reaction_id(1, 2, "👍"));
        assert_ne!(a, reaction_id(1, 2, "👎"));
        assert_ne!(a, reaction_id(1, 3, "👍"));
        assert!(a.len() < 80);
    }
}
