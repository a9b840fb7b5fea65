//! What several subcommands share: reading the config, opening the store, logging, signals.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bot_core::chat::{load_chat_dir, Chat};
use bot_core::config::{Config, LogFormat};
use bot_core::platforms::Platforms;
use bot_core::store::Store;

use super::{ConfigArg, StoreArgs};

pub const DEFAULT_CONFIG: &str = "config/hashchat.toml";
pub const DATABASE_URL_ENV: &str = "HASHCHAT_DATABASE_URL";

/// The config named on the command line, else `config/hashchat.toml` if it exists, else the
/// built-in defaults. Problems are printed one per line as `FILE:LINE: field: what`.
pub fn load_config(arg: &ConfigArg) -> anyhow::Result<(Config, Option<PathBuf>)> {
    let path = match &arg.config {
        Some(path) => path.clone(),
        None if Path::new(DEFAULT_CONFIG).exists() => PathBuf::from(DEFAULT_CONFIG),
        None => return Ok((Config::default(), None)),
    };
    match Config::load(&path, &platforms()) {
        Ok(config) => Ok((config, Some(path))),
        Err(errors) => {
            for error in &errors {
                eprintln!("{error}");
            }
            bail!("{} in {}", problems(errors.len()), path.display())
        }
    }
}

/// The rules of every platform this build has an adapter for: their config tables and ids.
/// `1 problem`, `3 problems`.
pub fn problems(n: usize) -> String {
    bot_core::render::count(n as u64, "problem", "problems")
}

pub fn platforms() -> Platforms {
    let rules: Vec<std::sync::Arc<dyn bot_core::platforms::PlatformRules>> = vec![
        #[cfg(feature = "matrix")]
        hashchat_matrix::rules(),
        #[cfg(not(feature = "matrix"))]
        std::sync::Arc::new(LeftOut {
            platform: bot_core::ids::Platform::Matrix,
            name: "Matrix",
            section: "matrix",
        }),
        #[cfg(feature = "discord")]
        hashchat_discord::rules(),
        #[cfg(not(feature = "discord"))]
        std::sync::Arc::new(LeftOut {
            platform: bot_core::ids::Platform::Discord,
            name: "Discord",
            section: "discord",
        }),
        hashchat_web::rules(),
    ];
    Platforms::with(rules)
}

/// A platform this build leaves out (its cargo feature off): its config table and its rooms
/// are reported as needing a build with it, not as unknown.
#[cfg(not(all(feature = "matrix", feature = "discord")))]
struct LeftOut {
    platform: bot_core::ids::Platform,
    name: &'static str,
    section: &'static str,
}

#[cfg(not(all(feature = "matrix", feature = "discord")))]
impl LeftOut {
    fn why(&self) -> String {
        format!(
            "this build of hashchat leaves {} out: build it with `--features {}` (the default)",
            self.name, self.section
        )
    }
}

#[cfg(not(all(feature = "matrix", feature = "discord")))]
impl bot_core::platforms::PlatformRules for LeftOut {
    fn platform(&self) -> bot_core::ids::Platform {
        self.platform
    }
    fn check_room(&self, _id: &str) -> Result<(), String> {
        Err(self.why())
    }
    fn check_user(&self, _id: &str) -> Result<(), String> {
        Ok(())
    }
    fn config_section(&self) -> Option<&'static str> {
        Some(self.section)
    }
    fn check_config(
        &self,
        section: &bot_core::config::PlatformSection,
    ) -> Vec<bot_core::chat::LocatedError> {
        section
            .read::<()>(|r, node| {
                r.error(node.line, self.section, self.why());
                None
            })
            .err()
            .unwrap_or_default()
    }
    fn chat_section(&self) -> Option<&'static str> {
        Some(self.section)
    }
}

/// `--db`, else `HASHCHAT_DATABASE_URL`, else the config's `database.url`.
pub fn database_url(args: &StoreArgs, config: &Config) -> String {
    args.db
        .clone()
        .or_else(|| {
            std::env::var(DATABASE_URL_ENV)
                .ok()
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| config.database.url.clone())
}

/// Connects and applies any pending migrations.
pub async fn open_store(url: &str) -> anyhow::Result<Store> {
    let store = Store::connect(url)
        .await
        .with_context(|| format!("cannot open the database {}", redact(url)))?;
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    Ok(store)
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    bot_core::store::redact_url(url)
}

/// matrix-sdk warns after every sync that it has no key backup to upload room keys to; hashchat
/// never sets one up, so the line would only bury the log (`RUST_LOG` still shows it).
const QUIET_BY_DEFAULT: &str = "matrix_sdk_crypto::backups=error";

/// Logs go to stderr, coloured only when it is a terminal (and `NO_COLOR` is not set): a log
/// file or a pipe gets plain text. ERROR means something is wrong: lines the Matrix SDK logs at
/// ERROR for answers hashchat expects are left out (see [`ExpectedMatrixNotFound`]).
pub fn init_logging(format: LogFormat, level: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{level},{QUIET_BY_DEFAULT}")))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET_BY_DEFAULT}")));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    let layer = match format {
        LogFormat::Json => layer.json().boxed(),
        LogFormat::Human => layer.boxed(),
    };
    // A second initialisation (tests calling twice) is harmless; ignore its error.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer.with_filter(ExpectedMatrixNotFound))
        .try_init();
}

/// matrix-sdk logs every request that fails at ERROR (`matrix_sdk::http_client`), including the
/// 404s that answer a lookup: account data the bot never set, an event it asks about that is
/// gone. Each caller handles those and reports what matters; anything else the SDK logs at
/// ERROR is kept.
struct ExpectedMatrixNotFound;

impl<S> tracing_subscriber::layer::Filter<S> for ExpectedMatrixNotFound {
    fn enabled(
        &self,
        _: &tracing::Metadata<'_>,
        _: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        true
    }

    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        let meta = event.metadata();
        if *meta.level() != tracing::Level::ERROR || meta.target() != "matrix_sdk::http_client" {
            return true;
        }
        let mut fields = FieldText(String::new());
        event.record(&mut fields);
        !(fields.0.contains("status_code: 404") && fields.0.contains("NotFound"))
    }
}

/// An event's fields as one text.
struct FieldText(String);

impl tracing::field::Visit for FieldText {
    fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, "{value:?} ");
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down");
}

/// Every chat in the configured chats directory, or all their problems as one error.
pub fn load_chats(config: &Config) -> anyhow::Result<Vec<Chat>> {
    load_chat_dir(&config.chats_dir(), &platforms()).map_err(|errors| {
        anyhow::anyhow!(
            "the chat files have problems (`hashchat check-config` lists them):\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn database_passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://bot:s3cret@db:5432/hc"),
            "postgres://bot:***@db:5432/hc"
        );
        assert_eq!(
            redact("sqlite://data/hashchat.db"),
            "sqlite://data/hashchat.db"
        );
    }
}
