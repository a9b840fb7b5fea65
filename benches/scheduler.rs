//! Scheduler load: 10,000 scheduled chats in one process, on a temp-file SQLite store.
//!
//! A plain `main` (no criterion) that prints three sets of figures:
//!
//! 1. **Start-up.** `Engine::load()` over 10,000 weekly chats on a fresh database (which
//!    materialises 10,000 sessions) and again on a second engine over the same, populated
//!    database (a restart). Baselines in the same run: `Store::create_session` × 10,000 alone
//!    (the writes a fresh load cannot avoid) and `Store::active_sessions()` alone (the read a
//!    restart cannot avoid). Medians of several runs, each on its own database.
//! 2. **Memory.** Resident memory (`VmRSS`, `VmHWM`) before building the chats, after, and after
//!    a fresh load.
//! 3. **Lateness.** The real `Engine::run` loop on the system clock with a loopback adapter:
//!    of 10,000 loaded chats, 2,000 start spread over ~40 s and 120 more all at one instant
//!    (a top-of-the-hour burst); the rest are hours away. Lateness of each intro = emission time
//!    (the outbox row's `created_at`) minus its due time, and = arrival on the loopback
//!    platform's broadcast minus its due time (which includes delivery). Goal: p99 ≤ 50 ms.
//!
//! Run: `cargo bench --bench scheduler` (about two minutes).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_core::chat::{Chat, Point, Repeat, Schedule};
use bot_core::clock::SystemClock;
use bot_core::engine::{Engine, EngineSettings};
use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::loopback::{LoopbackAdapter, LoopbackEvent};
use bot_core::model::{NewSession, SessionOrigin, SessionState};
use bot_core::store::Store;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

const CHATS: usize = 10_000;
const LOAD_RUNS: usize = 5;
/// Chats whose intro falls due spread over the lateness window.
const SPREAD: usize = 2_000;
const WINDOW: Duration = Duration::from_secs(40);
/// Chats whose intro falls due at one and the same instant, just after the window.
const BURST: usize = 120;
const BURST_AFTER_WINDOW: Duration = Duration::from_secs(3);

/// A chat as a config file would give it: six points, one loopback room.
fn chat(i: usize, first: DateTime<Utc>, reminder_minutes: u32) -> Chat {
    Chat {
        slug: format!("chat-{i:05}"),
        title: format!("Community chat number {i}"),
        hashtag: format!("#chat{i}"),
        description: "A weekly themed chat for a community of practice.".to_owned(),
        intro: format!("Welcome to chat {i}! Tag your answers A1, A2, …"),
        wrap_up: "Thanks, everyone. The transcript will be up shortly.".to_owned(),
        points: (1..=6)
            .map(|n| Point {
                text: format!("Q{n}: What has worked for you with topic {n}?"),
                minutes: None,
            })
            .collect(),
        minutes_between_points: 10,
        intro_minutes: 2,
        reminder_minutes,
        zone: chrono_tz::UTC,
        schedule: Some(Schedule {
            first: first.naive_utc(),
            repeat: Some(Repeat::Weeks(1)),
            until: None,
        }),
        rooms: vec![RoomRef::new(Platform::Loopback, format!("room-{i}"))],
        moderators: vec![UserRef::new(Platform::Loopback, format!("mod-{i}"))],
        visibility: Default::default(),
        capture_hashtag: Default::default(),
        platform_options: Default::default(),
        source: PathBuf::from(format!("chats/chat-{i:05}.toml")),
    }
}

/// 10,000 weekly chats with start times spread evenly over a week, reminder an hour ahead.
fn week_of_chats() -> Vec<Chat> {
    let monday = NaiveDate::from_ymd_opt(2026, 1, 5)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .expect("valid date");
    let step_ms = 7 * 24 * 3600 * 1000 / CHATS as i64;
    (0..CHATS)
        .map(|i| {
            let first = monday + chrono::Duration::milliseconds(step_ms * i as i64);
            chat(i, first, 60)
        })
        .collect()
}

