//! What operators watch, over HTTP from the real router: `/metrics` (Prometheus text format)
//! counts what the engine did in a session run through the loopback platform, with a second
//! platform whose posts fail; `/readyz` follows the platforms' connections; `/healthz` stays
//! about the process and its store. A platform away for a minute is told in the session's
//! other rooms, and again when it is back.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bot_core::adapter::{Adapter, AdapterError, Post, Reply};
use bot_core::chat::{Chat, Point, Visibility};
use bot_core::clock::ManualClock;
use bot_core::engine::{Engine, EngineSettings};
use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::loopback::LoopbackAdapter;
use bot_core::store::Store;
use chrono::{Duration, TimeZone, Utc};
use hashchat_web::WebState;

const MODERATOR: &str = "mod";

/// A platform that is there but refuses every post for now.
struct Refusing;

#[async_trait]
impl Adapter for Refusing {
    fn platform(&self) -> Platform {
        Platform::Web
    }
    async fn post(&self, _post: &Post) -> Result<String, AdapterError> {
        Err(AdapterError::Temporary("refused by the test".into()))
    }
    async fn reply(&self, _reply: &Reply) -> Result<(), AdapterError> {
        Ok(())
    }
    fn label(&self) -> String {
        "Refusenik".into()
    }
}

fn chat() -> Chat {
    Chat {
        slug: "ops".into(),
        title: "Ops".into(),
        hashtag: "#ops".into(),
        description: "d".into(),
        intro: "hi".into(),
        wrap_up: "bye".into(),
        points: vec![Point {
            text: "One?".into(),
            minutes: None,
        }],
        minutes_between_points: 10,
        intro_minutes: 2,
        reminder_minutes: 0,
        zone: chrono_tz::UTC,
        schedule: None,
        rooms: vec![
            RoomRef::new(Platform::Loopback, "room-ops"),
            RoomRef::new(Platform::Web, "refusing"),
        ],
        moderators: vec![UserRef::new(Platform::Loopback, MODERATOR)],
        visibility: Visibility::Public,
        capture_hashtag: Default::default(),
        platform_options: Default::default(),
        source: "ops.toml".into(),
    }
}

/// Every sample line of a Prometheus text page: `name{labels}` → value. Panics on a line that
/// is neither a comment nor `NAME[{LABELS}] VALUE`.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        assert!(
            out.insert(series.to_owned(), value).is_none(),
            "{line:?} twice"
        );
    }
    out
}

