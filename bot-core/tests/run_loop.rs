//! The scheduler's own loop: it sleeps until the earliest due step and wakes when a command
//! changes the calendar.
//!
//! The clock runs 3,600 times faster than real time, so the hour-long chat takes about a
//! second. tokio's paused clock does not fit here: it jumps ahead whenever the runtime waits for
//! SQLite's worker thread, which times out the connection pool and smears the times. The
//! timetable itself is proven exactly on a manual clock in `engine.rs`; this proves the loop.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use bot_core::clock::AcceleratedClock;
use bot_core::engine::{Engine, EngineSettings};
use bot_core::loopback::{LoopbackAdapter, LoopbackEvent};
use bot_core::model::PostKind;
use bot_core::store::Store;
use engine_support::{chat, full_run, MODERATOR, ROOM};

#[tokio::test]
async fn the_run_loop_posts_an_hour_long_chat_on_time_in_virtual_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("hc.db").display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let clock = Arc::new(AcceleratedClock::new(chrono::Utc::now(), 3600.0));
    let engine = Engine::new(
        store,
        clock.clone(),
        vec![chat()],
        EngineSettings::default(),
    );
    let loopback = LoopbackAdapter::new();
    engine.register_adapter(loopback.clone());
    let mut events = loopback.subscribe();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn({
        let engine: Engine = engine.clone();
        async move {
            engine
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    engine
        .handle(LoopbackAdapter::command(
            ROOM,
            MODERATOR,
            "start interlibnet",
        ))
        .await
        .unwrap();

    let mut seen = Vec::new();
    while seen.last() != Some(&PostKind::WrapUp) {
        // Generous: a loaded machine may be slow, but a loop that never wakes waits forever.
        let event = tokio::time::timeout(Duration::from_secs(120), events.recv())
            .await
            .expect("the loop woke for the next step")
            .unwrap();
        if let LoopbackEvent::Post { content, .. } = event {
            seen.push(content.kind);
        }
    }
    let _ = stop.send(());
    scheduler.await.unwrap().unwrap();
    assert_eq!(seen, full_run(6));

    // Each step was emitted at or after its due time on the schedule, never early.
    let session = engine.store().list_sessions().await.unwrap()[0]
        .session
        .clone();
    let posts = engine.store().posts_for_session(session.id).await.unwrap();
    let start = posts[0].created_at;
    let due_minutes = [0, 2, 12, 22, 32, 42, 52, 62];
    for (post, minutes) in posts.iter().zip(due_minutes) {
        assert!(
            post.created_at >= start + chrono::Duration::minutes(minutes),
            "step {} early",
            post.step
        );
    }
}

/// A platform that cannot be reached: every post fails, counted.
struct Unreachable {
    tries: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl bot_core::adapter::Adapter for Unreachable {
    fn platform(&self) -> bot_core::ids::Platform {
        bot_core::ids::Platform::Loopback
    }
    async fn post(
        &self,
        _: &bot_core::adapter::Post,
    ) -> Result<String, bot_core::adapter::AdapterError> {
        self.tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(bot_core::adapter::AdapterError::Unreachable(
            "homeserver down".into(),
        ))
    }
    async fn reply(
        &self,
        _: &bot_core::adapter::Reply,
    ) -> Result<(), bot_core::adapter::AdapterError> {
        Ok(())
    }
}

/// While a platform is away its room's posts are tried once per retry delay, not as fast as
/// the loop can go round.
#[tokio::test]
async fn an_unreachable_platform_is_tried_once_per_retry_delay() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("hc.db").display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // Real time; retries a second apart.
    let clock = Arc::new(AcceleratedClock::new(chrono::Utc::now(), 1.0));
    let engine = Engine::new(
        store,
        clock,
        vec![chat()],
        EngineSettings {
            retry_delay: chrono::Duration::seconds(1),
            ..EngineSettings::default()
        },
    );
    let platform = Arc::new(Unreachable {
        tries: Default::default(),
    });
    engine.register_adapter(platform.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
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
    engine
        .handle(LoopbackAdapter::command(
            ROOM,
            MODERATOR,
            "start interlibnet",
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let _ = stop.send(());
    scheduler.await.unwrap().unwrap();
    let tries = platform.tries.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (2..=6).contains(&tries),
        "about one try a second over 3.5 s, got {tries}"
    );
}