/// (VmRSS, VmHWM) in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(label: &str, mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        println!("  {label}: no samples");
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let p99 = percentile(&xs, 99.0);
    println!(
        "  {label}: n={} median={:.2} p90={:.2} p99={:.2} max={:.2} min={:.2} (ms)",
        xs.len(),
        percentile(&xs, 50.0),
        percentile(&xs, 90.0),
        p99,
        xs[xs.len() - 1],
        xs[0],
    );
    Some(p99)
}

async fn open(path: &Path) -> Store {
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open store");
    store.migrate().await.expect("migrate");
    store
}

fn engine(store: Store, chats: Vec<Chat>) -> Engine {
    Engine::new(
        store,
        Arc::new(SystemClock),
        chats,
        EngineSettings::default(),
    )
}

async fn startup(dir: &Path, chats: &[Chat]) -> Duration {
    let mut fresh = Vec::new();
    let mut warm = Vec::new();
    let mut raw_create = Vec::new();
    let mut raw_select = Vec::new();
    for run in 0..LOAD_RUNS {
        let db = dir.join(format!("load-{run}.db"));

        // Fresh: every chat's next occurrence is written.
        let store = open(&db).await;
        let e = engine(store.clone(), chats.to_vec());
        let t = Instant::now();
        let loaded = e.load().await.expect("fresh load");
        fresh.push(t.elapsed());
        assert_eq!(loaded, 0);
        assert_eq!(e.due_count(), CHATS);
        let sessions = store.active_sessions().await.expect("sessions");
        drop(e);
        store.close().await;

        // Baseline for the fresh load: the same 10,000 sessions through the store alone.
        let raw_db = dir.join(format!("raw-{run}.db"));
        let raw = open(&raw_db).await;
        let t = Instant::now();
        for s in &sessions {
            raw.create_session(&NewSession {
                chat_slug: s.chat_slug.clone(),
                origin: SessionOrigin::Recurrence,
                state: SessionState::Scheduled,
                scheduled_start: s.scheduled_start,
                next_step: s.next_step,
                next_due_at: s.next_due_at,
                rooms: s.rooms.clone(),
                command: None,
            })
            .await
            .expect("create");
        }
        raw_create.push(t.elapsed());
        raw.close().await;
        let _ = std::fs::remove_file(&raw_db);

        // Baseline for a restart: reading every active session, on a new pool.
        let store = open(&db).await;
        let t = Instant::now();
        let read = store.active_sessions().await.expect("select");
        raw_select.push(t.elapsed());
        assert_eq!(read.len(), CHATS);
        store.close().await;

        // Restart: a second engine over the populated database, on a new pool.
        let store = open(&db).await;
        let e = engine(store.clone(), chats.to_vec());
        let t = Instant::now();
        let loaded = e.load().await.expect("warm load");
        warm.push(t.elapsed());
        assert_eq!(loaded, CHATS);
        assert_eq!(e.due_count(), CHATS);
        drop(e);
        store.close().await;
    }
    let (fresh, warm) = (median(fresh), median(warm));
    let (raw_create, raw_select) = (median(raw_create), median(raw_select));
    println!("start-up, {CHATS} weekly chats, median of {LOAD_RUNS} runs (each its own database):");
    println!(
        "  fresh Engine::load (materialises {CHATS} sessions): {:.0} ms  ({:.1} µs/chat)",
        ms(fresh),
        fresh.as_secs_f64() * 1e6 / CHATS as f64
    );
    println!(
        "    baseline Store::create_session x {CHATS}:         {:.0} ms  -> load/baseline = {:.2}x",
        ms(raw_create),
        fresh.as_secs_f64() / raw_create.as_secs_f64()
    );
    println!(
        "  restart Engine::load (populated database):        {:.1} ms  ({:.1} µs/chat)",
        ms(warm),
        warm.as_secs_f64() * 1e6 / CHATS as f64
    );
    println!(
        "    baseline Store::active_sessions():              {:.1} ms  -> load/baseline = {:.2}x",
        ms(raw_select),
        warm.as_secs_f64() / raw_select.as_secs_f64()
    );
    fresh
}

