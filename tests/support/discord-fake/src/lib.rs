//! # discord-fake: a Discord that speaks the wire protocol, on 127.0.0.1
//!
//! A fake Discord for tests, written from Discord's public API documentation (API v10): a REST
//! API under `/api/v10` and a gateway WebSocket (JSON, no compression) that an unmodified
//! serenity 0.12 client runs against. It records everything the bot sends, plays human users,
//! and injects faults. It never talks to the real Discord.
//!
//! ## Pointing a serenity bot at it
//!
//! serenity sends every request to `https://discord.com/api/v10/...`. Two ways to the fake:
//!
//! - as a proxy: `HttpBuilder::proxy(fake.base_url())` rewrites that prefix, but only while the
//!   ratelimiter is disabled (with it on, serenity 0.12.5 builds requests without the proxy:
//!   serenity issue #1739);
//! - as `discord.com`, ratelimiter on: give serenity a reqwest client that resolves
//!   `discord.com` to [`FakeDiscord::tls_address`] and trusts [`FakeDiscord::tls_ca_pem`], the
//!   authority that signed the fake's `discord.com` certificate (made fresh at each start).
//!
//! The gateway URL comes from `GET /gateway`, which the fake answers with its own `ws://` URL.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use discord_fake::{FakeDiscord, Post, SlashCommand};
//!
//! let fake = FakeDiscord::start().await?;
//! // Give the bot: token = fake.token(), proxy = fake.base_url(), ratelimiter disabled.
//! // e.g. serenity::http::HttpBuilder::new(fake.token()).proxy(fake.base_url())
//! //          .ratelimiter_disabled(true).build()
//! let d = fake.defaults().clone();
//! assert!(fake.wait_connected(Duration::from_secs(10)).await);
//!
//! // A human speaks; the bot sees MESSAGE_CREATE.
//! fake.post(Post::new(d.channel, d.alice, "hello #interlibnet")).await?;
//!
//! // A moderator runs a slash command the bot registered; await what the bot answered.
//! let cmd = SlashCommand::parse("/chat start chat:interlibnet")?;
//! let reply = fake.invoke(d.moderator, d.channel, cmd).await?
//!     .answered(Duration::from_secs(5)).await.expect("bot answered");
//! assert!(reply.ephemeral);
//!
//! // What the bot posted, and every REST call it made.
//! let posted = fake.wait_for_bot_messages(d.channel, 1, Duration::from_secs(5)).await;
//! assert!(fake.unknown_requests().is_empty());
//!
//! // Faults: drop the gateway (the bot resumes and gets missed events replayed), 429s.
//! fake.drop_gateway();
//! fake.rate_limit("POST /channels/*/messages", 2, Duration::from_millis(500), false);
//! # let _ = posted; Ok(()) }
//! ```
//!
//! ## What is modelled
//!
//! - Gateway: Hello, Identify (token, intents incl. privileged ones, shards), READY, one
//!   GUILD_CREATE per guild (channels, active threads, roles, members, scheduled events),
//!   heartbeats, sequence numbers, Resume with replay, Invalid Session, Reconnect, close codes.
//!   Dispatches are filtered by intent; without MESSAGE_CONTENT, message content, embeds,
//!   attachments and components are empty (except the bot's own, DMs, and mentions of the bot).
//! - REST: see [`rest`](crate) routes in the README; unknown routes answer a Discord-shaped 404
//!   and are recorded ([`FakeDiscord::unknown_requests`]). Every answer carries
//!   `X-RateLimit-*` headers.
//! - Attachments are served by the fake at their `url`; avatars at
//!   `{base_url}/avatars/{user}/{hash}.png` (the CDN path, on the fake's host).
//!
//! ## Waiting
//!
//! Every change to the fake's state wakes waiters, so [`FakeDiscord::wait_for`] and its
//! helpers return as soon as their condition holds, without polling loops in tests.

