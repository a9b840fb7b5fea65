//! The fake's world: every guild, channel, user, message, command, interaction and scheduled
//! event, plus what the bot asked for over REST. One `World` lives behind a mutex in [`Shared`];
//! REST handlers, the gateway and the test API all change it under that lock, and every change
//! bumps a watch counter so tests can wait for a condition without polling in a loop.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::watch;

use crate::faults::Faults;
use crate::gateway::GatewayState;
use crate::ids::*;

/// Discord permission bits used by the fake (the values are Discord's).
pub mod permissions {
    pub const CREATE_INSTANT_INVITE: u64 = 1 << 0;
    pub const KICK_MEMBERS: u64 = 1 << 1;
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const MANAGE_CHANNELS: u64 = 1 << 4;
    pub const MANAGE_GUILD: u64 = 1 << 5;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const MENTION_EVERYONE: u64 = 1 << 17;
    pub const USE_EXTERNAL_EMOJIS: u64 = 1 << 18;
    pub const CHANGE_NICKNAME: u64 = 1 << 26;
    pub const MANAGE_ROLES: u64 = 1 << 28;
    pub const MANAGE_WEBHOOKS: u64 = 1 << 29;
    pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
    pub const MANAGE_EVENTS: u64 = 1 << 33;
    pub const MANAGE_THREADS: u64 = 1 << 34;
    pub const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
    pub const CREATE_PRIVATE_THREADS: u64 = 1 << 36;
    pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
    pub const CREATE_EVENTS: u64 = 1 << 44;
    /// Every permission bit Discord defines as of API v10 (what an owner or administrator has).
    pub const ALL: u64 = (1 << 51) - 1;

    /// What a new guild's @everyone role allows, close to Discord's default.
    pub const EVERYONE_DEFAULT: u64 = CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | MENTION_EVERYONE
        | USE_EXTERNAL_EMOJIS
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | SEND_MESSAGES_IN_THREADS
        | CREATE_EVENTS;

    /// What the bot's own managed role allows in every guild the fake creates.
    pub const BOT_DEFAULT: u64 =
        EVERYONE_DEFAULT | MANAGE_MESSAGES | MANAGE_WEBHOOKS | MANAGE_THREADS | MANAGE_EVENTS;
}

/// Gateway intent bits (Discord's values).
pub mod intents {
    pub const GUILDS: u64 = 1 << 0;
    pub const GUILD_MEMBERS: u64 = 1 << 1;
    pub const GUILD_WEBHOOKS: u64 = 1 << 5;
    pub const GUILD_PRESENCES: u64 = 1 << 8;
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
    pub const DIRECT_MESSAGES: u64 = 1 << 12;
    pub const DIRECT_MESSAGE_REACTIONS: u64 = 1 << 13;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
    pub const GUILD_SCHEDULED_EVENTS: u64 = 1 << 16;
    /// The privileged intents: an application must have them enabled to identify with them.
    pub const PRIVILEGED: u64 = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT;
    /// Every intent bit Discord defines; anything else in an Identify is close code 4013.
    pub const ALL_KNOWN: u64 = (1 << 26) - 1;
}

/// A user account, human or bot.
#[derive(Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub global_name: Option<String>,
    /// Avatar hash (32 hex digits), served by the fake at `/avatars/{id}/{hash}.png`.
    pub avatar: Option<String>,
    pub bot: bool,
}

/// A guild member: a user's membership of one guild.
#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: UserId,
    pub nick: Option<String>,
    pub roles: Vec<RoleId>,
    pub joined_at: DateTime<Utc>,
}

/// A role. The @everyone role has the guild's id.
#[derive(Clone, Debug)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub permissions: u64,
    pub position: u16,
    pub color: u32,
    /// Set for the bot's own integration role.
    pub managed_by_bot: Option<UserId>,
}

/// A guild.
#[derive(Clone, Debug)]
pub struct Guild {
    pub id: GuildId,
    pub name: String,
    pub owner_id: UserId,
    pub roles: BTreeMap<RoleId, Role>,
    pub members: BTreeMap<UserId, Member>,
    pub created_at: DateTime<Utc>,
}

/// Channel kinds the fake models (Discord's `type` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    Text = 0,
    Dm = 1,
    PublicThread = 11,
    PrivateThread = 12,
}