async fn memory_use(dir: &Path) {
    let (rss0, _) = memory();
    let chats = week_of_chats();
    let (rss1, _) = memory();
    let store = open(&dir.join("memory.db")).await;
    let (rss2, _) = memory();
    let e = engine(store.clone(), chats);
    e.load().await.expect("load");
    let (rss3, hwm) = memory();
    println!("memory (resident, /proc/self/status):");
    println!("  before building chats:  {:.1} MiB", mib(rss0));
    println!(
        "  after {CHATS} Chat values: {:.1} MiB  (+{:.1} MiB, {} B/chat)",
        mib(rss1),
        mib(rss1.saturating_sub(rss0)),
        rss1.saturating_sub(rss0) / CHATS as u64
    );
    println!(
        "  store opened + migrated: {:.1} MiB  (+{:.1} MiB)",
        mib(rss2),
        mib(rss2.saturating_sub(rss1))
    );
    println!(
        "  after fresh load:        {:.1} MiB  (+{:.1} MiB, {} B/chat for engine + sessions + SQLite cache)",
        mib(rss3),
        mib(rss3.saturating_sub(rss2)),
        rss3.saturating_sub(rss2) / CHATS as u64
    );
    println!(
        "  chats + load together:   +{:.1} MiB, {} B/chat;  VmHWM {:.1} MiB",
        mib(rss3.saturating_sub(rss0)),
        rss3.saturating_sub(rss0) / CHATS as u64,
        mib(hwm)
    );
    drop(e);
    store.close().await;
}