mod control;
pub mod faults;
mod gateway;
mod humans;
pub mod ids;
mod model;
mod rest;
mod state;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use faults::RoutePattern;
pub use gateway::{close_codes, GatewayStats};
pub use humans::{InteractionHandle, InteractionReply, Post, SlashCommand};
pub use ids::*;
pub use model::timestamp;
pub use state::{
    intents, permissions, Attachment, Channel, ChannelKind, Guild, Interaction,
    InteractionCallback, Member, Message, Reaction, RecordedRequest, RegisteredCommand, Role,
    ScheduledEvent, ThreadState, User, Webhook, WebhookAuthor,
};

use faults::RateLimitRule;
use state::{Shared, World};

/// What went wrong in a test-API call.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("unknown channel {0}")]
    UnknownChannel(ChannelId),
    #[error("unknown user {0}")]
    UnknownUser(UserId),
    #[error("unknown message {0}")]
    UnknownMessage(MessageId),
    #[error("unknown guild {0}")]
    UnknownGuild(GuildId),
    #[error("unknown role {0}")]
    UnknownRole(RoleId),
    #[error("user {0} is not a member of the channel's guild")]
    NotAMember(UserId),
    #[error(
        "no application command named {0:?} is registered (has the bot registered its commands?)"
    )]
    UnknownCommand(String),
    #[error("invalid invocation: {0}")]
    BadInvocation(String),
    #[error("unknown webhook {0}")]
    UnknownWebhook(WebhookId),
    #[error("Discord would refuse: {0}")]
    Refused(String),
    #[error("could not bind: {0}")]
    Bind(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// How to start the fake. `Config::default()` is what [`FakeDiscord::start`] uses.
#[derive(Clone, Debug)]
pub struct Config {
    /// The bot token the fake accepts (REST `Authorization: Bot <token>` and Identify).
    pub token: String,
    /// Ports on 127.0.0.1; 0 picks a free one.
    pub rest_port: u16,
    pub gateway_port: u16,
    /// The REST API over TLS, as `discord.com` ([`FakeDiscord::tls_address`]).
    pub tls_port: u16,
    /// Heartbeat interval announced in Hello (Discord: 41250 ms).
    pub heartbeat_interval: Duration,
    /// How long the bot has to answer an interaction (Discord: 3 s).
    pub interaction_deadline: Duration,
    /// Privileged intents enabled for the application (GUILD_MEMBERS, GUILD_PRESENCES,
    /// MESSAGE_CONTENT bits of [`intents`]).
    pub privileged_intents: u64,
    /// Create the default guild, channels and users ([`Defaults`]).
    pub seed: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            token: "MTAwMDAwMDAwMDAwMDAwMDAw.fake.discord-fake-bot-token".into(),
            rest_port: 0,
            gateway_port: 0,
            tls_port: 0,
            heartbeat_interval: Duration::from_millis(41_250),
            interaction_deadline: Duration::from_secs(3),
            privileged_intents: intents::PRIVILEGED,
            seed: true,
        }
    }
}

/// The world [`FakeDiscord::start`] creates: one guild with two text channels, an owner,
/// two members and a moderator whose role has MANAGE_EVENTS.
#[derive(Clone, Debug)]
pub struct Defaults {
    pub guild: GuildId,
    /// `#general`
    pub channel: ChannelId,
    /// `#chat-room`
    pub second_channel: ChannelId,
    /// The guild owner (also the application's owner).
    pub owner: UserId,
    pub alice: UserId,
    pub bob: UserId,
    /// Has [`Defaults::moderator_role`].
    pub moderator: UserId,
    /// "Moderators", with MANAGE_EVENTS.
    pub moderator_role: RoleId,
}

/// A running fake Discord. Dropping it stops its servers.
pub struct FakeDiscord {
    shared: Arc<Shared>,
    base_url: String,
    gateway_url: String,
    tls_address: SocketAddr,
    tls_ca_pem: String,
    token: String,
    application_id: ApplicationId,
    bot_user_id: UserId,
    defaults: Option<Defaults>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        // Connections still open end when their peers notice; the listeners are gone now.
        self.shared.with(|w| w.gateway.drop_all());
    }
}

