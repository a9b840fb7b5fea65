//! `hashchat demo`: the example chat end to end through the real engine, store and scheduler,
//! on accelerated time, with scripted participants.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use bot_core::adapter::Inbound;
use bot_core::chat::{load_chat_file, parse_chat, Chat};
use bot_core::clock::{AcceleratedClock, Clock, SharedClock};
use bot_core::engine::{Engine, EngineSettings};
use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::loopback::{LoopbackAdapter, LoopbackEvent};
use bot_core::model::PostKind;
use bot_core::plan::session_length;
use bot_core::render::count;
use bot_core::render::plain::{post_text, render_session};
use chrono::Duration;
use clap::Args;
use tokio::sync::oneshot;

use super::common::{init_logging, open_store, platforms};
use super::demo_script::{display_name, lines_for_point};

const DEMO_ROOM: &str = "demo";
const DEMO_MODERATOR: &str = "moderator";
const EXAMPLE_CHAT: &str = "config/chats/interlibnet.toml";
const BUILT_IN_CHAT: &str = include_str!("../../config/chats/interlibnet.toml");
/// Real seconds the demo aims to take at the default speed.
const TARGET_SECONDS: f64 = 20.0;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many times faster than real time to run [default: fast enough to finish in about
    /// 20 seconds].
    #[arg(long)]
    speed: Option<f64>,
    /// Keep the session in this database (`sqlite://PATH` or `postgres://…`) instead of a
    /// temporary one.
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// The chat to run [default: config/chats/interlibnet.toml, else a built-in copy of it].
    #[arg(long, value_name = "PATH")]
    chat: Option<PathBuf>,
    /// Show the engine's logs.
    #[arg(long)]
    verbose: bool,
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.verbose {
        init_logging(bot_core::config::LogFormat::Human, "info");
    }
    let mut chat = load_demo_chat(args.chat.as_deref())?;
    // The demo runs in its own loopback room, now, whatever the chat file plans.
    chat.rooms = vec![RoomRef::new(Platform::Loopback, DEMO_ROOM)];
    chat.moderators
        .push(UserRef::new(Platform::Loopback, DEMO_MODERATOR));
    chat.schedule = None;

    let length_seconds = session_length(&chat).num_seconds().max(1) as f64;
    let speed = args
        .speed
        .unwrap_or((length_seconds / TARGET_SECONDS).ceil().max(1.0));
    if !(speed.is_finite() && speed > 0.0) {
        bail!("--speed must be a positive number");
    }

    let temporary = args
        .db
        .is_none()
        .then(|| std::env::temp_dir().join(format!("hashchat-demo-{}.db", std::process::id())));
    let url = match (&args.db, &temporary) {
        (Some(url), _) => url.clone(),
        (None, Some(path)) => format!("sqlite://{}", path.display()),
        (None, None) => unreachable!("a temporary database is chosen when --db is absent"),
    };
    let store = open_store(&url).await?;

    let clock: SharedClock = Arc::new(AcceleratedClock::new(chrono::Utc::now(), speed));
    let engine = Engine::new(
        store,
        clock.clone(),
        vec![chat.clone()],
        EngineSettings::default(),
    );
    let loopback = LoopbackAdapter::new();
    engine.register_adapter(loopback.clone());

    println!(
        "hashchat demo: \"{}\" ({}) with {}, {} of chat at {speed}x speed.",
        chat.title,
        chat.hashtag,
        count(chat.points.len() as u64, "point", "points"),
        count(
            session_length(&chat).num_minutes().max(0) as u64,
            "minute",
            "minutes"
        )
    );
    println!("Participants are scripted and marked (demo).\n");

    let (stop_engine, stopped) = oneshot::channel::<()>();
    let scheduler = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    let participants = tokio::spawn(play_participants(
        engine.clone(),
        loopback.clone(),
        clock.clone(),
        chat.clone(),
    ));

    engine
        .handle(LoopbackAdapter::command(
            DEMO_ROOM,
            DEMO_MODERATOR,
            &format!("start {}", chat.slug),
        ))
        .await?;

    let session_id = participants
        .await
        .context("the demo participants stopped unexpectedly")??;
    let _ = stop_engine.send(());
    scheduler
        .await
        .context("the scheduler stopped unexpectedly")??;

    let transcript = bot_core::transcript::build(engine.store(), session_id, Some(&chat))
        .await
        .context("the demo session is missing from the store")?;
    println!("\n──────── transcript ────────\n");
    print!("{}", render_session(&transcript, session_id));
    println!();
    match &temporary {
        Some(path) => {
            remove_sqlite_files(path);
            println!("Session {session_id} was stored in a temporary database, now removed.");
            println!("Keep it with: hashchat demo --db sqlite://demo.db   (then: hashchat sessions --db sqlite://demo.db)");
        }
        None => println!("Session {session_id} is stored in {url}."),
    }
    Ok(ExitCode::SUCCESS)
}