impl ChannelKind {
    pub fn is_thread(self) -> bool {
        matches!(self, ChannelKind::PublicThread | ChannelKind::PrivateThread)
    }
}

/// The thread-only part of a channel.
#[derive(Clone, Debug)]
pub struct ThreadState {
    pub owner_id: UserId,
    pub archived: bool,
    pub locked: bool,
    pub auto_archive_duration: u32,
    pub archive_timestamp: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// Messages ever sent in the thread (Discord's `total_message_sent`).
    pub total_message_sent: u32,
}

/// A channel: a guild text channel, a DM, or a thread.
#[derive(Clone, Debug)]
pub struct Channel {
    pub id: ChannelId,
    pub guild_id: Option<GuildId>,
    pub kind: ChannelKind,
    pub name: String,
    pub topic: Option<String>,
    pub position: u16,
    pub parent_id: Option<ChannelId>,
    pub thread: Option<ThreadState>,
    pub last_message_id: Option<MessageId>,
    /// The users of a DM channel.
    pub recipients: Vec<UserId>,
}

/// A stored attachment; its bytes are served by the fake at [`Attachment::url`].
#[derive(Clone, Debug)]
pub struct Attachment {
    pub id: AttachmentId,
    pub filename: String,
    pub content_type: String,
    pub size: usize,
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// The users who reacted to a message with one emoji.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reaction {
    /// A unicode emoji, or `name:id` for a custom one.
    pub emoji: String,
    pub users: Vec<UserId>,
}

/// Who a message shows as its author when it is not a plain user's message.
#[derive(Clone, Debug)]
pub struct WebhookAuthor {
    pub webhook_id: WebhookId,
    pub username: String,
    pub avatar_url: Option<String>,
}

/// A message, as the fake stores it. Tests get clones of these.
#[derive(Clone, Debug)]
pub struct Message {
    pub id: MessageId,
    pub channel_id: ChannelId,
    pub guild_id: Option<GuildId>,
    pub author_id: UserId,
    /// Set for messages posted through a webhook (relays, interaction responses).
    pub webhook: Option<WebhookAuthor>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    /// Discord's message type: 0 default, 19 reply, 20 chat-input command response, 21 thread
    /// starter.
    pub kind: u8,
    pub reply_to: Option<MessageId>,
    /// The nonce the sender gave, as sent (string or number).
    pub nonce: Option<Value>,
    pub tts: bool,
    pub flags: u64,
    pub embeds: Vec<Value>,
    pub components: Vec<Value>,
    pub attachments: Vec<Attachment>,
    pub reactions: Vec<Reaction>,
    pub mentions: Vec<UserId>,
    pub mention_roles: Vec<RoleId>,
    pub mention_everyone: bool,
    /// `allowed_mentions` exactly as the bot sent it.
    pub allowed_mentions: Option<Value>,
    pub pinned: bool,
    /// The thread started from this message, if any.
    pub thread_id: Option<ChannelId>,
    /// For interaction responses: the interaction this message answers.
    pub interaction: Option<InteractionId>,
    pub application_id: Option<ApplicationId>,
}

impl Message {
    /// Message flag EPHEMERAL (only the invoking user sees it).
    pub const EPHEMERAL: u64 = 1 << 6;
    /// Message flag LOADING (a deferred interaction response still "thinking").
    pub const LOADING: u64 = 1 << 7;
    /// Message flag HAS_THREAD.
    pub const HAS_THREAD: u64 = 1 << 5;

    pub fn is_ephemeral(&self) -> bool {
        self.flags & Self::EPHEMERAL != 0
    }
}

/// A command the bot registered (bulk overwrite or create), as Discord stores it.
#[derive(Clone, Debug)]
pub struct RegisteredCommand {
    pub id: CommandId,
    /// None for a global command.
    pub guild_id: Option<GuildId>,
    pub name: String,
    /// Discord's command type: 1 chat input (slash), 2 user, 3 message.
    pub kind: u8,
    /// The command object as the bot sent it, with id/application_id/version filled in.
    pub json: Value,
}

/// What the bot answered to an interaction, once per callback.
#[derive(Clone, Debug)]
pub struct InteractionCallback {
    /// Callback type: 4 message, 5 deferred message, 6 deferred update, 7 update, 8 autocomplete
    /// result, 9 modal.
    pub kind: u8,
    /// Message content given in the callback (type 4), if any.
    pub content: Option<String>,
    /// Message flags given in the callback (EPHEMERAL = 64).
    pub flags: u64,
    /// The callback's `data` as sent.
    pub data: Value,
    /// Time from dispatching INTERACTION_CREATE to receiving this callback.
    pub latency: Duration,
}

