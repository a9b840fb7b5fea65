//! What operators watch, in the Prometheus text format (the Prometheus project's own client,
//! `prometheus-client`). Two kinds of figure:
//!
//! - **Kept as things happen** by the engine: steps and relayed copies delivered and failed
//!   (per platform), messages archived (per platform), how long a command took to be decided
//!   and answered, and how long a post took on its platform.
//! - **Read at each scrape** ([`Metrics::encode`]): sessions by state, pending posts and the
//!   age of the oldest, from the store (so every instance reports the same database), and
//!   each platform's connection and silence, from [`PlatformHealth`].
//!
//! All names start `hashchat_`; counters end `_total`, durations are in seconds.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::health::{Link, PlatformHealth};
use crate::ids::Platform;
use crate::model::SessionState;
use crate::store::{OperationsSnapshot, Store, StoreError};

/// The `Content-Type` of what [`Metrics::encode`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlatformLabel {
    platform: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    platform: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PostLabels {
    platform: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

type SecondsGauge = Gauge<f64, AtomicU64>;

/// What a delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed for now (it is retried) or for good.
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
        }
    }
}

/// What a post was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostKind {
    /// A chat's own post: an intro, a point, a reminder, the wrap-up.
    Step,
    /// A participant's message copied into another room.
    Relay,
}

impl PostKind {
    fn as_str(self) -> &'static str {
        match self {
            PostKind::Step => "step",
            PostKind::Relay => "relay",
        }
    }
}

/// Every figure, registered once.
pub struct Metrics {
    registry: Registry,
    steps: Family<DeliveryLabels, Counter>,
    relays: Family<DeliveryLabels, Counter>,
    archived: Family<PlatformLabel, Counter>,
    command_seconds: Family<PlatformLabel, Histogram>,
    post_seconds: Family<PostLabels, Histogram>,
    sessions: Family<StateLabel, Gauge>,
    pending: Family<QueueLabel, Gauge>,
    oldest_pending_seconds: Family<QueueLabel, SecondsGauge>,
    platform_up: Family<PlatformLabel, Gauge>,
    platform_silent_seconds: Family<PlatformLabel, SecondsGauge>,
    platform_away: Family<PlatformLabel, Gauge>,
    /// One scrape at a time: the scrape-time gauges are set, then encoded.
    scrape: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 5 ms to about 20 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("hashchat");
        let steps = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "steps_posted",
            "A chat's own posts (intro, points, reminders, wrap-up) by platform and outcome",
            steps.clone(),
        );
        let relays = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "relays_posted",
            "Participants' messages copied into the session's other rooms, by target platform and outcome",
            relays.clone(),
        );
        let archived = Family::<PlatformLabel, Counter>::default();
        registry.register(
            "messages_archived",
            "Participants' messages archived, by the platform they were written on",
            archived.clone(),
        );
        let command_seconds = Family::<PlatformLabel, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "command_duration_seconds",
            "From a command's arrival to its answer being sent",
            command_seconds.clone(),
        );
        let post_seconds = Family::<PostLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "post_duration_seconds",
            "How long a post took on its platform (each attempt)",
            post_seconds.clone(),
        );
        let sessions = Family::<StateLabel, Gauge>::default();
        registry.register(
            "sessions",
            "Sessions in the store, by state",
            sessions.clone(),
        );
        let pending = Family::<QueueLabel, Gauge>::default();
        registry.register(
            "outbox_pending",
            "Posts waiting to be sent: steps, and relayed copies (with their edits and deletions)",
            pending.clone(),
        );
        let oldest_pending_seconds = Family::<QueueLabel, SecondsGauge>::default();
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "How long the oldest waiting post has waited (0 when none waits)",
            oldest_pending_seconds.clone(),
        );
        let platform_up = Family::<PlatformLabel, Gauge>::default();
        registry.register(
            "platform_connected",
            "1 while the platform's connection is up",
            platform_up.clone(),
        );
        let platform_silent_seconds = Family::<PlatformLabel, SecondsGauge>::default();
        registry.register(
            "platform_seconds_since_last_event",
            "Since the platform was last heard from (a sync answered, a gateway event or heartbeat)",
            platform_silent_seconds.clone(),
        );
        let platform_away = Family::<PlatformLabel, Gauge>::default();
        registry.register(
            "platform_away",
            "1 while the platform is down or silent for longer than 90 s",
            platform_away.clone(),
        );
        Metrics {
            registry,
            steps,
            relays,
            archived,
            command_seconds,
            post_seconds,
            sessions,
            pending,
            oldest_pending_seconds,
            platform_up,
            platform_silent_seconds,
            platform_away,
            scrape: tokio::sync::Mutex::new(()),
        }
    }

    fn delivery(platform: Platform, outcome: Outcome) -> DeliveryLabels {
        DeliveryLabels {
            platform: platform.as_str().to_owned(),
            outcome: outcome.as_str().to_owned(),
        }
    }

    /// A post was attempted on `platform`, taking `took`.
    pub fn posted(&self, kind: PostKind, platform: Platform, outcome: Outcome, took: Duration) {
        let family = match kind {
            PostKind::Step => &self.steps,
            PostKind::Relay => &self.relays,
        };
        family
            .get_or_create(&Self::delivery(platform, outcome))
            .inc();
        self.post_seconds
            .get_or_create(&PostLabels {
                platform: platform.as_str().to_owned(),
                kind: kind.as_str().to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// `count` new messages written on `platform` were archived.
    pub fn archived(&self, platform: Platform, count: u64) {
        if count > 0 {
            self.archived
                .get_or_create(&PlatformLabel {
                    platform: platform.as_str().to_owned(),
                })
                .inc_by(count);
        }
    }

    /// A command from `platform` was decided and answered in `took`.
    pub fn command_answered(&self, platform: Platform, took: Duration) {
        self.command_seconds
            .get_or_create(&PlatformLabel {
                platform: platform.as_str().to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Sets the figures read at scrape time and writes every figure.
    pub async fn encode(
        &self,
        store: &Store,
        health: &PlatformHealth,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let snapshot = store.operations_snapshot().await?;
        let _one = self.scrape.lock().await;
        self.set_store_figures(&snapshot, now);
        for status in health.snapshot() {
            let label = PlatformLabel {
                platform: status.platform.as_str().to_owned(),
            };
            self.platform_up
                .get_or_create(&label)
                .set(i64::from(status.link == Link::Up));
            self.platform_away
                .get_or_create(&label)
                .set(i64::from(status.is_away()));
            self.platform_silent_seconds
                .get_or_create(&label)
                .set(status.silent_for.as_secs_f64());
        }
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .map_err(|e| StoreError::Invalid(format!("encoding the metrics: {e}")))?;
        Ok(text)
    }

    fn set_store_figures(&self, snapshot: &OperationsSnapshot, now: DateTime<Utc>) {
        for state in SessionState::ALL {
            let n = snapshot
                .sessions_by_state
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, n)| *n);
            self.sessions
                .get_or_create(&StateLabel {
                    state: state.as_str().to_owned(),
                })
                .set(n);
        }
        for (queue, waiting) in [("steps", &snapshot.steps), ("relays", &snapshot.relays)] {
            let label = QueueLabel {
                queue: queue.to_owned(),
            };
            self.pending.get_or_create(&label).set(waiting.count);
            self.oldest_pending_seconds
                .get_or_create(&label)
                .set(waiting.oldest.map_or(0.0, |at| seconds_between(at, now)));
        }
    }
}

fn seconds_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> f64 {
    ((later - earlier).num_milliseconds().max(0) as f64) / 1000.0
}
