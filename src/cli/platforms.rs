//! The platforms `hashchat run` connects to besides the browser room and loopback: Matrix and
//! Discord, each compiled in with its cargo feature (`matrix`, `discord`; both by default).
//! A build without one (`--no-default-features`, the quickest build to try hashchat) says so
//! when its config names that platform.

use std::sync::Arc;
use std::time::Duration;

use bot_core::engine::Engine;
use bot_core::media::MediaFetcher;
use bot_core::store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::summary::Summary;

/// The platforms connected, ready to listen once the engine has loaded its sessions.
pub struct Connected {
    #[cfg(feature = "matrix")]
    matrix: Option<hashchat_matrix::MatrixBot>,
    #[cfg(feature = "discord")]
    discord: Option<hashchat_discord::DiscordBot>,
}

/// A platform's listener, running until the stop signal.
pub struct Listening {
    name: &'static str,
    task: JoinHandle<()>,
}

impl Connected {
    /// Connects every platform the config names, registering each adapter with `engine`.
    pub async fn connect(
        config: &bot_core::config::Config,
        store: &Store,
        engine: &Engine,
        summary: &mut Summary,
    ) -> anyhow::Result<Connected> {
        let _ = (store, engine);
        let connected = Connected {
            #[cfg(feature = "matrix")]
            matrix: matrix::connect(config, store, engine, summary).await?,
            #[cfg(feature = "discord")]
            discord: discord::connect(config, store, engine, summary)?,
        };
        #[cfg(not(feature = "matrix"))]
        left_out(config, summary, "matrix", "Matrix");
        #[cfg(not(feature = "discord"))]
        left_out(config, summary, "discord", "Discord");
        Ok(connected)
    }

    /// What fetches media from these platforms (Matrix's `mxc://` links).
    pub fn media_fetchers(&self, store: &Store) -> Vec<Arc<dyn MediaFetcher>> {
        let _ = store;
        #[allow(unused_mut)]
        let mut fetchers: Vec<Arc<dyn MediaFetcher>> = Vec::new();
        #[cfg(feature = "matrix")]
        if let Some(bot) = &self.matrix {
            fetchers.push(bot.media_fetcher(store.clone()));
        }
        fetchers
    }

    /// Starts every listener; each stops when `stop` turns true.
    pub fn listen(self, engine: &Engine, stop: &watch::Sender<bool>) -> Vec<Listening> {
        let _ = (engine, stop);
        #[allow(unused_mut)]
        let mut listening = Vec::new();
        #[cfg(feature = "matrix")]
        if let Some(bot) = self.matrix {
            let engine = engine.clone();
            let stopped = stopped(stop);
            listening.push(Listening {
                name: "Matrix",
                task: tokio::spawn(async move {
                    if let Err(e) = bot.listen(engine, stopped).await {
                        tracing::error!(error = %e, "the Matrix listener stopped; the bot no longer hears Matrix rooms");
                    }
                }),
            });
        }
        #[cfg(feature = "discord")]
        if let Some(bot) = self.discord {
            let engine = engine.clone();
            let stopped = stopped(stop);
            listening.push(Listening {
                name: "Discord",
                task: tokio::spawn(async move {
                    if let Err(e) = bot.listen(engine, stopped).await {
                        tracing::error!(error = %e, "the Discord listener stopped; the bot no longer hears Discord");
                    }
                }),
            });
        }
        listening
    }
}

impl Listening {
    /// Waits up to 10 s for the listener to finish (its failure, if any, was logged).
    pub async fn finish(self) {
        if tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .is_err()
        {
            tracing::warn!("the {} listener did not stop within 10 s", self.name);
        }
    }
}

#[cfg(any(feature = "matrix", feature = "discord"))]
fn stopped(stop: &watch::Sender<bool>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut stop_rx = stop.subscribe();
    async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    }
}

/// The summary's line for a platform this build leaves out.
#[cfg(not(all(feature = "matrix", feature = "discord")))]
fn left_out(
    config: &bot_core::config::Config,
    summary: &mut Summary,
    section: &str,
    name: &'static str,
) {
    let why = if config.platform(section).is_some() {
        format!("this build leaves {name} out: build with `--features {section}` (the default)")
    } else {
        format!("not in this build (`--features {section}`)")
    };
    summary.skipped(name, &why);
}

#[cfg(feature = "matrix")]
mod matrix {
    use anyhow::Context;