/// An interaction the fake dispatched (a slash command or an autocomplete request).
#[derive(Clone, Debug)]
pub struct Interaction {
    pub id: InteractionId,
    pub token: String,
    /// 2 application command, 4 autocomplete.
    pub kind: u8,
    pub user_id: UserId,
    pub channel_id: ChannelId,
    pub guild_id: Option<GuildId>,
    /// The `data` object dispatched.
    pub data: Value,
    pub dispatched_at: Instant,
    pub callback: Option<InteractionCallback>,
    /// The response message (`@original`) once there is one.
    pub original: Option<MessageId>,
    /// When the original response first had non-empty content or embeds (type 4 at once;
    /// type 5 after the edit of `@original`).
    pub answered_after: Option<Duration>,
    pub followups: Vec<MessageId>,
    /// Ephemeral messages are not in the channel; they live here.
    pub ephemeral_messages: BTreeMap<MessageId, Message>,
}

/// A guild scheduled event.
#[derive(Clone, Debug)]
pub struct ScheduledEvent {
    pub id: ScheduledEventId,
    pub guild_id: GuildId,
    pub channel_id: Option<ChannelId>,
    pub creator_id: UserId,
    pub name: String,
    pub description: Option<String>,
    pub start: String,
    pub end: Option<String>,
    pub privacy_level: u8,
    /// 1 scheduled, 2 active, 3 completed, 4 canceled.
    pub status: u8,
    /// 1 stage instance, 2 voice, 3 external.
    pub entity_type: u8,
    pub location: Option<String>,
    pub image: Option<String>,
}

/// An incoming webhook of a channel: made by the bot (through REST) or by a person (in
/// Discord's settings, here [`FakeDiscord::create_webhook_as`]).
///
/// [`FakeDiscord::create_webhook_as`]: crate::FakeDiscord::create_webhook_as
#[derive(Clone, Debug)]
pub struct Webhook {
    pub id: WebhookId,
    pub token: String,
    pub guild_id: Option<GuildId>,
    pub channel_id: ChannelId,
    pub name: String,
    pub creator_id: UserId,
    /// The application that made it (the bot's, for webhooks made through the bot's token);
    /// `None` for one a person made. Messages it sends carry it as `application_id`.
    pub application_id: Option<ApplicationId>,
}

/// One REST request the fake received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The `Host` header: `discord.com` when the bot reached the fake as Discord, over TLS.
    pub host: String,
    /// Path without the `/api/v10` prefix, e.g. `/channels/1/messages`.
    pub path: String,
    /// The raw query string (empty if none).
    pub query: String,
    /// The JSON body, if the request had one (for multipart: the `payload_json` part).
    pub body: Option<Value>,
    pub status: u16,
    /// False when no route matched (answered 404): something the fake does not know.
    pub known_route: bool,
    pub at: SystemTime,
}

/// The application the bot runs as.
#[derive(Clone, Debug)]
pub struct App {
    pub id: ApplicationId,
    pub name: String,
    pub token: String,
    pub bot_user: UserId,
    pub owner: UserId,
    /// Privileged intents the application may use (GUILD_MEMBERS, GUILD_PRESENCES,
    /// MESSAGE_CONTENT bits); identifying with others is close code 4014.
    pub privileged_intents: u64,
}

impl App {
    /// The application flags Discord reports for the enabled privileged intents.
    pub fn flags(&self) -> u64 {
        let mut f = 0;
        if self.privileged_intents & intents::GUILD_PRESENCES != 0 {
            f |= 1 << 12;
        }
        if self.privileged_intents & intents::GUILD_MEMBERS != 0 {
            f |= 1 << 14;
        }
        if self.privileged_intents & intents::MESSAGE_CONTENT != 0 {
            f |= 1 << 18;
        }
        f
    }
}