impl FakeDiscord {
    /// Starts with [`Config::default`] on free ports of 127.0.0.1.
    pub async fn start() -> Result<Self, FakeError> {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Result<Self, FakeError> {
        let rest = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.rest_port))).await?;
        let gw = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.gateway_port))).await?;
        let identity = tls::Identity::new()?;
        let tls = tls::TlsListener::new(
            TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.tls_port))).await?,
            &identity,
        )?;
        let tls_address = axum::serve::Listener::local_addr(&tls)?;
        let base_url = format!("http://{}", rest.local_addr()?);
        let gateway_url = format!("ws://{}", gw.local_addr()?);
        let mut world = World::new(base_url.clone(), config.token.clone());
        world.gateway.url = gateway_url.clone();
        world.gateway.heartbeat_interval_ms = config.heartbeat_interval.as_millis() as u64;
        world.interaction_deadline = config.interaction_deadline;
        world.app.privileged_intents = config.privileged_intents;
        let defaults = config.seed.then(|| seed(&mut world));
        let application_id = world.app.id;
        let bot_user_id = world.app.bot_user;
        let shared = Shared::new(world);

        let app = axum::Router::new()
            .nest("/_fake", control::router())
            .route("/attachments/{channel}/{id}/{name}", get(rest::attachment))
            .route("/avatars/{user}/{file}", get(rest::avatar))
            .route("/embed/avatars/{file}", get(rest::avatar))
            .fallback(rest::handle)
            .layer(DefaultBodyLimit::max(64 << 20))
            .with_state(shared.clone());
        let tls_app = app.clone();
        let rest_task = tokio::spawn(async move {
            if let Err(e) = axum::serve(rest, app).await {
                tracing::error!("discord-fake REST server stopped: {e}");
            }
        });
        let tls_task = tokio::spawn(async move {
            if let Err(e) = axum::serve(tls, tls_app).await {
                tracing::error!("discord-fake TLS REST server stopped: {e}");
            }
        });
        let gw_task = tokio::spawn(gateway::serve(gw, shared.clone()));
        tracing::info!(%base_url, %gateway_url, %tls_address, "discord-fake listening");
        Ok(Self {
            shared,
            base_url,
            gateway_url,
            tls_address,
            tls_ca_pem: identity.ca_pem,
            token: config.token,
            application_id,
            bot_user_id,
            defaults,
            tasks: vec![rest_task, tls_task, gw_task],
        })
    }

    // ----- what to give the bot -----

    /// `http://127.0.0.1:PORT`: the REST host (serenity's `HttpBuilder::proxy`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// Where the REST API answers over TLS as `discord.com` (the same API as [`base_url`]).
    ///
    /// [`base_url`]: FakeDiscord::base_url
    pub fn tls_address(&self) -> SocketAddr {
        self.tls_address
    }
    /// The certificate authority (PEM) that signed the `discord.com` certificate of
    /// [`tls_address`](FakeDiscord::tls_address).
    pub fn tls_ca_pem(&self) -> &str {
        &self.tls_ca_pem
    }
    /// `ws://127.0.0.1:PORT`: the gateway (also what `GET /gateway` answers).
    pub fn gateway_url(&self) -> &str {
        &self.gateway_url
    }
    pub fn token(&self) -> &str {
        &self.token
    }
    pub fn application_id(&self) -> ApplicationId {
        self.application_id
    }
    pub fn bot_user_id(&self) -> UserId {
        self.bot_user_id
    }
    /// The seeded world. Panics if the fake was started with `seed: false`.
    pub fn defaults(&self) -> &Defaults {
        self.defaults
            .as_ref()
            .expect("started with Config { seed: false, .. }: there are no defaults")
    }

    // ----- setting up the world -----

    pub fn create_user(&self, username: &str) -> UserId {
        self.shared.with(|w| w.add_user(username, false))
    }
    /// A new guild owned by `owner`; the bot is a member with its own role. Dispatches
    /// GUILD_CREATE to a connected bot.
    pub fn create_guild(&self, name: &str, owner: UserId) -> GuildId {
        self.shared.with(|w| w.add_guild(name, owner))
    }
    pub fn create_channel(&self, guild: GuildId, name: &str) -> Result<ChannelId, FakeError> {
        self.shared
            .with(|w| w.add_channel(guild, name, None))
            .ok_or(FakeError::UnknownGuild(guild))
    }
    /// A role with the given permission bits ([`permissions`]).
    pub fn create_role(&self, guild: GuildId, name: &str, perms: u64) -> Result<RoleId, FakeError> {
        self.shared
            .with(|w| w.add_role(guild, name, perms))
            .ok_or(FakeError::UnknownGuild(guild))
    }
    /// Changes a role's permission bits, as a server admin would; dispatches
    /// GUILD_ROLE_UPDATE. The bot's own role is [`FakeDiscord::bot_role`].
    pub fn set_role_permissions(
        &self,
        guild: GuildId,
        role: RoleId,
        perms: u64,
    ) -> Result<(), FakeError> {
        self.shared.with(|w| {
            let r = w
                .guilds
                .get_mut(&guild)
                .ok_or(FakeError::UnknownGuild(guild))?
                .roles
                .get_mut(&role)
                .ok_or(FakeError::UnknownRole(role))?;
            r.permissions = perms;
            w.dispatch_role_event("GUILD_ROLE_UPDATE", guild, role);
            Ok(())
        })
    }
    /// The role Discord made for the bot when it joined `guild` (managed by the bot).
    pub fn bot_role(&self, guild: GuildId) -> Option<RoleId> {
        let bot = self.bot_user_id;
        self.shared.read(|w| {
            w.guilds
                .get(&guild)?
                .roles
                .values()
                .find(|r| r.managed_by_bot == Some(bot))
                .map(|r| r.id)
        })
    }
    /// Adds `user` to `guild` (or adds roles to an existing member).
    pub fn add_member(
        &self,
        guild: GuildId,
        user: UserId,
        roles: &[RoleId],
    ) -> Result<(), FakeError> {
        if self.shared.with(|w| w.add_member(guild, user, roles)) {
            Ok(())
        } else {
            Err(FakeError::UnknownGuild(guild))
        }
    }
    /// Sets (or with `None` clears) `user`'s nickname in `guild`, as they would in the server
    /// settings; dispatches GUILD_MEMBER_UPDATE.
    pub fn set_nickname(
        &self,
        guild: GuildId,
        user: UserId,
        nick: Option<&str>,
    ) -> Result<(), FakeError> {
        self.shared.with(|w| {
            let member = w
                .guilds
                .get_mut(&guild)
                .ok_or(FakeError::UnknownGuild(guild))?
                .members
                .get_mut(&user)
                .ok_or(FakeError::NotAMember(user))?;
            member.nick = nick.map(str::to_owned);
            w.dispatch_member_event("GUILD_MEMBER_UPDATE", guild, user);
            Ok(())
        })
    }
    /// Takes permission `bits` ([`permissions`]) away from the bot in `guild`, from @everyone
    /// and its own roles (what an admin does in the server settings).
    pub fn revoke_bot_permissions(&self, guild: GuildId, bits: u64) -> Result<(), FakeError> {
        if self.shared.with(|w| w.revoke_bot_permissions(guild, bits)) {
            Ok(())
        } else {
            Err(FakeError::UnknownGuild(guild))
        }
    }
    /// A person makes an incoming webhook in `channel` (in the channel's settings, as the
    /// integrations people add do): not the bot's, no application. Dispatches WEBHOOKS_UPDATE.
    pub fn create_webhook_as(
        &self,
        user: UserId,
        channel: ChannelId,
        name: &str,
    ) -> Result<Webhook, FakeError> {
        self.shared.with(|w| {
            if let Some(refused) = rest::refuse_webhook(w, channel) {
                return Err(FakeError::Refused(format!("{:?}", refused.body)));
            }
            if !w.users.contains_key(&user) {
                return Err(FakeError::UnknownUser(user));
            }
            Ok(rest::add_webhook(w, channel, name, user, None))
        })
    }
    /// Posts `content` through a webhook as `username` (what an integration does with its
    /// webhook's URL). Dispatches MESSAGE_CREATE with the webhook's id.
    pub fn execute_webhook(
        &self,
        webhook: WebhookId,
        username: &str,
        content: &str,
    ) -> Result<Message, FakeError> {
        self.shared.with(|w| {
            let hook = w
                .webhooks
                .get(&webhook)
                .cloned()
                .ok_or(FakeError::UnknownWebhook(webhook))?;
            let mut m = w.new_message(hook.channel_id, hook.creator_id, content.to_owned());
            m.webhook = Some(WebhookAuthor {
                webhook_id: hook.id,
                username: username.to_owned(),
                avatar_url: None,
            });
            m.application_id = hook.application_id;
            Ok(w.insert_message(m))
        })
    }
    /// Someone deletes a webhook in the channel's settings. Its messages stay. Dispatches
    /// WEBHOOKS_UPDATE.
    pub fn delete_webhook(&self, webhook: WebhookId) -> Result<(), FakeError> {
        self.shared.with(|w| {
            let hook = w
                .webhooks
                .remove(&webhook)
                .ok_or(FakeError::UnknownWebhook(webhook))?;
            w.dispatch_webhooks_update(hook.guild_id, hook.channel_id);
            Ok(())
        })
    }
    /// The webhooks of `channel` now, oldest first.
    pub fn webhooks(&self, channel: ChannelId) -> Vec<Webhook> {
        self.shared.read(|w| {
            w.webhooks
                .values()
                .filter(|h| h.channel_id == channel)
                .cloned()
                .collect()
        })
    }
    /// A human starts a public thread, from `message` if given (the thread then has the
    /// message's id, as on Discord). Dispatches THREAD_CREATE.
    pub fn create_thread(
        &self,
        channel: ChannelId,
        message: Option<MessageId>,
        name: &str,
        owner: UserId,
    ) -> Result<ChannelId, FakeError> {
        self.shared.with(|w| {
            let c = w
                .channels
                .get(&channel)
                .ok_or(FakeError::UnknownChannel(channel))?;
            let guild = c.guild_id.ok_or(FakeError::UnknownChannel(channel))?;
            let tid = match message {
                Some(m) => {
                    if w.message(channel, m).is_none() {
                        return Err(FakeError::UnknownMessage(m));
                    }
                    ChannelId(m.0)
                }
                None => ChannelId(w.next_id()),
            };
            rest::make_thread(
                w,
                tid,
                channel,
                guild,
                name.to_string(),
                ChannelKind::PublicThread,
                owner,
                1440,
            );
            if let Some(m) = message {
                w.edit_message_silently(channel, m, |x| {
                    x.thread_id = Some(tid);
                    x.flags |= Message::HAS_THREAD;
                });
            }
            Ok(tid)
        })
    }
    /// Changes which privileged intents the application may use (takes effect at the next
    /// Identify).
    pub fn set_privileged_intents(&self, bits: u64) {
        self.shared.with(|w| w.app.privileged_intents = bits);
    }

    // ----- acting as humans -----

    /// A human posts a message (MESSAGE_CREATE with member, avatar, attachments, reply).
    pub async fn post(&self, post: Post) -> Result<Message, FakeError> {
        self.shared.with(|w| w.human_post(post))
    }
    /// Adds `count` messages by `author` to `channel` at once (a long history to page
    /// through). Dispatches nothing.
    pub fn seed_history(
        &self,
        channel: ChannelId,
        author: UserId,
        count: usize,
        content: impl Fn(usize) -> String,
    ) -> Result<Vec<MessageId>, FakeError> {
        self.shared.with(|w| {
            if !w.channels.contains_key(&channel) {
                return Err(FakeError::UnknownChannel(channel));
            }
            let mut ids = Vec::with_capacity(count);
            for i in 0..count {
                let m = w.new_message(channel, author, content(i));
                ids.push(m.id);
                w.messages.entry(channel).or_default().insert(m.id, m);
            }
            if let Some(last) = ids.last() {
                if let Some(c) = w.channels.get_mut(&channel) {
                    c.last_message_id = Some(*last);
                }
            }
            Ok(ids)
        })
    }
    /// A human edits their message (MESSAGE_UPDATE).
    pub async fn edit(
        &self,
        channel: ChannelId,
        message: MessageId,
        content: &str,
    ) -> Result<Message, FakeError> {
        self.shared
            .with(|w| w.edit_message(channel, message, |m| m.content = content.to_string()))
            .ok_or(FakeError::UnknownMessage(message))
    }
    /// A message is deleted (MESSAGE_DELETE).
    pub async fn delete(&self, channel: ChannelId, message: MessageId) -> Result<(), FakeError> {
        self.shared
            .with(|w| w.delete_message(channel, message))
            .map(|_| ())
            .ok_or(FakeError::UnknownMessage(message))
    }
    /// A moderator bulk-deletes (MESSAGE_DELETE_BULK). Returns the ids that existed.
    pub async fn bulk_delete(&self, channel: ChannelId, messages: &[MessageId]) -> Vec<MessageId> {
        self.shared.with(|w| w.bulk_delete(channel, messages))
    }
    /// `user` reacts with `emoji` (unicode, or `name:id`): MESSAGE_REACTION_ADD.
    pub async fn react(
        &self,
        channel: ChannelId,
        message: MessageId,
        user: UserId,
        emoji: &str,
    ) -> Result<(), FakeError> {
        if self.shared.with(|w| w.react(channel, message, user, emoji)) {
            Ok(())
        } else {
            Err(FakeError::UnknownMessage(message))
        }
    }
    /// MESSAGE_REACTION_REMOVE.
    pub async fn unreact(
        &self,
        channel: ChannelId,
        message: MessageId,
        user: UserId,
        emoji: &str,
    ) -> Result<(), FakeError> {
        if self
            .shared
            .with(|w| w.unreact(channel, message, user, emoji))
        {
            Ok(())
        } else {
            Err(FakeError::UnknownMessage(message))
        }
    }
    /// `user` runs a slash command in `channel`: INTERACTION_CREATE (type 2), built against the
    /// schema the bot registered. Await the answer through the returned handle.
    pub async fn invoke(
        &self,
        user: UserId,
        channel: ChannelId,
        cmd: SlashCommand,
    ) -> Result<InteractionHandle, FakeError> {
        let (id, token) = self.shared.with(|w| w.invoke(user, channel, &cmd, None))?;
        Ok(InteractionHandle::new(id, token, self.shared.clone()))
    }
    /// `user` is typing option `focused` of a command: an autocomplete interaction (type 4).
    /// The handle's reply carries the bot's `choices`.
    pub async fn autocomplete(
        &self,
        user: UserId,
        channel: ChannelId,
        cmd: SlashCommand,
        focused: &str,
    ) -> Result<InteractionHandle, FakeError> {
        let (id, token) = self
            .shared
            .with(|w| w.invoke(user, channel, &cmd, Some(focused)))?;
        Ok(InteractionHandle::new(id, token, self.shared.clone()))
    }

    // ----- reading what happened -----

    /// Messages in a channel now, oldest first (the bot's and humans'; not ephemeral ones).
    pub fn messages(&self, channel: ChannelId) -> Vec<Message> {
        self.shared.read(|w| w.channel_messages(channel))
    }
    /// The bot's messages in a channel (including interaction responses and webhook posts).
    pub fn bot_messages(&self, channel: ChannelId) -> Vec<Message> {
        let bot = self.bot_user_id;
        self.messages(channel)
            .into_iter()
            .filter(|m| m.author_id == bot)
            .collect()
    }
    pub fn message(&self, channel: ChannelId, id: MessageId) -> Option<Message> {
        self.shared.read(|w| w.message(channel, id).cloned())
    }
    /// Messages deleted so far (by anyone), in deletion order.
    pub fn deleted_messages(&self) -> Vec<Message> {
        self.shared.read(|w| w.deleted.clone())
    }
    pub fn channel(&self, id: ChannelId) -> Option<Channel> {
        self.shared.read(|w| w.channels.get(&id).cloned())
    }
    pub fn guild(&self, id: GuildId) -> Option<Guild> {
        self.shared.read(|w| w.guilds.get(&id).cloned())
    }
    /// Every REST request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.read(|w| w.requests.clone())
    }
    /// Requests matching a pattern such as `"POST /channels/*/messages"`.
    pub fn requests_matching(&self, pattern: &str) -> Vec<RecordedRequest> {
        let p = RoutePattern::new(pattern);
        self.shared.read(|w| {
            w.requests
                .iter()
                .filter(|r| p.matches(&r.method, &r.path))
                .cloned()
                .collect()
        })
    }
    /// Requests to routes the fake does not know (answered 404): should be empty.
    pub fn unknown_requests(&self) -> Vec<RecordedRequest> {
        self.shared.read(|w| {
            w.requests
                .iter()
                .filter(|r| !r.known_route)
                .cloned()
                .collect()
        })
    }
    /// Commands the bot registered: in `guild`, or global for `None`.
    pub fn commands(&self, guild: Option<GuildId>) -> Vec<RegisteredCommand> {
        self.shared.read(|w| {
            w.commands
                .values()
                .filter(|c| c.guild_id == guild)
                .cloned()
                .collect()
        })
    }
    pub fn scheduled_events(&self, guild: GuildId) -> Vec<ScheduledEvent> {
        self.shared.read(|w| {
            w.scheduled_events
                .values()
                .filter(|e| e.guild_id == guild)
                .cloned()
                .collect()
        })
    }
    pub fn interactions(&self) -> Vec<Interaction> {
        self.shared
            .read(|w| w.interactions.values().cloned().collect())
    }
    pub fn gateway_stats(&self) -> GatewayStats {
        self.shared.read(|w| w.gateway.stats.clone())
    }
    /// The intents of the live, connected session, if the bot is connected.
    pub fn session_intents(&self) -> Option<u64> {
        self.shared
            .read(|w| w.gateway.connected_session().map(|(_, s)| s.intents))
    }
    pub fn is_bot_connected(&self) -> bool {
        self.shared
            .read(|w| w.gateway.connected_session().is_some())
    }

    // ----- waiting -----

    /// Waits until `f` returns `Some`, re-checking whenever the fake's state changes (and at
    /// least every 50 ms), up to `timeout`.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&Self) -> Option<T>,
    ) -> Option<T> {
        // `f` calls the fake's own methods, which take the world's lock: it must run without it.
        self.shared.wait_until(timeout, || f(self)).await
    }
    /// Waits until the bot has identified (or resumed) and is connected.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        self.shared
            .wait_for(timeout, |w| w.gateway.connected_session().map(|_| ()))
            .await
            .is_some()
    }
    /// Waits until the bot has at least `n` messages in `channel`; returns them.
    pub async fn wait_for_bot_messages(
        &self,
        channel: ChannelId,
        n: usize,
        timeout: Duration,
    ) -> Option<Vec<Message>> {
        self.wait_for(timeout, |f| {
            let m = f.bot_messages(channel);
            (m.len() >= n).then_some(m)
        })
        .await
    }
    /// Waits for a request matching `pattern` (e.g. `"PUT /applications/*/commands"`).
    pub async fn wait_for_request(
        &self,
        pattern: &str,
        timeout: Duration,
    ) -> Option<RecordedRequest> {
        self.wait_for(timeout, |f| f.requests_matching(pattern).into_iter().next())
            .await
    }

    // ----- faults -----

    /// Closes every gateway connection abruptly (TCP reset, no close frame). The session
    /// stays resumable: events dispatched meanwhile are replayed on Resume.
    pub fn drop_gateway(&self) {
        self.shared.with(|w| w.gateway.drop_all());
    }
    /// Closes every gateway connection abruptly and holds back Hello from new ones until
    /// [`FakeDiscord::release_gateway`]: the bot is certainly away meanwhile (events are kept
    /// for its Resume), and, unlike [`FakeDiscord::refuse_gateway`], its reconnect attempt is
    /// not failed, so it backs off for no time.
    pub fn hold_gateway(&self) {
        self.shared.with(|w| {
            w.gateway.holding_hello = true;
            w.gateway.drop_all();
        });
    }
    pub fn release_gateway(&self) {
        self.shared.with(|w| w.gateway.holding_hello = false);
    }
    /// Sends op 7 Reconnect: the client should reconnect and resume.
    pub fn send_reconnect(&self) {
        self.shared.with(|w| w.gateway.send_reconnect());
    }
    /// Closes every gateway connection with a close frame carrying `code` (e.g. 4000 "unknown
    /// error", after which a client resumes; 4004 "authentication failed", after which it
    /// must not).
    pub fn close_gateway(&self, code: u16) {
        self.shared.with(|w| w.gateway.close_all(code));
    }
    /// Sends op 1: the client must heartbeat at once.
    pub fn request_heartbeat(&self) {
        self.shared.with(|w| w.gateway.request_heartbeat());
    }
    /// Sends op 9 Invalid Session. `resumable: false` ends the session: events from now until
    /// the next Identify are not delivered, and a Resume fails.
    pub fn invalidate_session(&self, resumable: bool) {
        self.shared
            .with(|w| w.gateway.invalidate_sessions(resumable));
    }
    /// Discord unreachable: drops gateway connections and resets new ones for `duration`
    /// (`None`: until [`FakeDiscord::restore_gateway`]).
    pub fn refuse_gateway(&self, duration: Option<Duration>) {
        self.shared.with(|w| {
            match duration {
                Some(d) => w.gateway.refuse_until = Some(std::time::Instant::now() + d),
                None => w.gateway.refusing = true,
            }
            w.gateway.drop_all();
        });
    }
    pub fn restore_gateway(&self) {
        self.shared.with(|w| {
            w.gateway.refusing = false;
            w.gateway.refuse_until = None;
        });
    }
    /// Answers the next `count` requests matching `pattern` (e.g. `"POST /channels/*/messages"`)
    /// with 429, `Retry-After` and a JSON body `{retry_after, global}`.
    pub fn rate_limit(&self, pattern: &str, count: u32, retry_after: Duration, global: bool) {
        self.shared.with(|w| {
            w.faults.rules.push(RateLimitRule {
                pattern: RoutePattern::new(pattern),
                remaining: count,
                retry_after,
                global,
            })
        });
    }
    /// Carries out the next `count` requests matching `pattern`, then answers each with a 500
    /// as if the answer had been lost on the way back: the request took effect, and the bot
    /// cannot know it.
    pub fn lose_answers(&self, pattern: &str, count: u32) {
        self.shared.with(|w| {
            w.faults.lost_answers.push(faults::LostAnswers {
                pattern: RoutePattern::new(pattern),
                remaining: count,
            })
        });
    }
    /// While set, every REST request answers 502.
    pub fn set_rest_down(&self, down: bool) {
        self.shared.with(|w| w.faults.rest_down = down);
    }
}

/// The default world: see [`Defaults`].
fn seed(w: &mut World) -> Defaults {
    let owner = w.app.owner;
    let guild = w.add_guild("Hashchat Test Guild", owner);
    let channel = w.add_channel(guild, "general", None).expect("guild exists");
    let second_channel = w
        .add_channel(guild, "chat-room", None)
        .expect("guild exists");
    let moderator_role = w
        .add_role(
            guild,
            "Moderators",
            permissions::EVERYONE_DEFAULT | permissions::MANAGE_EVENTS,
        )
        .expect("guild exists");
    let alice = w.add_user("alice", false);
    let bob = w.add_user("bob", false);
    let moderator = w.add_user("morgan", false);
    w.add_member(guild, alice, &[]);
    w.add_member(guild, bob, &[]);
    w.add_member(guild, moderator, &[moderator_role]);
    Defaults {
        guild,
        channel,
        second_channel,
        owner,
        alice,
        bob,
        moderator,
        moderator_role,
    }
}
