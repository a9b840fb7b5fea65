//! `hashchat run`: the bot itself.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use bot_core::clock::{AcceleratedClock, SharedClock, SystemClock};
use bot_core::engine::{Engine, EngineSettings};
use bot_core::loopback::LoopbackAdapter;
use bot_core::media::{HttpFetcher, MediaCopier, MediaStore};
use chrono::{DateTime, Utc};
use clap::Args;

use super::common::{
    database_url, init_logging, load_chats, load_config, open_store, redact, shutdown_signal,
};
use super::platforms::Connected;
use super::summary::Summary;
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
    // SQLite is one instance's: held until `run` returns (or the process dies).
    let _instance = store.lock_instance()?;
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
    let presence = super::presence::Presence::start(store.clone(), engine.health().clone()).await?;
    let mut summary = Summary::default();
    summary.started(
        "scheduler",
        &format!(
            "{} from {}",
            bot_core::render::count(engine.chats().len() as u64, "chat", "chats"),
            config.chats_dir().display()
        ),
    );
    summary.started("store", &redact(&url));
    let platforms = Connected::connect(&config, &store, &engine, &mut summary).await?;
    if config.media_max_bytes() > 0 {
        let media = MediaStore::open(config.media_dir()).with_context(|| {
            format!(
                "cannot create the media store {}",
                config.media_dir().display()
            )
        })?;
        let http = HttpFetcher::new().context("cannot set up the HTTP client for media")?;
        let mut fetchers: Vec<Arc<dyn bot_core::media::MediaFetcher>> = vec![Arc::new(http)];
        fetchers.extend(platforms.media_fetchers(&store));
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
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (web, one_time_secret) =
        super::web_room::start(&config, &engine, web_chats, &mut summary, stop_rx).await?;
    summary.print(one_time_secret.as_deref());
    // Sessions are live before any listener reads back what was said while the bot was away.
    engine
        .load()
        .await
        .context("cannot load the sessions from the store")?;
    let listening = platforms.listen(&engine, &stop_tx);
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
    for listener in listening {
        listener.finish().await;
    }
    presence.stop().await;
    outcome?;
    Ok(ExitCode::SUCCESS)
}