/// Everything the fake knows.
pub struct World {
    pub(crate) ids: SnowflakeGen,
    pub(crate) base_url: String,
    pub(crate) app: App,
    pub(crate) users: BTreeMap<UserId, User>,
    pub(crate) guilds: BTreeMap<GuildId, Guild>,
    pub(crate) channels: BTreeMap<ChannelId, Channel>,
    /// Messages per channel, keyed by id, so id order is time order and paging is a range scan.
    pub(crate) messages: HashMap<ChannelId, BTreeMap<MessageId, Message>>,
    pub(crate) deleted: Vec<Message>,
    /// (channel, nonce) → the message created with that nonce, for `enforce_nonce`.
    pub(crate) nonces: HashMap<(ChannelId, String), MessageId>,
    pub(crate) commands: BTreeMap<CommandId, RegisteredCommand>,
    pub(crate) interactions: BTreeMap<InteractionId, Interaction>,
    pub(crate) interaction_tokens: HashMap<String, InteractionId>,
    pub(crate) scheduled_events: BTreeMap<ScheduledEventId, ScheduledEvent>,
    pub(crate) files: HashMap<AttachmentId, (String, Arc<Vec<u8>>)>,
    pub(crate) webhooks: BTreeMap<WebhookId, Webhook>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) gateway: GatewayState,
    pub(crate) faults: Faults,
    /// How long the bot has to answer an interaction before Discord forgets it (3 s).
    pub(crate) interaction_deadline: Duration,
}

/// The world behind its lock, with the change counter tests wait on.
pub struct Shared {
    world: Mutex<World>,
    changed: watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn new(world: World) -> Arc<Self> {
        let (changed, _) = watch::channel(0);
        Arc::new(Self {
            world: Mutex::new(world),
            changed,
        })
    }

    /// Runs `f` on the world and tells every waiter that something may have changed.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let r = {
            let mut w = self.lock();
            f(&mut w)
        };
        self.changed.send_modify(|v| *v += 1);
        r
    }

    /// Reads the world without signalling a change.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        f(&self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic in a handler must not wedge every later request: take the data as it is.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `f` returns `Some`, re-checking after each change, up to `timeout`.
    pub(crate) async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&World) -> Option<T>,
    ) -> Option<T> {
        self.wait_until(timeout, || self.read(&mut f)).await
    }

    /// Like [`Shared::wait_for`], but `f` takes the lock itself (if at all): for conditions
    /// written with the public API, whose methods lock the world (holding it while calling
    /// them would deadlock on the non-reentrant mutex).
    pub(crate) async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Some(v) = f() {
                return Some(v);
            }
            // Some conditions depend on time passing rather than on a change (an interaction
            // deadline); wake at least every 50 ms to re-check those.
            let tick = tokio::time::Instant::now() + Duration::from_millis(50);
            let until = tick.min(deadline);
            match tokio::time::timeout_at(until, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return None,
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    return f();
                }
                Err(_) => {}
            }
        }
    }
}

/// A 32-hex-digit image hash derived from an id, stable across runs.
pub(crate) fn image_hash(id: u64, salt: u64) -> String {
    let a = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    let b = (id ^ 0xA5A5_5A5A_F0F0_0F0F).wrapping_mul(0xC2B2_AE3D_27D4_EB4F) ^ salt.rotate_left(17);
    format!("{a:016x}{b:016x}")
}

impl World {
    pub(crate) fn new(base_url: String, token: String) -> Self {
        let mut ids = SnowflakeGen::default();
        let app_id = ApplicationId(ids.next());
        // On Discord the bot user's id equals the application id for modern applications.
        let bot_user = UserId(app_id.0);
        let owner = UserId(ids.next());
        let mut users = BTreeMap::new();
        users.insert(
            bot_user,
            User {
                id: bot_user,
                username: "hashchat".into(),
                global_name: None,
                avatar: Some(image_hash(bot_user.0, 1)),
                bot: true,
            },
        );
        users.insert(
            owner,
            User {
                id: owner,
                username: "owner".into(),
                global_name: Some("App Owner".into()),
                avatar: Some(image_hash(owner.0, 1)),
                bot: false,
            },
        );
        Self {
            ids,
            base_url,
            app: App {
                id: app_id,
                name: "hashchat".into(),
                token,
                bot_user,
                owner,
                privileged_intents: intents::PRIVILEGED,
            },
            users,
            guilds: BTreeMap::new(),
            channels: BTreeMap::new(),
            messages: HashMap::new(),
            deleted: Vec::new(),
            nonces: HashMap::new(),
            commands: BTreeMap::new(),
            interactions: BTreeMap::new(),
            interaction_tokens: HashMap::new(),
            scheduled_events: BTreeMap::new(),
            files: HashMap::new(),
            webhooks: BTreeMap::new(),
            requests: Vec::new(),
            gateway: GatewayState::default(),
            faults: Faults::default(),
            interaction_deadline: Duration::from_secs(3),
        }
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.ids.next()
    }

