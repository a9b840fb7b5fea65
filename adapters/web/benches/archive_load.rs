//! The archive at scale (issue 13): every index page (any filter, any page) and a search for a
//! common word, with 10,000 sessions and 5 million messages, on SQLite and on PostgreSQL, with
//! one reader and with 50 concurrent readers. Goal: p99 ≤ 50 ms.
//!
//! A plain `main` (no criterion).
//!
//! **The archive** is written once per backend through the store's own API (`create_session`,
//! `update_session`, `append_messages`, so FTS5's triggers and PostgreSQL's stored words are
//! kept as in production) and kept for later runs: SQLite in
//! `target/archive-load/SCALE/archive.db`, PostgreSQL in the database
//! `hashchat_archive_load_SCALE` beside `HASHCHAT_TEST_POSTGRES_URL`'s (created if missing).
//! 40 chats (36 public, 4 private) in five zones, each with 250 weekly sessions from 2021 on;
//! each session 500 messages from 200 people, 6–24 words each. The common word `library` is
//! in 40% of messages, `budget` in about 10%, `zeppelin` in 0.01%.
//!
//! **The server** is this executable again in its own process (`HASHCHAT_ARCHIVE_LOAD_SERVER`
//! set to the database URL): the archive's router as `hashchat serve` runs it
//! (`hashchat_web::serve`, `WebState::new` with the 40 chats), on 127.0.0.1:0, on tokio's
//! multi-threaded runtime. It lives here rather than under the workspace's `benches/` so that
//! `cargo bench -p hashchat-web` builds the web crate alone, not the Matrix SDK. Readers are
//! tasks in this process, each on its own keep-alive connection, each sending its next request
//! when the last is answered (closed loop): with 50 of them on a 2-core machine, the figures
//! include queueing behind the other 49 and the readers' own work.
//!
//! The requests, drawn at random (seeded) for each reader:
//! - `index`: `/?page=K`, K any page of all public sessions;
//! - `index chat`: `/?chat=C&page=K`, any public chat, any of its pages;
//! - `index dates`: `/?from=D&to=D+60 days` (any chat or one), page 1 or 2;
//! - `search common`: `/search?q=library` (40% of messages), the first page;
//! - `search older`: the same from a random point of the archive (`before=ID`), as if a reader
//!   had followed "Older" that far;
//! - `search two words`: `/search?q=library budget`;
//! - `search rare`: `/search?q=zeppelin` (0.01%).
//!
//! Baselines in the same run: `/healthz` (the HTTP round trip and a `SELECT 1`), and what the
//! previous version did (the index: `Store::list_sessions` and filtering in memory; search:
//! newest session first, in send order within one, which sorts every match), timed directly on
//! the store with one reader.
//!
//! Run: `cargo bench -p hashchat-web --bench archive_load` (the first run writes the archives:
//! minutes).
//! `HASHCHAT_ARCHIVE_LOAD_SHORT=1` (or `-- --short`): 200 sessions, 5 s a phase.
//! `HASHCHAT_ARCHIVE_LOAD_BACKENDS=sqlite` (or `postgres`) to run one.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_core::chat::{Chat, Point, Visibility};
use bot_core::ids::{Platform, RoomRef};
use bot_core::model::{
    ArchivedMessage, IncomingMessage, NewSession, SessionOrigin, SessionState, SessionUpdate,
};
use bot_core::store::{Backend, Store};
use chrono::{DateTime, TimeZone, Utc};
use sqlx::Row;

const CHATS: usize = 40;
const PRIVATE_EVERY: usize = 10;
const ZONES: [&str; 5] = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
];
const MESSAGES_PER_SESSION: usize = 500;
const AUTHORS: u64 = 200;
const READERS: usize = 50;
const PAGE: usize = 50;
/// How often each paced reader asks for a page.
const PACE: Duration = Duration::from_millis(250);

