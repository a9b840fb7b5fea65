//! The engine: owns the rules and drives sessions.
//!
//! One [`Engine`] per process. Adapters hand it [`Inbound`] events; its scheduler loop
//! ([`Engine::run`]) posts each session's steps when they fall due, through the outbox, so that a
//! crash at any moment neither repeats nor skips a step.

mod archive;
mod attribution;
mod away;
mod commands;
mod curation;
mod delivery;
mod due;
mod recurrence;
mod relay;
mod steps;

use crate::health::PlatformHealth;
use crate::metrics::Metrics;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{broadcast, Notify};

use crate::adapter::{Adapter, Inbound};
use crate::chat::Chat;
use crate::clock::SharedClock;
use crate::ids::{Platform, RoomRef};
use crate::media::MediaCopier;
use crate::model::{Session, SessionId};
use crate::store::{Store, StoreError};

pub use archive::Archived;
pub use attribution::{answer_prefix, answer_tags};
use due::DueIndex;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Settings that shape the engine's behaviour, from the `[scheduler]` part of the config.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// A session whose start passed longer ago than this while the bot was down is marked
    /// missed instead of started late.
    pub catch_up_grace: Duration,
    /// A post that fails this many times (temporarily) is given up and marked failed.
    pub max_post_attempts: u32,
    /// How long to wait before retrying a post that failed temporarily.
    pub retry_delay: Duration,
    /// For the crash tests only: after a command has acted and before it is claimed, log
    /// `held before claiming a command` and wait for ever, so that a test can kill the process
    /// exactly there. The binary sets it from `HASHCHAT_TEST_HOLD_BEFORE_CLAIM`.
    pub hold_before_claiming_commands: bool,
    /// For the crash tests only: once a platform has made a relayed copy and before the
    /// outbox records it, log `held before recording a copy` and wait for ever. The binary
    /// sets it from `HASHCHAT_TEST_HOLD_BEFORE_RECORDING_COPY`.
    pub hold_before_recording_copies: bool,
    /// For tests of slow answers only: every command waits this long (real time) before it
    /// is carried out, as a slow store or platform would make it. The binary sets it from
    /// `HASHCHAT_TEST_COMMAND_DELAY_MS`.
    pub command_delay: Option<std::time::Duration>,
    /// [`Engine::tick`] and commands return only once the delivery they set going is done,
    /// for tests on a manual clock. Off in the bot: there no platform waits for another.
    pub wait_for_delivery: bool,
    /// Where people reach the web archive (`[web] public_url`), for the links the bot writes:
    /// `transcript` answers with a session's page, a reminder links to the chat's sessions and
    /// a wrap-up to the transcript, for chats the archive shows. `None`: no links.
    pub public_url: Option<String>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            catch_up_grace: Duration::minutes(30),
            max_post_attempts: 20,
            retry_delay: Duration::seconds(15),
            hold_before_claiming_commands: false,
            hold_before_recording_copies: false,
            command_delay: None,
            wait_for_delivery: false,
            public_url: None,
        }
    }
}

/// A cheap handle to the one engine; clone it into adapters and tasks.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    /// [`Engine::load`] has run.
    loaded: std::sync::atomic::AtomicBool,
    store: Store,
    clock: SharedClock,
    settings: EngineSettings,
    chats: RwLock<HashMap<String, Arc<Chat>>>,
    adapters: RwLock<HashMap<Platform, Arc<dyn Adapter>>>,
    due: Mutex<DueIndex>,
    /// Rooms with a running or paused session, and which.
    live_rooms: Mutex<HashMap<RoomRef, LiveSession>>,
    /// When undelivered posts should next be retried.
    retry_at: Mutex<Option<DateTime<Utc>>>,
    wake: Notify,
    /// Every session whose change the engine has taken in (see [`Engine::session_changes`]).
    session_changes: broadcast::Sender<SessionId>,
    /// Serialises changes to sessions so a command and the scheduler never advance one at once.
    session_writes: tokio::sync::Mutex<()>,
    /// Each room's delivery lane (see `delivery.rs`): one task per room at a time, so the
    /// scheduler and a command never post one entry twice.
    lanes: Mutex<HashMap<RoomRef, Arc<delivery::LaneState>>>,
    /// Copies attachments and avatars of archived messages, when configured.
    media: RwLock<Option<MediaCopier>>,
    /// What operators watch (see `metrics.rs`).
    metrics: Arc<Metrics>,
    /// Each platform's connection as its adapter reports it.
    health: Arc<PlatformHealth>,
    /// Which platforms' absence the other rooms were told of (see `away.rs`).
    away: away::AwayNotices,
}