    pub(crate) fn bot_id(&self) -> UserId {
        self.app.bot_user
    }

    // ----- setup -----

    pub(crate) fn add_user(&mut self, username: &str, bot: bool) -> UserId {
        let id = UserId(self.next_id());
        self.users.insert(
            id,
            User {
                id,
                username: username.to_string(),
                global_name: Some(capitalise(username)),
                avatar: Some(image_hash(id.0, 1)),
                bot,
            },
        );
        id
    }

    pub(crate) fn add_guild(&mut self, name: &str, owner: UserId) -> GuildId {
        let id = GuildId(self.next_id());
        let now = Utc::now();
        let mut roles = BTreeMap::new();
        roles.insert(
            RoleId(id.0),
            Role {
                id: RoleId(id.0),
                name: "@everyone".into(),
                permissions: permissions::EVERYONE_DEFAULT,
                position: 0,
                color: 0,
                managed_by_bot: None,
            },
        );
        let bot_role = RoleId(self.next_id());
        let bot = self.bot_id();
        roles.insert(
            bot_role,
            Role {
                id: bot_role,
                name: self.app.name.clone(),
                permissions: permissions::BOT_DEFAULT,
                position: 1,
                color: 0,
                managed_by_bot: Some(bot),
            },
        );
        let mut members = BTreeMap::new();
        for (user, r) in [(owner, vec![]), (bot, vec![bot_role])] {
            members.insert(
                user,
                Member {
                    user_id: user,
                    nick: None,
                    roles: r,
                    joined_at: now,
                },
            );
        }
        self.guilds.insert(
            id,
            Guild {
                id,
                name: name.to_string(),
                owner_id: owner,
                roles,
                members,
                created_at: now,
            },
        );
        self.dispatch_guild_create(id);
        id
    }

    pub(crate) fn add_channel(
        &mut self,
        guild: GuildId,
        name: &str,
        parent: Option<ChannelId>,
    ) -> Option<ChannelId> {
        if !self.guilds.contains_key(&guild) {
            return None;
        }
        let id = ChannelId(self.next_id());
        let position = self
            .channels
            .values()
            .filter(|c| c.guild_id == Some(guild) && !c.kind.is_thread())
            .count() as u16;
        self.channels.insert(
            id,
            Channel {
                id,
                guild_id: Some(guild),
                kind: ChannelKind::Text,
                name: name.to_string(),
                topic: None,
                position,
                parent_id: parent,
                thread: None,
                last_message_id: None,
                recipients: vec![],
            },
        );
        self.dispatch_channel_event("CHANNEL_CREATE", id);
        Some(id)
    }

    pub(crate) fn add_role(&mut self, guild: GuildId, name: &str, perms: u64) -> Option<RoleId> {
        let id = RoleId(self.next_id());
        let g = self.guilds.get_mut(&guild)?;
        let position = g.roles.len() as u16;
        g.roles.insert(
            id,
            Role {
                id,
                name: name.to_string(),
                permissions: perms,
                position,
                color: 0x3498db,
                managed_by_bot: None,
            },
        );
        self.dispatch_role_event("GUILD_ROLE_CREATE", guild, id);
        Some(id)
    }

    pub(crate) fn add_member(&mut self, guild: GuildId, user: UserId, roles: &[RoleId]) -> bool {
        if !self.users.contains_key(&user) {
            return false;
        }
        let Some(g) = self.guilds.get_mut(&guild) else {
            return false;
        };
        let existed = g.members.contains_key(&user);
        let m = g.members.entry(user).or_insert_with(|| Member {
            user_id: user,
            nick: None,
            roles: vec![],
            joined_at: Utc::now(),
        });
        for r in roles {
            if !m.roles.contains(r) {
                m.roles.push(*r);
            }
        }
        self.dispatch_member_event(
            if existed {
                "GUILD_MEMBER_UPDATE"
            } else {
                "GUILD_MEMBER_ADD"
            },
            guild,
            user,
        );
        true
    }