const COMMON: &str = "library";
const FILLER: &[&str] = &[
    "we",
    "tried",
    "this",
    "last",
    "year",
    "and",
    "it",
    "worked",
    "really",
    "well",
    "our",
    "patrons",
    "outreach",
    "catalogue",
    "events",
    "volunteers",
    "archive",
    "privacy",
    "community",
    "great",
    "point",
    "social",
    "media",
    "display",
    "teens",
    "reading",
    "club",
    "makerspace",
    "funding",
    "staff",
    "training",
    "survey",
    "board",
    "hours",
    "weekend",
    "digital",
    "loans",
    "ebooks",
    "podcast",
    "newsletter",
];

/// A small seeded generator (xorshift64*): the archive and the readers' choices are the same
/// on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_100k: u64) -> bool {
        self.below(100_000) < per_100k
    }
}

struct Scale {
    name: &'static str,
    sessions_per_chat: usize,
    seconds: u64,
    samples: usize,
}

fn slug(chat: usize) -> String {
    format!("chat{chat:02}")
}

fn is_public(chat: usize) -> bool {
    chat % PRIVATE_EVERY != PRIVATE_EVERY - 1
}

fn first_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 1, 4, 18, 0, 0).unwrap()
}

/// When session `n` of `chat` started: weekly from 2021, each chat at its own hour.
fn started(chat: usize, n: usize) -> DateTime<Utc> {
    first_start()
        + chrono::Duration::weeks(n as i64)
        + chrono::Duration::minutes((chat as i64 * 37) % (24 * 60))
}

/// The 40 chats, as the server is configured with them.
fn chats() -> Vec<Chat> {
    (0..CHATS)
        .map(|chat| Chat {
            slug: slug(chat),
            title: format!("Chat {chat}"),
            hashtag: format!("#{}", slug(chat)),
            description: "d".into(),
            intro: "hi".into(),
            wrap_up: "bye".into(),
            points: ["One?", "Two?"]
                .iter()
                .map(|text| Point {
                    text: (*text).into(),
                    minutes: None,
                })
                .collect(),
            minutes_between_points: 10,
            intro_minutes: 2,
            reminder_minutes: 0,
            zone: ZONES[chat % ZONES.len()].parse().unwrap(),
            schedule: None,
            rooms: vec![RoomRef::new(
                Platform::Loopback,
                format!("room-{}", slug(chat)),
            )],
            moderators: Vec::new(),
            visibility: if is_public(chat) {
                Visibility::Public
            } else {
                Visibility::Private
            },
            capture_hashtag: Default::default(),
            platform_options: Default::default(),
            source: PathBuf::from(format!("{}.toml", slug(chat))),
        })
        .collect()
}

fn body(rng: &mut Rng) -> String {
    let words = 6 + rng.below(19) as usize;
    let mut picked: Vec<&str> = (0..words)
        .map(|_| FILLER[rng.below(FILLER.len() as u64) as usize])
        .collect();
    if rng.chance(40_000) {
        let at = rng.below(picked.len() as u64) as usize;
        picked[at] = COMMON;
    }
    if rng.chance(10_000) {
        picked.push("budget");
    }
    if rng.chance(10) {
        picked.push("zeppelin");
    }
    picked.join(" ")
}