struct Ops {
    engine: Engine,
    clock: ManualClock,
    loopback: Arc<LoopbackAdapter>,
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Ops {
    async fn start() -> Ops {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/hashchat.db", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 4, 18, 0, 0).unwrap());
        let engine = Engine::new(
            store.clone(),
            Arc::new(clock.clone()),
            vec![chat()],
            EngineSettings {
                wait_for_delivery: true,
                ..EngineSettings::default()
            },
        );
        let loopback = LoopbackAdapter::new();
        engine.register_adapter(loopback.clone());
        engine.register_adapter(Arc::new(Refusing));
        engine.load().await.unwrap();
        let mut state = WebState::new(store, vec![chat()]).watching(&engine);
        state.clock = Arc::new(clock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(hashchat_web::serve(listener, state, std::future::pending()));
        Ops {
            engine,
            clock,
            loopback,
            base,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> (u16, String, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let kind = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, kind, r.text().await.unwrap())
    }

    async fn metrics(&self) -> HashMap<String, f64> {
        let (status, kind, text) = self.get("/metrics").await;
        assert_eq!(status, 200, "{text}");
        assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
        samples(&text)
    }

    async fn command(&self, text: &str) {
        self.engine
            .handle(LoopbackAdapter::command("room-ops", MODERATOR, text))
            .await
            .unwrap();
    }
}

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

#[tokio::test]
async fn metrics_count_what_the_engine_did_and_what_waits() {
    let ops = Ops::start().await;
    let before = ops.metrics().await;
    assert_eq!(value(&before, "hashchat_sessions{state=\"running\"}"), 0.0);
    assert_eq!(
        value(&before, "hashchat_outbox_pending{queue=\"steps\"}"),
        0.0
    );

    ops.command("start ops").await;
    for (i, who) in ["ada", "bo", "cy"].iter().enumerate() {
        let m = ops.loopback.message(
            "room-ops",
            who,
            who,
            &format!("A1: answer {i}"),
            bot_core::clock::Clock::now(&ops.clock),
            None,
        );
        ops.engine
            .handle(bot_core::adapter::Inbound::Message(m))
            .await
            .unwrap();
    }
    ops.clock.advance(Duration::minutes(1));
    let during = ops.metrics().await;
    assert_eq!(value(&during, "hashchat_sessions{state=\"running\"}"), 1.0);
    assert_eq!(
        value(
            &during,
            "hashchat_messages_archived_total{platform=\"loopback\"}"
        ),
        3.0
    );
    let delivered = value(
        &during,
        "hashchat_steps_posted_total{platform=\"loopback\",outcome=\"delivered\"}",
    );
    assert!(delivered >= 1.0, "the intro reached the loopback room");
    assert!(
        value(
            &during,
            "hashchat_steps_posted_total{platform=\"web\",outcome=\"failed\"}"
        ) >= 1.0,
        "the refusing room's attempts are counted as failed"
    );
    assert!(value(&during, "hashchat_outbox_pending{queue=\"steps\"}") >= 1.0);
    assert!(
        value(
            &during,
            "hashchat_outbox_oldest_pending_age_seconds{queue=\"steps\"}"
        ) >= 60.0,
        "the refused intro has waited since the start"
    );
    // Relayed copies to the refusing room fail too, and wait.
    assert!(value(&during, "hashchat_outbox_pending{queue=\"relays\"}") >= 1.0);
    assert!(
        value(
            &during,
            "hashchat_command_duration_seconds_count{platform=\"loopback\"}"
        ) >= 1.0
    );
    assert!(
        value(
            &during,
            "hashchat_post_duration_seconds_count{platform=\"loopback\",kind=\"step\"}"
        ) >= 1.0
    );

    ops.command("stop").await;
    let after = ops.metrics().await;
    assert_eq!(value(&after, "hashchat_sessions{state=\"running\"}"), 0.0);
    assert_eq!(value(&after, "hashchat_sessions{state=\"ended\"}"), 1.0);
    assert!(
        value(
            &after,
            "hashchat_steps_posted_total{platform=\"loopback\",outcome=\"delivered\"}"
        ) > delivered,
        "the wrap-up too"
    );
}

#[tokio::test]
async fn readiness_follows_the_platforms_and_health_only_the_process() {
    let ops = Ops::start().await;
    let (status, _, text) = ops.get("/readyz").await;
    assert_eq!((status, text.as_str()), (200, "store: ok\n"));

    let health = ops.engine.health();
    health.expect(Platform::Matrix);
    let (status, _, text) = ops.get("/readyz").await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("matrix: not ready (connecting)"), "{text}");
    let m = ops.metrics().await;
    assert_eq!(
        value(&m, "hashchat_platform_connected{platform=\"matrix\"}"),
        0.0
    );

    health.up(Platform::Matrix);
    let (status, _, text) = ops.get("/readyz").await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("matrix: ok (up, last heard 0 s ago)"),
        "{text}"
    );

    // Silent for longer than the allowance: a stall, though the link never said so.
    ops.clock.advance(Duration::seconds(91));
    let (status, _, text) = ops.get("/readyz").await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("matrix: away (up, last heard 91 s ago)"),
        "{text}"
    );
    let m = ops.metrics().await;
    assert_eq!(
        value(&m, "hashchat_platform_away{platform=\"matrix\"}"),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "hashchat_platform_seconds_since_last_event{platform=\"matrix\"}"
        ),
        91.0
    );
    health.heard(Platform::Matrix);
    assert_eq!(ops.get("/readyz").await.0, 200);

    health.down(Platform::Matrix);
    let (status, _, text) = ops.get("/readyz").await;
    assert_eq!(status, 503);
    assert!(text.contains("matrix: away (down"), "{text}");
    let m = ops.metrics().await;
    assert_eq!(
        value(&m, "hashchat_platform_connected{platform=\"matrix\"}"),
        0.0
    );
    // Alive all the same: a load balancer's liveness probe must not restart it for this.
    let (status, _, text) = ops.get("/healthz").await;
    assert_eq!((status, text.as_str()), (200, "ok\n"));
}

#[tokio::test]
async fn a_platform_away_for_a_minute_is_told_in_the_other_rooms_and_again_when_back() {
    let ops = Ops::start().await;
    ops.command("start ops").await;
    let health = ops.engine.health();
    health.up(Platform::Web);
    let notices = |ops: &Ops| -> Vec<String> {
        ops.loopback
            .history()
            .into_iter()
            .filter_map(|e| match e {
                bot_core::loopback::LoopbackEvent::Post { room, content, .. }
                    if content.kind == bot_core::model::PostKind::Notice =>
                {
                    assert_eq!(room, "room-ops", "told in the other room");
                    Some(content.text)
                }
                _ => None,
            })
            .collect()
    };

    // Lost, but not for a minute yet: nothing said.
    health.down(Platform::Web);
    ops.clock.advance(Duration::seconds(59));
    ops.engine.check_platforms().await;
    assert!(notices(&ops).is_empty(), "{:?}", notices(&ops));

    ops.clock.advance(Duration::seconds(2));
    ops.engine.check_platforms().await;
    ops.engine.check_platforms().await;
    let told = notices(&ops);
    assert_eq!(told.len(), 1, "told once: {told:?}");
    assert!(
        told[0].starts_with("Refusenik has been unreachable since "),
        "{told:?}"
    );
    assert!(told[0].contains("when it is back"), "{told:?}");

    health.up(Platform::Web);
    ops.engine.check_platforms().await;
    let told = notices(&ops);
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[1].starts_with("Refusenik is back"), "{told:?}");

    // Silent (never said it was down) counts as away too, after the allowance and a minute.
    ops.clock.advance(Duration::seconds(91 + 60));
    ops.engine.check_platforms().await;
    assert_eq!(notices(&ops).len(), 3, "{:?}", notices(&ops));
    assert!(notices(&ops)[2].contains("has been unreachable"));
}