    /// Takes `bits` away from the bot in `guild`: from @everyone and from every role it has.
    /// Dispatches GUILD_ROLE_UPDATE for each role changed.
    pub(crate) fn revoke_bot_permissions(&mut self, guild: GuildId, bits: u64) -> bool {
        let bot = self.bot_id();
        let Some(g) = self.guilds.get_mut(&guild) else {
            return false;
        };
        let mut roles = vec![RoleId(guild.0)];
        roles.extend(
            g.members
                .get(&bot)
                .map(|m| m.roles.clone())
                .unwrap_or_default(),
        );
        let mut changed = Vec::new();
        for r in roles {
            if let Some(role) = g.roles.get_mut(&r) {
                if role.permissions & bits != 0 {
                    role.permissions &= !bits;
                    changed.push(r);
                }
            }
        }
        for r in changed {
            self.dispatch_role_event("GUILD_ROLE_UPDATE", guild, r);
        }
        true
    }

    /// The DM channel between the bot and `user`, created on first use.
    pub(crate) fn dm_channel(&mut self, user: UserId) -> ChannelId {
        if let Some(c) = self
            .channels
            .values()
            .find(|c| c.kind == ChannelKind::Dm && c.recipients == vec![user])
        {
            return c.id;
        }
        let id = ChannelId(self.next_id());
        self.channels.insert(
            id,
            Channel {
                id,
                guild_id: None,
                kind: ChannelKind::Dm,
                name: String::new(),
                topic: None,
                position: 0,
                parent_id: None,
                thread: None,
                last_message_id: None,
                recipients: vec![user],
            },
        );
        id
    }

    // ----- lookups -----

    /// A member's permissions in a guild: the union of @everyone and their roles; everything
    /// for the owner or an administrator (channel overwrites are not modelled).
    pub(crate) fn member_permissions(&self, guild: GuildId, user: UserId) -> u64 {
        let Some(g) = self.guilds.get(&guild) else {
            return 0;
        };
        if g.owner_id == user {
            return permissions::ALL;
        }
        let Some(m) = g.members.get(&user) else {
            return 0;
        };
        let mut p = g.roles.get(&RoleId(guild.0)).map_or(0, |r| r.permissions);
        for r in &m.roles {
            p |= g.roles.get(r).map_or(0, |r| r.permissions);
        }
        if p & permissions::ADMINISTRATOR != 0 {
            permissions::ALL
        } else {
            p
        }
    }

    pub(crate) fn message(&self, channel: ChannelId, id: MessageId) -> Option<&Message> {
        self.messages.get(&channel)?.get(&id)
    }

    pub(crate) fn message_mut(
        &mut self,
        channel: ChannelId,
        id: MessageId,
    ) -> Option<&mut Message> {
        self.messages.get_mut(&channel)?.get_mut(&id)
    }

    // ----- messages -----

    /// Stores a new message, updates the channel and dispatches MESSAGE_CREATE.
    pub(crate) fn insert_message(&mut self, mut msg: Message) -> Message {
        let (mentions, roles, everyone) = parse_mentions(&msg.content);
        // Mentions are parsed from the content like Discord does, then limited by what
        // allowed_mentions permits, which is what makes a mention ping.
        let (mentions, roles, everyone) =
            filter_allowed(msg.allowed_mentions.as_ref(), mentions, roles, everyone);
        msg.mentions = mentions
            .into_iter()
            .filter(|u| self.users.contains_key(u))
            .collect();
        msg.mention_roles = roles;
        msg.mention_everyone = everyone;
        if let Some(ch) = self.channels.get_mut(&msg.channel_id) {
            ch.last_message_id = Some(msg.id);
            if let Some(t) = ch.thread.as_mut() {
                t.total_message_sent += 1;
            }
        }
        if let Some(nonce) = msg.nonce.as_ref().and_then(nonce_key) {
            self.nonces.insert((msg.channel_id, nonce), msg.id);
        }
        self.messages
            .entry(msg.channel_id)
            .or_default()
            .insert(msg.id, msg.clone());
        self.dispatch_message_create(&msg);
        msg
    }

