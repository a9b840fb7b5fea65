//! hashchat on Discord: a bot that runs `/chat` (and `!chat` text) commands, posts each
//! session's steps and archives what people say in the chats' channels and their threads.
//!
//! - [`config`]: the `[discord]` table; [`rules`]: Discord's ids, for the core;
//! - `gateway`: our own gateway connection, events strictly in order (why: its module docs);
//! - `listener`: the events handed to the engine, back-fill from per-channel cursors;
//! - [`events`]: raw dispatch JSON checked field by field;
//! - [`commands`]: `/chat` generated from the core's command table, options → command text;
//! - `interactions`: the 3-second rule (answer, or defer and edit);
//! - [`outbound`]: the engine's [`Adapter`](bot_core::adapter::Adapter): posts and replies;
//! - [`threads`]: a session in a thread of its own (a chat file's `[discord]` table);
//! - `webhooks`: relayed copies under their author's name and avatar, a webhook per channel;
//! - [`format`]: what posts look like, nonces, allowed mentions, splitting;
//! - [`markdown`]: Discord markdown to and from the formatted text messages carry;
//! - [`rest`]: REST calls through serenity's `Http`, failures sorted;
//! - `scheduled_events`: sessions shown as guild scheduled events, beside the listener.

use std::future::Future;
use std::sync::Arc;

use bot_core::engine::Engine;
use bot_core::platforms::PlatformRules;

pub mod commands;
pub mod config;
pub mod events;
pub mod format;
mod gateway;
mod interactions;
mod listener;
pub mod markdown;
pub mod outbound;
pub mod rest;
mod rules;
mod scheduled_events;
mod state;
pub mod threads;
mod uploads;
mod webhooks;

pub use config::DiscordConfig;
pub use outbound::DiscordAdapter;
pub use rules::DiscordRules;

#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("Discord configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Rest(#[from] rest::RestError),
    #[error("Discord gateway: {0}")]
    Gateway(#[source] gateway::GatewayError),
    #[error("archive: {0}")]
    Store(String),
    #[error("stopped")]
    Stopped,
}

/// What the core is told of Discord: its config table and what its ids look like.
pub fn rules() -> Arc<dyn PlatformRules> {
    Arc::new(DiscordRules)
}

fn rest_client(
    token: &str,
    api_url: Option<&str>,
    route: Option<&rest::TestRoute>,
) -> Result<rest::Rest, DiscordError> {
    rest::Rest::new(token, api_url, route)
        .map_err(|e| DiscordError::Config(format!("cannot set up the HTTP client: {e}")))
}

/// How the bot behaves in guilds, from `[discord]`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub guilds: Vec<u64>,
    pub register_globally: bool,
    pub moderator_roles: Vec<u64>,
    pub command_prefix: String,
    pub cdn_url: String,
    pub scheduled_events: bool,
}

/// The bot with its token, ready to listen. Nothing is sent to Discord until [`listen`].
///
/// [`listen`]: DiscordBot::listen
pub struct DiscordBot {
    rest: rest::Rest,
    api_url: Option<String>,
    token: String,
    known: Arc<state::Known>,
    interactions: interactions::Interactions,
    settings: Arc<Settings>,
    threads: Arc<threads::Threads>,
    webhooks: Arc<webhooks::Webhooks>,
    hold_after_event_create: bool,
}

impl DiscordBot {
    /// The bot for `config`, recording where sessions' threads are in `store`; `None` when no
    /// token is given (in `token_file` or `HASHCHAT_DISCORD_TOKEN`).
    pub fn new(
        config: &DiscordConfig,
        store: bot_core::store::Store,
    ) -> Result<Option<DiscordBot>, DiscordError> {
        let Some(token) = config.token().map_err(DiscordError::Config)? else {
            return Ok(None);
        };
        Ok(Some(DiscordBot {
            hold_after_event_create: false,
            rest: rest_client(&token, config.api_url.as_deref(), None)?,
            api_url: config.api_url.clone(),
            token,
            known: Arc::default(),
            interactions: interactions::Interactions::default(),
            threads: Arc::new(threads::Threads::new(store.clone())),
            webhooks: Arc::new(webhooks::Webhooks::new(store)),
            settings: Arc::new(Settings {
                guilds: config.guilds.clone(),
                register_globally: config.register_globally,
                moderator_roles: config.moderator_roles.clone(),
                command_prefix: config.command_prefix.clone(),
                cdn_url: config.cdn_url.clone(),
                scheduled_events: config.scheduled_events,
            }),
        }))
    }

    /// For tests only: Discord's API reached at another address (a fake serving TLS as
    /// `discord.com`), with serenity's ratelimiter in the path as in production. `api_url`, when
    /// configured, still wins.
    pub fn reach_discord_at(mut self, route: rest::TestRoute) -> Result<Self, DiscordError> {
        self.rest = rest_client(&self.token, self.api_url.as_deref(), Some(&route))?;
        Ok(self)
    }

    /// For the crash tests only: the scheduled-event reconciler stops for good between
    /// creating an event and recording it, so a test can kill the bot exactly there.
    pub fn hold_after_creating_events(mut self, hold: bool) -> Self {
        self.hold_after_event_create = hold;
        self
    }

    /// What the engine posts and replies through.
    pub fn adapter(&self) -> Arc<DiscordAdapter> {
        Arc::new(DiscordAdapter {
            rest: self.rest.clone(),
            known: self.known.clone(),
            interactions: self.interactions.clone(),
            threads: self.threads.clone(),
            webhooks: self.webhooks.clone(),
        })
    }

    /// Connects and listens until `shutdown` completes, handing every event to `engine`; with
    /// `scheduled_events` set, keeps the guilds' scheduled events in step with the sessions
    /// meanwhile (a task of its own, so nothing it waits for holds up an event).
    pub async fn listen(
        &self,
        engine: Engine,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), DiscordError> {
        let (stop_events, stop) = tokio::sync::watch::channel(false);
        let events = self.settings.scheduled_events.then(|| {
            let reconciler = scheduled_events::Reconciler::new(
                self.rest.clone(),
                engine.clone(),
                self.hold_after_event_create,
            );
            tokio::spawn(reconciler.run(stop))
        });
        let listened = listener::Listener {
            rest: self.rest.clone(),
            token: self.token.clone(),
            known: self.known.clone(),
            interactions: self.interactions.clone(),
            settings: self.settings.clone(),
            threads: self.threads.clone(),
            webhooks: self.webhooks.clone(),
            engine,
            cursors: Default::default(),
            watched: Default::default(),
            registered: false,
            members: Default::default(),
        }
        .run(shutdown)
        .await;
        let _ = stop_events.send(true);
        if let Some(mut events) = events {
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut events)
                .await
                .is_err()
            {
                // Cut short, the next start adopts an event it had just made.
                tracing::warn!(
                    "the scheduled-event reconciler did not stop within 5 s; stopping it"
                );
                events.abort();
            }
        }
        listened
    }
}