/// A session messages in a room belong to, as the in-memory index keeps it.
#[derive(Debug, Clone)]
struct LiveSession {
    id: SessionId,
    chat_slug: Arc<str>,
}

/// How many session changes a slow [`Engine::session_changes`] receiver may fall behind before
/// it is told it lagged (and should read every session again).
const SESSION_CHANGES_BACKLOG: usize = 1024;

/// How often `Engine::run` looks at the platforms' health for away notices.
const PLATFORMS_WATCH: std::time::Duration = std::time::Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding one of these small maps leaves it consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    pub fn new(
        store: Store,
        clock: SharedClock,
        chats: Vec<Chat>,
        settings: EngineSettings,
    ) -> Self {
        let chats = chats
            .into_iter()
            .map(|c| (c.slug.clone(), Arc::new(c)))
            .collect();
        Engine {
            inner: Arc::new(Inner {
                store,
                health: Arc::new(PlatformHealth::new(clock.clone())),
                metrics: Arc::new(Metrics::new()),
                away: Default::default(),
                clock,
                settings,
                chats: RwLock::new(chats),
                adapters: RwLock::new(HashMap::new()),
                due: Mutex::new(DueIndex::default()),
                live_rooms: Mutex::new(HashMap::new()),
                retry_at: Mutex::new(None),
                wake: Notify::new(),
                loaded: Default::default(),
                session_changes: broadcast::channel(SESSION_CHANGES_BACKLOG).0,
                session_writes: tokio::sync::Mutex::new(()),
                lanes: Mutex::default(),
                media: RwLock::new(None),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The counters and histograms the engine keeps, for `/metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Each platform's connection: adapters report to it, `/readyz` and `/metrics` read it.
    pub fn health(&self) -> &Arc<PlatformHealth> {
        &self.inner.health
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub fn register_adapter(&self, adapter: Arc<dyn Adapter>) {
        let mut adapters = self
            .inner
            .adapters
            .write()
            .unwrap_or_else(|e| e.into_inner());
        adapters.insert(adapter.platform(), adapter);
        drop(adapters);
        self.inner.wake.notify_one();
    }

    /// From now on, the attachments and avatars of archived messages are copied by `copier`.
    pub fn set_media_copier(&self, copier: MediaCopier) {
        *self.inner.media.write().unwrap_or_else(|e| e.into_inner()) = Some(copier);
    }

    pub(crate) fn media_copier(&self) -> Option<MediaCopier> {
        self.inner
            .media
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn chat(&self, slug: &str) -> Option<Arc<Chat>> {
        let chats = self.inner.chats.read().unwrap_or_else(|e| e.into_inner());
        chats.get(slug).cloned()
    }

    pub fn chats(&self) -> Vec<Arc<Chat>> {
        let chats = self.inner.chats.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = chats.values().cloned().collect();
        all.sort_by(|a, b| a.slug.cmp(&b.slug));
        all
    }

    fn adapter(&self, platform: Platform) -> Option<Arc<dyn Adapter>> {
        let adapters = self
            .inner
            .adapters
            .read()
            .unwrap_or_else(|e| e.into_inner());
        adapters.get(&platform).cloned()
    }

    /// The running or paused session in `room` and its chat, without a trip to the store: the
    /// archive path asks this for every message.
    fn live_in(&self, room: &RoomRef) -> Option<LiveSession> {
        lock(&self.inner.live_rooms).get(room).cloned()
    }

    /// Every running or paused session, once each.
    fn live_sessions(&self) -> Vec<LiveSession> {
        let mut seen = std::collections::HashSet::new();
        lock(&self.inner.live_rooms)
            .values()
            .filter(|l| seen.insert(l.id))
            .cloned()
            .collect()
    }

    /// The running or paused session in `room`, if any.
    pub fn live_session_in(&self, room: &RoomRef) -> Option<SessionId> {
        lock(&self.inner.live_rooms).get(room).map(|live| live.id)
    }

    /// Number of sessions waiting for a step; for diagnostics and the benchmark.
    pub fn due_count(&self) -> usize {
        lock(&self.inner.due).len()
    }

    /// The earliest due time, if any session waits.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        lock(&self.inner.due).earliest()
    }

    /// A platform's wall-clock timestamp on the engine's clock (the same instant, except on the
    /// accelerated clock of tests and demos).
    pub fn platform_time(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        self.inner.clock.reading_at_wall(wall)
    }

    /// Wakes the scheduler now: an adapter whose platform came back calls it so posts that
    /// waited go out at once rather than at the next retry.
    pub fn wake(&self) {
        self.end_backoffs();
        self.deliver_soon();
    }

    /// Session `uid`'s page on the web archive, when `[web] public_url` is set and the archive
    /// serves `chat` (public or unlisted).
    pub(crate) fn transcript_url(&self, chat: &Chat, uid: &str) -> Option<String> {
        let base = self.inner.settings.public_url.as_deref()?;
        (chat.visibility != crate::chat::Visibility::Private).then(|| format!("{base}/s/{uid}"))
    }

    /// The web archive's list of `chat`'s sessions, when `[web] public_url` is set and the chat
    /// is listed there (public).
    pub(crate) fn chat_sessions_url(&self, chat: &Chat) -> Option<String> {
        let base = self.inner.settings.public_url.as_deref()?;
        (chat.visibility == crate::chat::Visibility::Public)
            .then(|| format!("{base}/?chat={}", chat.slug))
    }

    /// Has the scheduler deliver what was just queued; rooms backing off after a failure wait
    /// for their retry.
    fn deliver_soon(&self) {
        *lock(&self.inner.retry_at) = Some(self.now());
        self.inner.wake.notify_one();
    }

    /// The id of every session the engine writes from now on (created, stepped, paused,
    /// resumed, cancelled, missed, ended) and of every session it loads, sent once the change is
    /// in the store. An adapter that mirrors sessions onto its platform (Discord's scheduled
    /// events) follows this instead of polling the store; a receiver that falls more than
    /// 1,024 behind gets `Lagged` and should read every session again.
    pub fn session_changes(&self) -> broadcast::Receiver<SessionId> {
        self.inner.session_changes.subscribe()
    }

    /// Hands one platform event to the engine.
    pub async fn handle(&self, event: Inbound) -> Result<(), EngineError> {
        match event {
            Inbound::Message(message) => {
                let archived = self.archive_message(message.clone()).await?;
                self.relay_message(&message, archived).await
            }
            Inbound::Edited(edit) => self.archive_edit(edit).await,
            Inbound::Deleted(deletion) => self.archive_deletion(deletion).await,
            Inbound::Reacted(reaction) => self.archive_reaction(reaction).await,
            Inbound::Command(invocation) => {
                let platform = invocation.room.platform;
                let began = std::time::Instant::now();
                let answered = self.run_command(invocation).await;
                self.inner
                    .metrics
                    .command_answered(platform, began.elapsed());
                answered
            }
        }
    }

    /// Loads every unfinished session from the store, materialises the next occurrence of each
    /// recurring chat, and marks sessions missed that should have started long ago.
    ///
    /// [`Engine::run`] calls this unless it was called before: the binary calls it before it
    /// starts the platforms' listeners, so what they read back after a restart finds its
    /// sessions live (and is relayed) however quickly it comes. Tools and benchmarks call it
    /// to load without running.
    pub async fn load(&self) -> Result<usize, EngineError> {
        let sessions = self.inner.store.active_sessions().await?;
        let count = sessions.len();
        for session in &sessions {
            self.track(session);
        }
        self.ensure_recurrences(&sessions).await?;
        self.inner
            .loaded
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(count)
    }

    /// Runs the scheduler until `shutdown` completes: posts due steps and delivers the outbox.
    ///
    /// On shutdown it stops between steps: a step is either fully enqueued or not at all, and a
    /// post not yet delivered stays in the outbox for the next start.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), EngineError> {
        if !self.inner.loaded.load(std::sync::atomic::Ordering::SeqCst) {
            self.load().await?;
        }
        tokio::pin!(shutdown);
        let mut platforms_watch = tokio::time::interval(PLATFORMS_WATCH);
        platforms_watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if let Err(e) = self.tick().await {
                // The store may be briefly unreachable; the scheduler keeps going and retries.
                tracing::error!(error = %e, "scheduler turn failed; retrying shortly");
                *lock(&self.inner.retry_at) = Some(self.now() + self.inner.settings.retry_delay);
            }
            let wait = self.time_until_next_wake();
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = platforms_watch.tick() => self.check_platforms().await,
            }
        }
        tracing::info!("scheduler stopped");
        Ok(())
    }

    fn time_until_next_wake(&self) -> std::time::Duration {
        let next_due = lock(&self.inner.due).earliest();
        let retry = *lock(&self.inner.retry_at);
        let next = match (next_due, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match next {
            Some(at) => self.inner.clock.wait_until(at),
            // Nothing scheduled: sleep until something changes (the Notify wakes us).
            None => std::time::Duration::from_secs(3600),
        }
    }

    /// Records where a session stands in the in-memory indexes.
    fn track(&self, session: &Session) {
        let due =
            if session.state.is_finished() || session.state == crate::model::SessionState::Paused {
                None
            } else {
                session.next_due_at
            };
        lock(&self.inner.due).set(session.id, due);
        let mut live = lock(&self.inner.live_rooms);
        if session.state.is_live() {
            let chat_slug: Arc<str> = Arc::from(session.chat_slug.as_str());
            for room in &session.rooms {
                live.insert(
                    room.clone(),
                    LiveSession {
                        id: session.id,
                        chat_slug: chat_slug.clone(),
                    },
                );
            }
        } else {
            live.retain(|_, live| live.id != session.id);
        }
        drop(live);
        self.inner.wake.notify_one();
        // Nobody listening is fine: the send only fails then.
        let _ = self.inner.session_changes.send(session.id);
    }

    /// One turn of the scheduler: emits every step due by now (catching up in order) and
    /// delivers the outbox. [`Engine::run`] calls it whenever it wakes; tests on a manual clock
    /// call it directly.
    pub async fn tick(&self) -> Result<(), EngineError> {
        let mut follow_ups = Vec::new();
        loop {
            let now = self.now();
            let due = lock(&self.inner.due).take_due(now);
            if due.is_empty() {
                break;
            }
            let ids: Vec<SessionId> = due.iter().map(|(_, id)| *id).collect();
            match self.advance_many(&ids, steps::Trigger::Due).await {
                Ok((_, chats)) => follow_ups.extend(chats),
                Err(e) => {
                    // Keep the sessions on the calendar and try again shortly.
                    let mut index = lock(&self.inner.due);
                    for (at, session) in due {
                        index.set(session, Some(at.max(now) + self.inner.settings.retry_delay));
                    }
                    return Err(e);
                }
            }
        }
        self.deliver_outbox().await?;
        self.schedule_next_occurrences(follow_ups).await
    }
}