    pub(crate) fn new_message(
        &mut self,
        channel: ChannelId,
        author: UserId,
        content: String,
    ) -> Message {
        let id = MessageId(self.next_id());
        let guild_id = self.channels.get(&channel).and_then(|c| c.guild_id);
        Message {
            id,
            channel_id: channel,
            guild_id,
            author_id: author,
            webhook: None,
            content,
            created_at: snowflake_time(id.0),
            edited_at: None,
            kind: 0,
            reply_to: None,
            nonce: None,
            tts: false,
            flags: 0,
            embeds: vec![],
            components: vec![],
            attachments: vec![],
            reactions: vec![],
            mentions: vec![],
            mention_roles: vec![],
            mention_everyone: false,
            allowed_mentions: None,
            pinned: false,
            thread_id: None,
            interaction: None,
            application_id: None,
        }
    }

    /// Stores uploaded bytes and returns the attachment that serves them.
    pub(crate) fn store_file(
        &mut self,
        channel: ChannelId,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Attachment {
        let id = AttachmentId(self.next_id());
        let safe: String = filename
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let size = bytes.len();
        let (width, height) = png_size(&bytes).unzip();
        // Discord's CDN links carry ex/is/hm signature parameters and expire; the fake adds
        // the same shape of query so clients treat links as opaque, but ignores it when serving.
        let now = Utc::now().timestamp();
        let url = format!(
            "{}/attachments/{}/{}/{}?ex={:x}&is={:x}&hm={}&",
            self.base_url,
            channel,
            id,
            safe,
            now + 86_400,
            now,
            image_hash(id.0, 7)
        );
        self.files
            .insert(id, (content_type.to_string(), Arc::new(bytes)));
        Attachment {
            id,
            filename: filename.to_string(),
            content_type: content_type.to_string(),
            size,
            url,
            width,
            height,
        }
    }

    pub(crate) fn edit_message(
        &mut self,
        channel: ChannelId,
        id: MessageId,
        f: impl FnOnce(&mut Message),
    ) -> Option<Message> {
        let m = self.message_mut(channel, id)?;
        f(m);
        m.edited_at = Some(Utc::now());
        let m = m.clone();
        self.dispatch_message_update(&m);
        Some(m)
    }

    /// Changes a stored message without an edit timestamp or a dispatch (a thread being
    /// attached to its starter message).
    pub(crate) fn edit_message_silently(
        &mut self,
        channel: ChannelId,
        id: MessageId,
        f: impl FnOnce(&mut Message),
    ) {
        if let Some(m) = self.message_mut(channel, id) {
            f(m);
        }
    }

    pub(crate) fn delete_message(&mut self, channel: ChannelId, id: MessageId) -> Option<Message> {
        let m = self.messages.get_mut(&channel)?.remove(&id)?;
        self.dispatch_message_delete(&m);
        self.deleted.push(m.clone());
        Some(m)
    }

    pub(crate) fn bulk_delete(&mut self, channel: ChannelId, ids: &[MessageId]) -> Vec<MessageId> {
        let mut gone = vec![];
        if let Some(map) = self.messages.get_mut(&channel) {
            for id in ids {
                if let Some(m) = map.remove(id) {
                    gone.push(m.id);
                    self.deleted.push(m);
                }
            }
        }
        if !gone.is_empty() {
            let guild = self.channels.get(&channel).and_then(|c| c.guild_id);
            self.dispatch_bulk_delete(channel, guild, &gone);
        }
        gone
    }

    pub(crate) fn react(
        &mut self,
        channel: ChannelId,
        id: MessageId,
        user: UserId,
        emoji: &str,
    ) -> bool {
        let Some(m) = self.message_mut(channel, id) else {
            return false;
        };
        let idx = match m.reactions.iter().position(|r| r.emoji == emoji) {
            Some(i) => i,
            None => {
                m.reactions.push(Reaction {
                    emoji: emoji.to_string(),
                    users: vec![],
                });
                m.reactions.len() - 1
            }
        };
        if m.reactions[idx].users.contains(&user) {
            return true; // Discord answers 204 and dispatches nothing for a repeated reaction.
        }
        m.reactions[idx].users.push(user);
        let author = m.author_id;
        self.dispatch_reaction(
            "MESSAGE_REACTION_ADD",
            channel,
            id,
            user,
            emoji,
            Some(author),
        );
        true
    }

    pub(crate) fn unreact(
        &mut self,
        channel: ChannelId,
        id: MessageId,
        user: UserId,
        emoji: &str,
    ) -> bool {
        let Some(m) = self.message_mut(channel, id) else {
            return false;
        };
        let Some(idx) = m.reactions.iter().position(|r| r.emoji == emoji) else {
            return true;
        };
        let before = m.reactions[idx].users.len();
        m.reactions[idx].users.retain(|u| *u != user);
        let removed = m.reactions[idx].users.len() != before;
        if m.reactions[idx].users.is_empty() {
            m.reactions.remove(idx);
        }
        if removed {
            self.dispatch_reaction("MESSAGE_REACTION_REMOVE", channel, id, user, emoji, None);
        }
        true
    }

    /// Messages of a channel, oldest first.
    pub(crate) fn channel_messages(&self, channel: ChannelId) -> Vec<Message> {
        self.messages
            .get(&channel)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// The key a nonce is compared by: Discord treats `"123"` and `123` alike.
pub(crate) fn nonce_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Reads the width and height from a PNG header, so image attachments carry their size as on
/// Discord.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() >= 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR" {
        let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
        let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
        Some((w, h))
    } else {
        None
    }
}

/// Finds `<@id>`, `<@!id>`, `<@&id>` and `@everyone`/`@here` in message text.
pub(crate) fn parse_mentions(content: &str) -> (Vec<UserId>, Vec<RoleId>, bool) {
    let mut users = vec![];
    let mut roles = vec![];
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let (is_role, body) = if let Some(b) = rest.strip_prefix('&') {
            (true, b)
        } else if let Some(b) = rest.strip_prefix('!') {
            (false, b)
        } else {
            (false, rest)
        };
        let Some(end) = body.find('>') else { break };
        if let Ok(id) = body[..end].parse::<u64>() {
            if is_role {
                if !roles.contains(&RoleId(id)) {
                    roles.push(RoleId(id));
                }
            } else if !users.contains(&UserId(id)) {
                users.push(UserId(id));
            }
        }
    }
    let everyone = content.contains("@everyone") || content.contains("@here");
    (users, roles, everyone)
}