/// Writes the archive unless it is already whole (the sessions and messages it should hold).
async fn fill(store: &Store, scale: &Scale) {
    let sessions = (CHATS * scale.sessions_per_chat) as i64;
    let messages = sessions * MESSAGES_PER_SESSION as i64;
    let counts = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM sessions) AS s, (SELECT COUNT(*) FROM messages) AS m",
    )
    .fetch_one(store.raw_pool())
    .await
    .unwrap();
    let (have_s, have_m): (i64, i64) = (counts.get("s"), counts.get("m"));
    if (have_s, have_m) == (sessions, messages) {
        println!("  archive already written: {have_s} sessions, {have_m} messages");
        return;
    }
    assert_eq!(
        (have_s, have_m),
        (0, 0),
        "a partly written archive: delete it and run again"
    );
    let began = Instant::now();
    let mut rng = Rng(0x6861_7368_6368_6174);
    let mut next_id: u64 = 1;
    // Weeks in order, every chat's session of the week, so ids follow time as in a live archive.
    for n in 0..scale.sessions_per_chat {
        for chat in 0..CHATS {
            let start = started(chat, n);
            let slug = slug(chat);
            let room = format!("room-{slug}");
            let id = store
                .create_session(&NewSession {
                    chat_slug: slug.clone(),
                    origin: SessionOrigin::Recurrence,
                    state: SessionState::Scheduled,
                    scheduled_start: start,
                    next_step: 0,
                    next_due_at: Some(start),
                    rooms: vec![RoomRef::new(Platform::Loopback, room.clone())],
                    command: None,
                })
                .await
                .unwrap();
            store
                .update_session(
                    id,
                    &SessionUpdate {
                        state: SessionState::Ended,
                        next_step: 4,
                        next_due_at: None,
                        paused_remaining_ms: None,
                        current_point: Some(2),
                        started_at: Some(start),
                        ended_at: Some(start + chrono::Duration::hours(1)),
                        command: None,
                    },
                )
                .await
                .unwrap();
            let batch: Vec<ArchivedMessage> = (0..MESSAGES_PER_SESSION)
                .map(|i| {
                    let author = rng.below(AUTHORS);
                    let msg_id = next_id;
                    next_id += 1;
                    ArchivedMessage {
                        session_id: id,
                        point: Some(if i < MESSAGES_PER_SESSION / 2 { 1 } else { 2 }),
                        message: IncomingMessage {
                            platform: Platform::Loopback,
                            room: room.clone(),
                            platform_msg_id: format!("m{msg_id}"),
                            author_id: format!("p{author}"),
                            author_name: format!("Participant {author}"),
                            avatar_url: None,
                            body: body(&mut rng),
                            formatted_body: None,
                            sent_at: start + chrono::Duration::milliseconds(i as i64 * 7_000),
                            reply_to: None,
                            attachments: Vec::new(),
                            platform_label: None,
                            permalink: None,
                        },
                    }
                })
                .collect();
            store.append_messages(&batch).await.unwrap();
        }
        if n % 25 == 24 {
            println!(
                "  … week {}/{}: {} messages in {:.0} s",
                n + 1,
                scale.sessions_per_chat,
                next_id - 1,
                began.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "  wrote {sessions} sessions, {messages} messages in {:.0} s",
        began.elapsed().as_secs_f64()
    );
}

const SERVER_ENV: &str = "HASHCHAT_ARCHIVE_LOAD_SERVER";

/// The server's process: the archive on 127.0.0.1:0 over `url`; prints its port.
fn server_main(url: String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = Store::connect(&url).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("port {}", listener.local_addr().unwrap().port());
        hashchat_web::serve(
            listener,
            hashchat_web::WebState::new(store, chats()),
            std::future::pending(),
        )
        .await
        .unwrap();
    });
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(url: &str) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(SERVER_ENV, url)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port ")
            .unwrap_or_else(|| panic!("the server said {line:?}, not its port"));
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server did not answer /healthz within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Server { child, base }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Health,
    Index,
    IndexChat,
    IndexDates,
    SearchCommon,
    SearchOlder,
    SearchTwoWords,
    SearchRare,
}

impl Kind {
    /// The baseline first, then every read.
    const ALL: [Kind; 8] = [
        Kind::Health,
        Kind::Index,
        Kind::IndexChat,
        Kind::IndexDates,
        Kind::SearchCommon,
        Kind::SearchOlder,
        Kind::SearchTwoWords,
        Kind::SearchRare,
    ];

