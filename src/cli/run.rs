//! `hashchat run`: the bot itself.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use bot_core::clock::{AcceleratedClock, SharedClock, SystemClock};
use bot_core::engine::{Engine, EngineSettings};
use bot_core::ids::Platform;
use bot_core::loopback::LoopbackAdapter;
use bot_core::media::{HttpFetcher, MediaCopier, MediaStore};
use chrono::{DateTime, Utc};
use clap::Args;
use hashchat_web::room::{Limits, ModeratorSecret, RoomHub};

use super::common::{
    database_url, init_logging, load_chats, load_config, open_store, problems, redact,
    shutdown_signal,
};
use super::StoreArgs;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Log as JSON lines instead of human-readable text (overrides the config).
    #[arg(long)]
    json_logs: bool,
    /// Testing aid: run the clock this many times faster than real time from --time-anchor.
    #[arg(long, hide = true, requires = "time_anchor")]
    speed: Option<f64>,
    /// Testing aid: the instant (RFC 3339) at which accelerated time equals real time.
    #[arg(long, hide = true)]
    time_anchor: Option<DateTime<Utc>>,
    /// Where the loopback platform keeps its record of posts
    /// [default: loopback.jsonl in the data directory].
    #[arg(long, value_name = "PATH")]
    loopback_log: Option<PathBuf>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (config, config_path) = load_config(&args.store.config)?;
    let format = if args.json_logs {
        bot_core::config::LogFormat::Json
    } else {
        config.log.format
    };
    init_logging(format, &config.log.level);

    let chats = load_chats(&config)?;
    let url = database_url(&args.store, &config);
    let store = open_store(&url).await?;
    tracing::info!(
        config = %config_path.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "built-in defaults".into()),
        database = %redact(&url),
        chats = chats.len(),
        "starting"
    );

    let clock: SharedClock = match (args.speed, args.time_anchor) {
        (Some(speed), Some(anchor)) => {
            if !(speed.is_finite() && speed > 0.0) {
                bail!("--speed must be a positive number");
            }
            Arc::new(AcceleratedClock::new(anchor, speed))
        }
        _ => Arc::new(SystemClock),
    };
    let settings = EngineSettings {
        catch_up_grace: chrono::Duration::minutes(i64::from(
            config.scheduler.catch_up_grace_minutes,
        )),
        hold_before_claiming_commands: std::env::var_os("HASHCHAT_TEST_HOLD_BEFORE_CLAIM")
            .is_some(),
        hold_before_recording_copies: std::env::var_os("HASHCHAT_TEST_HOLD_BEFORE_RECORDING_COPY")
            .is_some(),
        command_delay: std::env::var("HASHCHAT_TEST_COMMAND_DELAY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(std::time::Duration::from_millis),
        public_url: config.web.public_url.clone(),
        ..EngineSettings::default()
    };
    let web_chats = chats.clone();
    let engine = Engine::new(store.clone(), clock, chats, settings);
    let matrix_config = config
        .platform(hashchat_matrix::config::SECTION)
        .map(hashchat_matrix::MatrixConfig::from_section)
        .transpose()
        .map_err(|errors| {
            // Config::load has reported these already; this is the same reading.
            anyhow::anyhow!("[matrix] has {}", problems(errors.len()))
        })?;
    let mut summary = Summary::default();
    summary.started(
        "scheduler",
        &format!(
            "{} chat{} from {}",
            engine.chats().len(),
            if engine.chats().len() == 1 { "" } else { "s" },
            config.chats_dir().display()
        ),
    );
    summary.started("store", &redact(&url));
    let matrix = match &matrix_config {
        Some(matrix_config) => {
            let bot = hashchat_matrix::MatrixBot::connect(matrix_config, config.data_dir())
                .await
                .context("cannot connect to Matrix")?;
            engine.register_adapter(bot.adapter(store.clone()));
            summary.started("Matrix", &matrix_config.homeserver.to_string());
            Some(bot)
        }
        None => {
            summary.skipped("Matrix", "no [matrix] section in the config");
            None
        }
    };
    let discord_config = config
        .platform(hashchat_discord::config::SECTION)
        .map(hashchat_discord::DiscordConfig::from_section)
        .transpose()
        .map_err(|errors| anyhow::anyhow!("[discord] has {}", problems(errors.len())))?;
    let discord = match &discord_config {
        Some(discord_config) => {
            let bot = hashchat_discord::DiscordBot::new(discord_config, store.clone())
                .context("cannot set up the Discord bot")?;
            match bot {
                Some(mut bot) => {
                    bot = bot.hold_after_creating_events(
                        std::env::var_os("HASHCHAT_TEST_HOLD_AFTER_EVENT_CREATE").is_some(),
                    );
                    if let Some(route) = test_route_to_discord()? {
                        bot = bot.reach_discord_at(route)?;
                    }
                    engine.register_adapter(bot.adapter());
                    summary.started("Discord", "connecting to the gateway");
                    Some(bot)
                }
                None => {
                    tracing::warn!(
                        "[discord] is configured but no token was given (token_file or {}); not connecting to Discord",
                        hashchat_discord::config::TOKEN_ENV
                    );
                    summary.skipped(
                        "Discord",
                        &format!(
                            "no token (token_file or {})",
                            hashchat_discord::config::TOKEN_ENV
                        ),
                    );
                    None
                }
            }
        }
        None => {
            summary.skipped("Discord", "no [discord] section in the config");
            None
        }
    };
    if config.media_max_bytes() > 0 {
        let media = MediaStore::open(config.media_dir()).with_context(|| {
            format!(
                "cannot create the media store {}",
                config.media_dir().display()
            )
        })?;
        let http = HttpFetcher::new().context("cannot set up the HTTP client for media")?;
        let mut fetchers: Vec<Arc<dyn bot_core::media::MediaFetcher>> = vec![Arc::new(http)];
        if let Some(bot) = &matrix {
            fetchers.push(bot.media_fetcher(store.clone()));
        }
        let (copier, _task) = MediaCopier::start(store, media, fetchers, config.media_max_bytes());
        engine.set_media_copier(copier);
    }

    let loopback_log = args
        .loopback_log
        .unwrap_or_else(|| config.data_dir().join("loopback.jsonl"));
    if let Some(dir) = loopback_log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let loopback = LoopbackAdapter::with_log(loopback_log.clone())
        .with_context(|| format!("cannot read the loopback log {}", loopback_log.display()))?;
    engine.register_adapter(loopback);
    summary.started("loopback", &format!("record in {}", loopback_log.display()));

    // The web archive and the browser room stop with the engine.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let web = if config.web.enabled {
        let addr = config.web.listen_addr();
        match super::serve::bind(addr).await {
            Ok(listener) => {
                let (secret, one_time) = moderator_secret(&config)?;
                let secure = config
                    .web
                    .public_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://"));
                let hub = RoomHub::new(engine.clone(), Limits::default(), secret, secure);
                engine.register_adapter(hub.adapter());
                let mut state =
                    super::serve::web_state(&config, engine.store().clone(), web_chats)?;
                state.room = Some(hub);
                let stopped = async move {
                    let _ = stop_rx.changed().await;
                };
                let base =
                    config.web.public_url.clone().unwrap_or_else(|| {
                        format!("http://{}", listener.local_addr().unwrap_or(addr))
                    });
                summary.started("web archive", &format!("{base}/"));
                let rooms: Vec<String> = engine
                    .chats()
                    .iter()
                    .flat_map(|c| c.rooms.iter())
                    .filter(|r| r.platform == Platform::Web)
                    .map(|r| format!("{base}/r/{}", r.id))
                    .collect();
                if rooms.is_empty() {
                    summary.skipped(
                        "browser room",
                        "no chat names a `web:` room (add \"web:NAME\" to a chat's rooms)",
                    );
                } else {
                    summary.started("browser room", &rooms.join("  "));
                }
                match one_time {
                    Some(token) => summary.started(
                        "moderators",
                        &format!(
                            "sign in once at {base}/signin?token={token} (a new link each start; set {MODERATOR_TOKEN_ENV} or [web] moderator_token_file to keep one)"
                        ),
                    ),
                    None => summary.started("moderators", &format!("sign in at {base}/signin with the configured secret")),
                }
                Some(tokio::spawn(hashchat_web::serve(listener, state, stopped)))
            }
            Err(e) => {
                summary.skipped("web archive", &format!("{e:#}"));
                summary.skipped("browser room", "the web server is not running");
                None
            }
        }
    } else {
        summary.skipped("web archive", "[web] enabled = false");
        summary.skipped("browser room", "[web] enabled = false");
        None
    };
    summary.print();
    // Sessions are live before any listener reads back what was said while the bot was away.
    engine
        .load()
        .await
        .context("cannot load the sessions from the store")?;
    let listener = matrix.map(|bot| {
        let mut stop_rx = stop_tx.subscribe();
        let engine = engine.clone();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            };
            let listened = bot.listen(engine, stopped).await;
            if let Err(e) = &listened {
                tracing::error!(error = %e, "the Matrix listener stopped; the bot no longer hears Matrix rooms");
            }
            listened
        })
    });
    let discord_listener = discord.map(|bot| {
        let mut stop_rx = stop_tx.subscribe();
        let engine = engine.clone();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            };
            let listened = bot.listen(engine, stopped).await;
            if let Err(e) = &listened {
                tracing::error!(error = %e, "the Discord listener stopped; the bot no longer hears Discord");
            }
            listened
        })
    });
    let outcome = engine
        .run(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .await;
    if let Some(web) = web {
        // `stop_tx` is gone by now, so the server is shutting down.
        match tokio::time::timeout(std::time::Duration::from_secs(10), web).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the web server failed"),
            Err(_) => tracing::warn!("the web server did not stop within 10 s"),
            _ => {}
        }
    }
    if let Some(listener) = listener {
        // Its failure, if any, was logged when it happened.
        if tokio::time::timeout(std::time::Duration::from_secs(10), listener)
            .await
            .is_err()
        {
            tracing::warn!("the Matrix listener did not stop within 10 s");
        }
    }
    if let Some(listener) = discord_listener {
        if tokio::time::timeout(std::time::Duration::from_secs(10), listener)
            .await
            .is_err()
        {
            tracing::warn!("the Discord listener did not stop within 10 s");
        }
    }
    outcome?;
    Ok(ExitCode::SUCCESS)
}