/// Applies `allowed_mentions` the way Discord does: with it present, only the listed kinds
/// (`parse`) or ids (`users`, `roles`) mention; without it, everything in the text does.
fn filter_allowed(
    allowed: Option<&Value>,
    users: Vec<UserId>,
    roles: Vec<RoleId>,
    everyone: bool,
) -> (Vec<UserId>, Vec<RoleId>, bool) {
    let Some(a) = allowed else {
        return (users, roles, everyone);
    };
    let parse: Vec<&str> = a
        .get("parse")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let listed = |key: &str| -> Vec<u64> {
        a.get(key)
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(parse_snowflake).collect())
            .unwrap_or_default()
    };
    let lu = listed("users");
    let lr = listed("roles");
    let users = users
        .into_iter()
        .filter(|u| parse.contains(&"users") || lu.contains(&u.0))
        .collect();
    let roles = roles
        .into_iter()
        .filter(|r| parse.contains(&"roles") || lr.contains(&r.0))
        .collect();
    (users, roles, everyone && parse.contains(&"everyone"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_parsed_then_limited_by_allowed_mentions() {
        let (u, r, e) = parse_mentions("hi <@12> and <@!13> <@&99> @everyone");
        assert_eq!(u, vec![UserId(12), UserId(13)]);
        assert_eq!(r, vec![RoleId(99)]);
        assert!(e);
        let allowed = serde_json::json!({"parse": [], "users": ["13"]});
        let (u, r, e) = filter_allowed(Some(&allowed), u, r, e);
        assert_eq!(u, vec![UserId(13)]);
        assert!(r.is_empty());
        assert!(!e);
    }

    #[test]
    fn member_permissions_union_roles_and_owner_has_all() {
        let mut w = World::new("http://x".into(), "t".into());
        let owner = w.add_user("own", false);
        let alice = w.add_user("alice", false);
        let g = w.add_guild("g", owner);
        let mods = w.add_role(g, "mods", permissions::MANAGE_EVENTS).unwrap();
        w.add_member(g, alice, &[mods]);
        let p = w.member_permissions(g, alice);
        assert_ne!(p & permissions::MANAGE_EVENTS, 0);
        assert_ne!(p & permissions::SEND_MESSAGES, 0);
        assert_eq!(p & permissions::ADMINISTRATOR, 0);
        assert_eq!(w.member_permissions(g, owner), permissions::ALL);
    }
}