    fn label(self) -> &'static str {
        match self {
            Kind::Health => "/healthz (baseline)",
            Kind::Index => "index, any page",
            Kind::IndexChat => "index of one chat, any page",
            Kind::IndexDates => "index, 60 days, page 1–2",
            Kind::SearchCommon => "search \"library\" (40%)",
            Kind::SearchOlder => "search \"library\", older page",
            Kind::SearchTwoWords => "search \"library budget\"",
            Kind::SearchRare => "search \"zeppelin\" (0.01%)",
        }
    }
}

/// A request of `kind`, its parameters drawn from `rng`.
fn path(kind: Kind, rng: &mut Rng, scale: &Scale, messages: u64) -> String {
    let public: Vec<usize> = (0..CHATS).filter(|c| is_public(*c)).collect();
    let all_pages = (public.len() * scale.sessions_per_chat).div_ceil(PAGE) as u64;
    let chat_pages = scale.sessions_per_chat.div_ceil(PAGE) as u64;
    let chat = public[rng.below(public.len() as u64) as usize];
    match kind {
        Kind::Health => "/healthz".into(),
        Kind::Index => format!("/?page={}", 1 + rng.below(all_pages)),
        Kind::IndexChat => format!("/?chat={}&page={}", slug(chat), 1 + rng.below(chat_pages)),
        Kind::IndexDates => {
            let from = started(0, rng.below(scale.sessions_per_chat as u64) as usize).date_naive();
            let to = from + chrono::Duration::days(60);
            let chat = if rng.chance(50_000) {
                format!("&chat={}", slug(chat))
            } else {
                String::new()
            };
            format!("/?from={from}&to={to}{chat}&page={}", 1 + rng.below(2))
        }
        Kind::SearchCommon => format!("/search?q={COMMON}"),
        Kind::SearchOlder => format!("/search?q={COMMON}&before={}", 1 + rng.below(messages)),
        Kind::SearchTwoWords => format!("/search?q={COMMON}+budget"),
        Kind::SearchRare => "/search?q=zeppelin".into(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn report(title: &str, samples: &mut BTreeMap<Kind, Vec<Duration>>, wall: Option<Duration>) {
    println!("  {title}");
    println!(
        "    {:<32} {:>7} {:>9} {:>9} {:>9}",
        "request", "n", "p50 ms", "p99 ms", "max ms"
    );
    let mut total = 0;
    for (kind, list) in samples.iter_mut() {
        list.sort();
        total += list.len();
        println!(
            "    {:<32} {:>7} {:>9.2} {:>9.2} {:>9.2}",
            kind.label(),
            list.len(),
            percentile(list, 50.0),
            percentile(list, 99.0),
            percentile(list, 100.0)
        );
    }
    if let Some(wall) = wall {
        println!(
            "    {total} requests in {:.1} s: {:.0} requests/s",
            wall.as_secs_f64(),
            total as f64 / wall.as_secs_f64()
        );
    }
}

/// One request; panics unless it is a 200 with a page that looks whole.
async fn get(client: &reqwest::Client, base: &str, path: &str) -> Duration {
    let began = Instant::now();
    let r = client.get(format!("{base}{path}")).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    let took = began.elapsed();
    assert!(status.is_success(), "{path}: {status}: {text}");
    if path.starts_with("/search") {
        assert!(
            text.contains("article class=\"hit\"") || text.contains("No messages match"),
            "{path}: no results section"
        );
    } else if path.starts_with("/?") {
        assert!(text.contains("<table>"), "{path}: no sessions listed");
    }
    took
}

async fn one_reader(base: &str, scale: &Scale, messages: u64) -> BTreeMap<Kind, Vec<Duration>> {
    let client = reqwest::Client::new();
    let mut rng = Rng(7);
    let mut samples: BTreeMap<Kind, Vec<Duration>> = BTreeMap::new();
    for _ in 0..5 {
        get(&client, base, "/healthz").await; // warm-up
    }
    for kind in Kind::ALL {
        for _ in 0..scale.samples {
            let p = path(kind, &mut rng, scale, messages);
            samples
                .entry(kind)
                .or_default()
                .push(get(&client, base, &p).await);
        }
    }
    samples
}

/// `READERS` readers for the phase's seconds. Without `pace`, each sends its next request as
/// soon as the last is answered. With it, each sends one every `pace` (the readers spread
/// evenly over it), and a request's time runs from when it was due, so a server that falls
/// behind is charged for the wait too.
async fn many_readers(
    base: &str,
    scale: &Scale,
    messages: u64,
    kinds: &'static [Kind],
    pace: Option<Duration>,
) -> (BTreeMap<Kind, Vec<Duration>>, Duration) {
    let base: Arc<str> = base.into();
    let until = Instant::now() + Duration::from_secs(scale.seconds);
    let began = Instant::now();
    let mut tasks = Vec::new();
    for reader in 0..READERS {
        let base = base.clone();
        let scale_seconds = scale.seconds;
        let sessions_per_chat = scale.sessions_per_chat;
        tasks.push(tokio::spawn(async move {
            let scale = Scale {
                name: "",
                sessions_per_chat,
                seconds: scale_seconds,
                samples: 0,
            };
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut rng = Rng(1000 + reader as u64);
            let mut samples: Vec<(Kind, Duration)> = Vec::new();
            let mut due =
                began + pace.map_or(Duration::ZERO, |p| p * reader as u32 / READERS as u32);
            while due < until {
                let kind = kinds[rng.below(kinds.len() as u64) as usize];
                let p = path(kind, &mut rng, &scale, messages);
                match pace {
                    Some(pace) => {
                        tokio::time::sleep_until(due.into()).await;
                        get(&client, &base, &p).await;
                        samples.push((kind, due.elapsed()));
                        due += pace;
                    }
                    None => {
                        samples.push((kind, get(&client, &base, &p).await));
                        due = Instant::now();
                    }
                }
            }
            samples
        }));
    }
    let mut samples: BTreeMap<Kind, Vec<Duration>> = BTreeMap::new();
    for t in tasks {
        for (kind, took) in t.await.unwrap() {
            samples.entry(kind).or_default().push(took);
        }
    }
    (samples, began.elapsed())
}

/// What the previous version did, timed on the store directly: the whole list filtered in
/// memory for one page, and search ordered by session then send order (every match sorted).
async fn previous_version(store: &Store, scale: &Scale) {
    let public: Vec<String> = (0..CHATS).filter(|c| is_public(*c)).map(slug).collect();
    let mut index = Vec::new();
    let mut search = Vec::new();
    let rounds = 5.min(scale.samples);
    for _ in 0..rounds {
        let began = Instant::now();
        let all = store.list_sessions().await.unwrap();
        let mut rows: Vec<_> = all
            .into_iter()
            .filter(|s| s.session.started_at.is_some() && public.contains(&s.session.chat_slug))
            .collect();
        rows.sort_by_key(|s| std::cmp::Reverse(s.session.started_at));
        let _page: Vec<_> = rows.into_iter().take(PAGE).collect();
        index.push(began.elapsed());

        let (from, matches) = match store.backend() {
            Backend::Sqlite => (
                "messages_fts f JOIN messages m ON m.id = f.rowid",
                "messages_fts MATCH 'library'",
            ),
            Backend::Postgres => (
                "messages m",
                "m.body_words @@ plainto_tsquery('simple', 'library')",
            ),
        };
        let sql = format!(
            "SELECT m.id FROM {from} JOIN sessions s ON s.id = m.session_id \
             WHERE {matches} AND m.deleted_at IS NULL AND s.started_at IS NOT NULL \
             ORDER BY s.started_at DESC, s.id DESC, m.sent_at, m.id LIMIT 200"
        );
        let began = Instant::now();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(store.raw_pool())
            .await
            .unwrap();
        search.push(began.elapsed());
    }
    index.sort();
    search.sort();
    println!(
        "  previous version, on the store, median of {rounds}: index page {:.1} ms \
         (every session read and filtered), search \"library\" {:.1} ms (every match sorted)",
        percentile(&index, 50.0),
        percentile(&search, 50.0)
    );
}

async fn run_backend(backend: &str, root: &std::path::Path, scale: &Scale) {
    let url = match backend {
        "sqlite" => {
            std::fs::create_dir_all(root).unwrap();
            format!("sqlite://{}/archive.db", root.display())
        }
        _ => postgres_url(scale).await,
    };
    println!("\n## {backend}");
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    fill(&store, scale).await;
    // What PostgreSQL's autovacuum does by itself soon after a bulk load (its statistics, and
    // the visibility map that lets index-only scans skip the table), done here because the
    // test server on these machines runs with `autovacuum = off`. Quick once done. SQLite is
    // left as the store leaves it.
    if store.backend() == Backend::Postgres {
        sqlx::query("VACUUM ANALYZE")
            .execute(store.raw_pool())
            .await
            .unwrap();
    }
    let messages: i64 = sqlx::query("SELECT MAX(id) AS n FROM messages")
        .fetch_one(store.raw_pool())
        .await
        .unwrap()
        .get("n");

    let server = Server::start(&url).await;
    let mut one = one_reader(&server.base, scale, messages as u64).await;
    report(
        &format!("one reader, {} requests of each kind", scale.samples),
        &mut one,
        None,
    );
    for pace in [Some(PACE), None] {
        let (mut many, wall) =
            many_readers(&server.base, scale, messages as u64, &Kind::ALL, pace).await;
        let how = match pace {
            Some(p) => format!(
                "each a request every {} ms ({:.0} requests/s offered)",
                p.as_millis(),
                READERS as f64 / p.as_secs_f64()
            ),
            None => "closed loop (each asks again once answered)".to_owned(),
        };
        report(
            &format!(
                "{READERS} readers at once, {how}, {} s, kinds mixed evenly",
                scale.seconds
            ),
            &mut many,
            Some(wall),
        );
    }
    server.stop();
    previous_version(&store, scale).await;
    store.close().await;
}

/// The bench's own PostgreSQL database beside the test one, created if missing.
async fn postgres_url(scale: &Scale) -> String {
    let test = std::env::var("HASHCHAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("hashchat_archive_load_{}", scale.name);
    let admin = Store::connect(&test).await.unwrap();
    let exists = sqlx::query("SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(admin.raw_pool())
        .await
        .unwrap()
        .get::<i64, _>("n")
        > 0;
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin.raw_pool())
            .await
            .unwrap();
    }
    admin.close().await;
    match test.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("HASHCHAT_TEST_POSTGRES_URL has no database name: {test}"),
    }
}

fn main() {
    if let Ok(url) = std::env::var(SERVER_ENV) {
        return server_main(url);
    }
    let short = std::env::var("HASHCHAT_ARCHIVE_LOAD_SHORT")
        .is_ok_and(|v| !v.is_empty() && v != "0")
        || std::env::args().any(|a| a == "--short");
    let scale = if short {
        Scale {
            name: "short",
            sessions_per_chat: 5,
            seconds: 5,
            samples: 20,
        }
    } else {
        Scale {
            name: "full",
            sessions_per_chat: 250,
            seconds: 30,
            samples: 200,
        }
    };
    let backends = std::env::var("HASHCHAT_ARCHIVE_LOAD_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres".into());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/archive-load")
        .join(scale.name);
    println!(
        "# archive_load: {} sessions of {MESSAGES_PER_SESSION} messages in {CHATS} chats, \
         {READERS} readers; {}",
        CHATS * scale.sessions_per_chat,
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        assert!(
            backend == "sqlite" || backend == "postgres",
            "HASHCHAT_ARCHIVE_LOAD_BACKENDS: sqlite and/or postgres, not {backend}"
        );
        runtime.block_on(run_backend(backend, &root, &scale));
    }
}
