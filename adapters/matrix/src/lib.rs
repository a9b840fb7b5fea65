//! hashchat on Matrix: a bot account that runs `!chat` commands, posts each session's steps
//! and archives what people say, in plain and encrypted rooms alike.
//!
//! - [`login`]: sign in once and keep the device (and its encryption keys) under the data
//!   directory; the rooms' state is held in memory and read in full at each start
//!   ([`room_state`]);
//! - [`sync`]: read room events in order and hand them to the engine, saving the read position
//!   with the archive;
//! - [`events`]: check and translate raw event JSON;
//! - [`outbound`]: the engine's [`Adapter`](bot_core::adapter::Adapter): posts and replies;
//! - [`format`]: what those posts look like;
//! - [`invites`], [`media`]: joining rooms, fetching `mxc://` attachments;
//! - [`config`]: the `[matrix]` table and Matrix's id rules, for the core ([`rules`]).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use matrix_sdk::Client;

use bot_core::engine::Engine;
use bot_core::store::Store;

pub mod aliases;
pub mod config;
pub mod events;
pub mod format;
pub mod invites;
pub mod links;
pub mod login;
pub mod media;
pub mod outbound;
mod room_state;
mod sync;

pub use config::{MatrixConfig, MatrixRules};
pub use media::MxcFetcher;
pub use outbound::MatrixAdapter;

#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("Matrix configuration: {0}")]
    Config(String),
    #[error("Matrix login: {0}")]
    Login(String),
    #[error("Matrix connection: {0}")]
    Connect(String),
    #[error("archive: {0}")]
    Store(String),
}

/// What the core is told of Matrix: its config table and what its ids look like.
pub fn rules() -> Arc<dyn bot_core::platforms::PlatformRules> {
    Arc::new(MatrixRules)
}

/// How the bot behaves in rooms, from `[matrix]`.
#[derive(Debug, Clone)]
pub(crate) struct RoomSettings {
    pub command_prefix: String,
    pub moderator_power_level: u32,
    pub accept_invites_from: Vec<String>,
}

/// The bot signed in to its homeserver, ready to listen.
pub struct MatrixBot {
    client: Client,
    settings: RoomSettings,
    aliases: aliases::Aliases,
    room_state: room_state::RoomStateLoaded,
}

impl MatrixBot {
    /// Signs in (restoring the saved device when there is one). Credentials come from the
    /// environment or from files named in `config`.
    pub async fn connect(config: &MatrixConfig, data_dir: &Path) -> Result<MatrixBot, MatrixError> {
        let credentials = login::Credentials::from_config(config)?;
        let client = login::sign_in(config, data_dir, &credentials).await?;
        Ok(MatrixBot {
            client,
            settings: RoomSettings {
                command_prefix: config.command_prefix.clone(),
                moderator_power_level: config.moderator_power_level,
                accept_invites_from: config.accept_invites_from.clone(),
            },
            aliases: aliases::Aliases::default(),
            room_state: Default::default(),
        })
    }

    /// What the engine posts and replies through; it keeps what it must remember of its
    /// copies in `store`.
    pub fn adapter(&self, store: Store) -> Arc<MatrixAdapter> {
        Arc::new(MatrixAdapter::new(
            self.client.clone(),
            self.aliases.clone(),
            self.room_state.clone(),
            self.settings.command_prefix.clone(),
            store,
        ))
    }

    /// What the media copier fetches `mxc://` links with (encrypted attachments' keys are
    /// read from `store`, where the listener keeps them).
    pub fn media_fetcher(&self, store: Store) -> Arc<MxcFetcher> {
        Arc::new(MxcFetcher::new(self.client.clone(), store))
    }

    /// Listens until `shutdown` completes, handing every event to `engine`.
    pub async fn listen(
        &self,
        engine: Engine,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), MatrixError> {
        let listener = sync::Listener {
            client: self.client.clone(),
            engine,
            settings: self.settings.clone(),
            aliases: self.aliases.clone(),
            room_state: self.room_state.clone(),
        };
        listener.run(shutdown).await
    }
}