/// Where the moderators' secret comes from, for the browser room's sign-in.
const MODERATOR_TOKEN_ENV: &str = "HASHCHAT_WEB_MODERATOR_TOKEN";

/// The moderators' secret: the environment's, else the file's, else a one-time one (returned
/// too, to print).
fn moderator_secret(
    config: &bot_core::config::Config,
) -> anyhow::Result<(ModeratorSecret, Option<String>)> {
    if let Some(token) = std::env::var(MODERATOR_TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok((ModeratorSecret::Configured(token.trim().to_owned()), None));
    }
    if let Some(file) = config.moderator_token_file() {
        let token = std::fs::read_to_string(&file).with_context(|| {
            format!("[web] moderator_token_file: cannot read {}", file.display())
        })?;
        let token = token.trim();
        if token.len() < 16 {
            bail!(
                "[web] moderator_token_file: {} holds {} characters; a secret needs at least 16",
                file.display(),
                token.len()
            );
        }
        return Ok((ModeratorSecret::Configured(token.to_owned()), None));
    }
    let (secret, token) = ModeratorSecret::one_time();
    Ok((secret, Some(token)))
}

/// What `run` started and skipped, printed as its first lines.
#[derive(Default)]
struct Summary {
    lines: Vec<(&'static str, String, bool)>,
}

impl Summary {
    fn started(&mut self, part: &'static str, detail: &str) {
        self.lines.push((part, detail.to_owned(), true));
    }