async fn lateness(dir: &Path, fresh_load: Duration) -> (Option<f64>, Option<f64>) {
    // Leave time for the engine's own fresh load before the first intro falls due.
    let lead = fresh_load.mul_f64(1.5) + Duration::from_secs(4);
    let now = Utc::now();
    let t0 = now + chrono::Duration::from_std(lead).expect("lead");
    let window_ms = WINDOW.as_millis() as i64;
    let burst_at = t0 + chrono::Duration::from_std(WINDOW + BURST_AFTER_WINDOW).expect("burst");
    // The store keeps milliseconds.
    let burst_at = DateTime::from_timestamp_millis(burst_at.timestamp_millis()).expect("ms");
    // Later chats start at least two hours from now, spread over the rest of the week.
    let later_from = now + chrono::Duration::hours(2);
    let later_span_ms = (7 * 24 - 3) * 3600 * 1000;
    let later = CHATS - SPREAD - BURST;

    let mut due: HashMap<String, DateTime<Utc>> = HashMap::new();
    let chats: Vec<Chat> = (0..CHATS)
        .map(|i| {
            let (start, reminder) = if i < SPREAD {
                let off = window_ms * i as i64 / SPREAD as i64;
                (t0 + chrono::Duration::milliseconds(off), 0)
            } else if i < SPREAD + BURST {
                (burst_at, 0)
            } else {
                let j = (i - SPREAD - BURST) as i64;
                let off = later_span_ms * j / later as i64;
                (later_from + chrono::Duration::milliseconds(off), 60)
            };
            // The store keeps milliseconds.
            let start = DateTime::from_timestamp_millis(start.timestamp_millis()).expect("ms");
            if reminder == 0 {
                due.insert(format!("room-{i}"), start);
            }
            chat(i, start, reminder)
        })
        .collect();

    let store = open(&dir.join("lateness.db")).await;
    let e = engine(store.clone(), chats);
    let loopback = LoopbackAdapter::new();
    e.register_adapter(loopback.clone());

    // Arrival of each post on the loopback platform.
    let mut events = loopback.subscribe();
    let expected = SPREAD + BURST;
    let receiver = tokio::spawn(async move {
        let mut arrivals: Vec<(String, DateTime<Utc>)> = Vec::with_capacity(expected);
        let mut lagged = 0;
        while arrivals.len() < expected {
            match events.recv().await {
                Ok(LoopbackEvent::Post { room, .. }) => arrivals.push((room, Utc::now())),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => lagged += n,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
        (arrivals, lagged)
    });

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = e.clone();
    let started = Instant::now();
    let run = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    // Wait for the load to finish, then for the window and the burst to pass.
    while e.due_count() < CHATS && started.elapsed() < lead {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let loaded_after = started.elapsed();
    let to_t0 = (t0 - Utc::now()).num_milliseconds();
    println!(
        "lateness: engine loaded {} chats in {:.0} ms; first intro due {} ms later",
        e.due_count(),
        ms(loaded_after),
        to_t0
    );
    if to_t0 < 500 {
        println!("  WARNING: the load ran into the window; early intros may be missing");
    }
    let receiver = tokio::time::timeout(
        lead + WINDOW + BURST_AFTER_WINDOW + Duration::from_secs(30),
        receiver,
    )
    .await;
    let _ = stop.send(());
    run.await.expect("join").expect("engine run");

    let (arrivals, lagged) = match receiver {
        Ok(joined) => joined.expect("receiver"),
        Err(_) => {
            println!("  WARNING: not every expected post arrived in time");
            (Vec::new(), 0)
        }
    };
    if lagged > 0 {
        println!("  WARNING: the broadcast receiver lagged by {lagged} posts");
    }

    // Emission times from the outbox.
    let mut emitted_spread = Vec::new();
    let mut emitted_burst = Vec::new();
    let sessions = store.active_sessions().await.expect("sessions");
    let mut steps = 0;
    for s in sessions.iter().filter(|s| s.state == SessionState::Running) {
        let room = s.rooms[0].id.clone();
        let Some(&due_at) = due.get(&room) else {
            continue;
        };
        for post in store.posts_for_session(s.id).await.expect("posts") {
            if post.step != 1 {
                continue;
            }
            steps += 1;
            let late = (post.created_at - due_at).num_microseconds().unwrap_or(0) as f64 / 1e3;
            if due_at == burst_at {
                emitted_burst.push(late);
            } else {
                emitted_spread.push(late);
            }
        }
    }
    let mut arrived_spread = Vec::new();
    let mut arrived_burst = Vec::new();
    for (room, at) in &arrivals {
        let Some(&due_at) = due.get(room) else {
            continue;
        };
        let late = (*at - due_at).num_microseconds().unwrap_or(0) as f64 / 1e3;
        if due_at == burst_at {
            arrived_burst.push(late);
        } else {
            arrived_spread.push(late);
        }
    }
    println!(
        "lateness of due intros under Engine::run on the system clock ({CHATS} chats loaded; \
         {SPREAD} due spread over {} s, {BURST} due at one instant; {steps} steps emitted):",
        WINDOW.as_secs()
    );
    println!(" emitted (outbox created_at, ms precision) - due:");
    let p99 = summary(&format!("spread ({SPREAD})"), emitted_spread);
    summary(&format!("burst  ({BURST})"), emitted_burst);
    println!(" arrived on the loopback platform (includes delivery) - due:");
    let p99_arrived = summary(&format!("spread ({SPREAD})"), arrived_spread);
    summary(&format!("burst  ({BURST})"), arrived_burst);
    store.close().await;
    (p99, p99_arrived)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let began = Instant::now();
    rt.block_on(async {
        // Memory first, while the heap is still small.
        memory_use(dir.path()).await;
        let chats = week_of_chats();
        let fresh = startup(dir.path(), &chats).await;
        drop(chats);
        let (p99, p99_arrived) = lateness(dir.path(), fresh).await;
        let verdict = |p: Option<f64>| match p {
            Some(p) if p <= 50.0 => format!("met ({p:.1} ms)"),
            Some(p) => format!("NOT met ({p:.1} ms)"),
            None => "not measured".to_owned(),
        };
        println!(
            "goal p99 <= 50 ms (spread): emitted {}, arrived {}",
            verdict(p99),
            verdict(p99_arrived)
        );
    });
    println!("total {:.0} s", began.elapsed().as_secs_f64());
}
