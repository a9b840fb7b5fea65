//! A small world for engine tests: a chat, a store on a temp file, a manual clock, the loopback
//! platform, and helpers to speak and run commands in it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use bot_core::adapter::Inbound;
use bot_core::chat::{Chat, Point};
use bot_core::clock::ManualClock;
use bot_core::engine::{Archived, Engine, EngineSettings};
use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::loopback::{LoopbackAdapter, LoopbackEvent};
use bot_core::model::{PostKind, StoredMessage};
use bot_core::store::Store;
use chrono::{DateTime, Duration, TimeZone, Utc};

pub const ROOM: &str = "main";
pub const MODERATOR: &str = "mod";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap()
}

/// Six points ten minutes apart, intro two minutes before Q1, reminder an hour ahead.
pub fn chat() -> Chat {
    Chat {
        slug: "interlibnet".into(),
        title: "Libraries and social media".into(),
        hashtag: "#interlibnet".into(),
        description: "A chat for library people".into(),
        intro: "Welcome!".into(),
        wrap_up: "Thanks, everyone".into(),
        points: (1..=6)
            .map(|n| Point {
                text: format!("Point {n}?"),
                minutes: None,
            })
            .collect(),
        minutes_between_points: 10,
        intro_minutes: 2,
        reminder_minutes: 60,
        zone: chrono_tz::Europe::London,
        schedule: None,
        rooms: vec![RoomRef::new(Platform::Loopback, ROOM)],
        moderators: vec![UserRef::new(Platform::Loopback, MODERATOR)],
        visibility: Default::default(),
        capture_hashtag: Default::default(),
        platform_options: Default::default(),
        source: PathBuf::from("interlibnet.toml"),
    }
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub engine: Engine,
    pub loopback: Arc<LoopbackAdapter>,
    pub chat: Chat,
}

impl World {
    pub async fn new(chat: Chat) -> World {
        let dir = tempfile::tempdir().unwrap();
        World::in_dir(dir, chat, t0()).await
    }

    /// A world on an existing directory: the same database file and loopback record, as after
    /// a restart.
    pub async fn in_dir(dir: tempfile::TempDir, chat: Chat, now: DateTime<Utc>) -> World {
        World::in_dir_with(dir, chat, now, true).await
    }

    /// As [`World::in_dir`]; without the loopback platform registered when `platform_up` is
    /// false, so posts stay in the outbox as if the platform were unreachable.
    pub async fn in_dir_with(
        dir: tempfile::TempDir,
        chat: Chat,
        now: DateTime<Utc>,
        platform_up: bool,
    ) -> World {
        let url = format!("sqlite://{}", dir.path().join("hashchat.db").display());
        World::on_url(dir, &url, chat, now, platform_up).await
    }

    /// A world whose store is the database at `url`.
    pub async fn on_url(
        dir: tempfile::TempDir,
        url: &str,
        chat: Chat,
        now: DateTime<Utc>,
        platform_up: bool,
    ) -> World {
        let store = Store::connect(url).await.unwrap();
        store.migrate().await.unwrap();
        World::on_store(dir, store, chat, now, platform_up).await
    }

    /// A world on an open, migrated store (e.g. a PostgreSQL schema from `common`).
    pub async fn on_store(
        dir: tempfile::TempDir,
        store: Store,
        chat: Chat,
        now: DateTime<Utc>,
        platform_up: bool,
    ) -> World {
        World::on_store_with(
            dir,
            store,
            chat,
            now,
            platform_up,
            EngineSettings::default(),
        )
        .await
    }

    /// As [`World::on_store`], with `settings` (delivery is always waited for).
    pub async fn on_store_with(
        dir: tempfile::TempDir,
        store: Store,
        chat: Chat,
        now: DateTime<Utc>,
        platform_up: bool,
        settings: EngineSettings,
    ) -> World {
        let clock = ManualClock::new(now);
        let engine = Engine::new(
            store,
            Arc::new(clock.clone()),
            vec![chat.clone()],
            EngineSettings {
                wait_for_delivery: true,
                ..settings
            },
        );
        let loopback = LoopbackAdapter::with_log(dir.path().join("loopback.jsonl")).unwrap();
        if platform_up {
            engine.register_adapter(loopback.clone());
        }
        engine.load().await.unwrap();
        World {
            dir,
            clock,
            engine,
            loopback,
            chat,
        }
    }

    /// Stops this process and starts another on the same files at `now`.
    pub async fn restart_at(self, now: DateTime<Utc>) -> World {
        let World {
            dir, chat, engine, ..
        } = self;
        drop(engine);
        World::in_dir(dir, chat, now).await
    }