    fn skipped(&mut self, part: &'static str, why: &str) {
        self.lines.push((part, why.to_owned(), false));
    }

    /// On standard output, for the person who started it (the log has the same facts).
    fn print(&self) {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "hashchat {} is running:", env!("CARGO_PKG_VERSION"));
        for (part, detail, started) in &self.lines {
            let what = if *started { "started" } else { "skipped" };
            let _ = writeln!(out, "  {part:<13} {what}: {detail}");
            if *started {
                // A one-time sign-in link is for the console only.
                if !detail.contains("signin?token=") {
                    tracing::info!(part, detail = %detail, "started");
                } else {
                    tracing::info!(part, "started (the sign-in link is on the console)");
                }
            } else {
                tracing::info!(part, why = %detail, "skipped");
            }
        }
        let _ = writeln!(out, "Stop it with Ctrl-C.");
        let _ = out.flush();
    }
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
        _ => bail!("HASHCHAT_TEST_DISCORD_ADDRESS and HASHCHAT_TEST_DISCORD_CA_FILE go together"),
    };
    let address = address
        .parse()
        .with_context(|| format!("HASHCHAT_TEST_DISCORD_ADDRESS: `{address}` is not IP:PORT"))?;
    let ca_pem = std::fs::read(&ca_file).with_context(|| {
        format!(
            "HASHCHAT_TEST_DISCORD_CA_FILE: cannot read {}",
            std::path::Path::new(&ca_file).display()
        )
    })?;
    tracing::warn!(%address, "test route: discord.com is reached at this address");
    Ok(Some(hashchat_discord::rest::TestRoute { address, ca_pem }))
}