fn load_demo_chat(path: Option<&Path>) -> anyhow::Result<Chat> {
    let result = match path {
        Some(path) => load_chat_file(path, &platforms()),
        None if Path::new(EXAMPLE_CHAT).exists() => {
            load_chat_file(Path::new(EXAMPLE_CHAT), &platforms())
        }
        None => parse_chat(
            Path::new("interlibnet.toml (built in)"),
            BUILT_IN_CHAT,
            &platforms(),
        ),
    };
    result.map_err(|errors| {
        anyhow::anyhow!(
            "the demo chat has problems:\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// Shows the bot's posts as they happen and answers each point with the scripted lines; returns
/// the session's id once the wrap-up is posted and every scripted line has been said.
async fn play_participants(
    engine: Engine,
    loopback: Arc<LoopbackAdapter>,
    clock: SharedClock,
    chat: Chat,
) -> anyhow::Result<i64> {
    let mut events = loopback.subscribe();
    let mut speakers = Vec::new();
    let room = RoomRef::new(Platform::Loopback, DEMO_ROOM);
    loop {
        let event = events
            .recv()
            .await
            .context("the loopback platform closed")?;
        match event {
            LoopbackEvent::Reply { text, .. } => {
                println!("{}  hashchat → moderator: {text}", stamp(&*clock, &chat))
            }
            // The demo chat has one room: nothing is relayed.
            LoopbackEvent::Relay { .. }
            | LoopbackEvent::RelayEdit { .. }
            | LoopbackEvent::RelayDelete { .. } => {}
            LoopbackEvent::Post { content, .. } => {
                println!(
                    "{}  hashchat: {}",
                    stamp(&*clock, &chat),
                    post_text(&content)
                );
                match content.kind {
                    PostKind::Point { number } => {
                        speakers.push(tokio::spawn(speak(
                            engine.clone(),
                            loopback.clone(),
                            clock.clone(),
                            chat.clone(),
                            number,
                        )));
                    }
                    PostKind::WrapUp => {
                        for speaker in speakers {
                            speaker
                                .await
                                .context("a demo participant stopped unexpectedly")??;
                        }
                        return engine
                            .live_session_in(&room)
                            .or(last_session(&engine).await?)
                            .context("the demo session ended but cannot be found");
                    }
                    _ => {}
                }
            }
        }
    }
}

async fn last_session(engine: &Engine) -> anyhow::Result<Option<i64>> {
    Ok(engine
        .store()
        .list_sessions()
        .await?
        .first()
        .map(|s| s.session.id))
}

/// Says point `number`'s scripted lines at their times.
async fn speak(
    engine: Engine,
    loopback: Arc<LoopbackAdapter>,
    clock: SharedClock,
    chat: Chat,
    number: u32,
) -> anyhow::Result<()> {
    let posted_at = clock.now();
    let mut said: Vec<String> = Vec::new();
    for line in lines_for_point(number) {
        let at = posted_at + Duration::milliseconds((line.after_minutes * 60_000.0) as i64);
        tokio::time::sleep(clock.wait_until(at)).await;
        let reply_to = line
            .replies_to_previous
            .and_then(|back| said.len().checked_sub(back))
            .and_then(|i| said.get(i).cloned());
        let message = loopback.message(
            DEMO_ROOM,
            line.who,
            display_name(line.who),
            line.text,
            clock.now(),
            reply_to,
        );
        said.push(message.platform_msg_id.clone());
        let replying = if message.reply_to.is_some() {
            " (reply)"
        } else {
            ""
        };
        println!(
            "{}  {}{replying}: {}",
            stamp(&*clock, &chat),
            message.author_name,
            message.body
        );
        engine.handle(Inbound::Message(message)).await?;
    }
    Ok(())
}

fn stamp(clock: &dyn Clock, chat: &Chat) -> String {
    clock
        .now()
        .with_timezone(&chat.zone)
        .format("[%H:%M]")
        .to_string()
}

fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}