    use super::Summary;
    use crate::cli::common::problems;

    pub async fn connect(
        config: &bot_core::config::Config,
        store: &bot_core::store::Store,
        engine: &bot_core::engine::Engine,
        summary: &mut Summary,
    ) -> anyhow::Result<Option<hashchat_matrix::MatrixBot>> {
        let matrix_config = config
            .platform(hashchat_matrix::config::SECTION)
            .map(hashchat_matrix::MatrixConfig::from_section)
            .transpose()
            .map_err(|errors| {
                // Config::load has reported these already; this is the same reading.
                anyhow::anyhow!("[matrix] has {}", problems(errors.len()))
            })?;
        let Some(matrix_config) = matrix_config else {
            summary.skipped("Matrix", "no [matrix] section in the config");
            return Ok(None);
        };
        let bot = hashchat_matrix::MatrixBot::connect(&matrix_config, config.data_dir())
            .await
            .context("cannot connect to Matrix")?;
        engine.register_adapter(bot.adapter(store.clone()));
        summary.started("Matrix", &matrix_config.homeserver);
        Ok(Some(bot))
    }
}

#[cfg(feature = "discord")]
mod discord {
    use anyhow::{bail, Context};

    use super::Summary;
    use crate::cli::common::problems;

    pub fn connect(
        config: &bot_core::config::Config,
        store: &bot_core::store::Store,
        engine: &bot_core::engine::Engine,
        summary: &mut Summary,
    ) -> anyhow::Result<Option<hashchat_discord::DiscordBot>> {
        let discord_config = config
            .platform(hashchat_discord::config::SECTION)
            .map(hashchat_discord::DiscordConfig::from_section)
            .transpose()
            .map_err(|errors| anyhow::anyhow!("[discord] has {}", problems(errors.len())))?;
        let Some(discord_config) = discord_config else {
            summary.skipped("Discord", "no [discord] section in the config");
            return Ok(None);
        };
        let bot = hashchat_discord::DiscordBot::new(&discord_config, store.clone())
            .context("cannot set up the Discord bot")?;
        let Some(mut bot) = bot else {
            let why = format!(
                "no token (token_file or {})",
                hashchat_discord::config::TOKEN_ENV
            );
            tracing::warn!("[discord] is configured but has {why}; not connecting to Discord");
            summary.skipped("Discord", &why);
            return Ok(None);
        };
        bot = bot.hold_after_creating_events(
            std::env::var_os("HASHCHAT_TEST_HOLD_AFTER_EVENT_CREATE").is_some(),
        );
        if let Some(route) = test_route_to_discord()? {
            bot = bot.reach_discord_at(route)?;
        }
        engine.register_adapter(bot.adapter());
        summary.started("Discord", "connecting to the gateway");
        Ok(Some(bot))
    }

    /// For the tests' fake Discord serving TLS as `discord.com`: `HASHCHAT_TEST_DISCORD_ADDRESS`
    /// (where `discord.com` is) and `HASHCHAT_TEST_DISCORD_CA_FILE` (the certificate authority
    /// that signed the fake's certificate), both or neither.
    fn test_route_to_discord() -> anyhow::Result<Option<hashchat_discord::rest::TestRoute>> {
        let address = std::env::var("HASHCHAT_TEST_DISCORD_ADDRESS").ok();
        let ca_file = std::env::var_os("HASHCHAT_TEST_DISCORD_CA_FILE");
        let (address, ca_file) = match (address, ca_file) {
            (None, None) => return Ok(None),
            (Some(address), Some(ca_file)) => (address, ca_file),
            _ => {
                bail!("HASHCHAT_TEST_DISCORD_ADDRESS and HASHCHAT_TEST_DISCORD_CA_FILE go together")
            }
        };
        let address = address.parse().with_context(|| {
            format!("HASHCHAT_TEST_DISCORD_ADDRESS: `{address}` is not IP:PORT")
        })?;
        let ca_pem = std::fs::read(&ca_file).with_context(|| {
            format!(
                "HASHCHAT_TEST_DISCORD_CA_FILE: cannot read {}",
                std::path::Path::new(&ca_file).display()
            )
        })?;
        tracing::warn!(%address, "test route: discord.com is reached at this address");
        Ok(Some(hashchat_discord::rest::TestRoute { address, ca_pem }))
    }
}