    /// As [`World::restart_at`], with the loopback platform away (posts stay in the outbox).
    pub async fn restart_without_platform_at(self, now: DateTime<Utc>) -> World {
        let World {
            dir, chat, engine, ..
        } = self;
        drop(engine);
        World::in_dir_with(dir, chat, now, false).await
    }

    /// Runs `text` as the platform event `event_id` on a second engine over the same store
    /// that stops dead after the command's effect, before its claim (as a process killed
    /// there would), once `effect_done` says the effect is in the store. Nothing is replied.
    pub async fn crash_during_command<F, Fut>(
        &self,
        user: &str,
        text: &str,
        event_id: &str,
        effect_done: F,
    ) where
        F: Fn(Store) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let doomed = Engine::new(
            self.engine.store().clone(),
            Arc::new(self.clock.clone()),
            vec![self.chat.clone()],
            EngineSettings {
                hold_before_claiming_commands: true,
                wait_for_delivery: true,
                ..EngineSettings::default()
            },
        );
        doomed.register_adapter(self.loopback.clone());
        doomed.load().await.unwrap();
        let replies_before = self.replies().len();
        let running = tokio::spawn({
            let doomed = doomed.clone();
            let command = self.command_event(user, text, event_id);
            async move { doomed.handle(command).await }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !effect_done(self.engine.store().clone()).await {
            assert!(
                !running.is_finished(),
                "the command finished instead of holding"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "the command never acted"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // Past the effect, the command waits for ever before its claim: let it get there.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!running.is_finished(), "the command held before its claim");
        running.abort();
        let _ = running.await;
        assert_eq!(
            self.replies().len(),
            replies_before,
            "no reply before the crash"
        );
    }

    /// A command as the platform hands it over: with the id of the event that carried it.
    pub fn command_event(&self, user: &str, text: &str, event_id: &str) -> Inbound {
        match LoopbackAdapter::command(ROOM, user, text) {
            Inbound::Command(mut invocation) => {
                invocation.platform_msg_id = Some(event_id.to_owned());
                Inbound::Command(invocation)
            }
            other => other,
        }
    }

    /// The text of every command reply, in order.
    pub fn replies(&self) -> Vec<String> {
        self.loopback
            .history()
            .into_iter()
            .filter_map(|e| match e {
                LoopbackEvent::Reply { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    }

    pub async fn command(&self, user: &str, text: &str) -> String {
        self.engine
            .handle(LoopbackAdapter::command(ROOM, user, text))
            .await
            .unwrap();
        match self.loopback.history().last() {
            Some(LoopbackEvent::Reply { text, .. }) => text.clone(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    /// Moves the clock to `at`, running every scheduler turn that falls due on the way.
    pub async fn run_until(&self, at: DateTime<Utc>) {
        loop {
            match self.engine.next_due() {
                Some(due) if due <= at => {
                    if due > self.clock_now() {
                        self.clock.set(due);
                    }
                    self.engine.tick().await.unwrap();
                }
                _ => break,
            }
        }
        self.clock.set(at);
        self.engine.tick().await.unwrap();
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        use bot_core::clock::Clock;
        self.clock.now()
    }

    pub async fn say(&self, who: &str, body: &str, reply_to: Option<String>) -> (String, Archived) {
        let message = self
            .loopback
            .message(ROOM, who, who, body, self.clock_now(), reply_to);
        let id = message.platform_msg_id.clone();
        let archived = self.engine.archive_message(message).await.unwrap();
        (id, archived)
    }

    /// The kinds of every post made on the loopback platform, in order.
    pub fn posts(&self) -> Vec<PostKind> {
        self.loopback
            .history()
            .into_iter()
            .filter_map(|e| match e {
                LoopbackEvent::Post { content, .. } => Some(content.kind),
                _ => None,
            })
            .collect()
    }

    pub fn post_id(&self, kind: PostKind) -> String {
        self.loopback
            .history()
            .into_iter()
            .find_map(|e| match e {
                LoopbackEvent::Post {
                    content,
                    platform_msg_id,
                    ..
                } if content.kind == kind => Some(platform_msg_id),
                _ => None,
            })
            .expect("post was made")
    }

    pub async fn messages(&self, session: i64) -> Vec<StoredMessage> {
        self.engine.store().session_messages(session).await.unwrap()
    }
}

pub fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

pub fn full_run(points: u32) -> Vec<PostKind> {
    let mut kinds = vec![PostKind::Intro];
    kinds.extend((1..=points).map(|number| PostKind::Point { number }));
    kinds.push(PostKind::WrapUp);
    kinds
}

pub fn room() -> RoomRef {
    RoomRef::new(Platform::Loopback, ROOM)
}

pub async fn event(engine: &Engine, event: Inbound) {
    engine.handle(event).await.unwrap();
}
