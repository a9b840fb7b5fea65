//! The browser room under load (issue 12): how many live pages one server process holds in one
//! session with a message reaching all of them within p99 ≤ 250 ms, what each costs the server
//! in memory, and whether 100 posts/s from browser participants are all archived.
//!
//! A plain `main` (no criterion). No browser: each "page" is a raw HTTP/1.1 `GET
//! /r/lobby/events?after=N` on its own TCP connection, reading the server-sent events (chunked
//! transfer decoded, `id:` lines read) and stamping each with the time it arrived.
//!
//! **The server is a child process**: this executable again, with `HASHCHAT_ROOM_LOAD_SERVER`
//! set to a scratch directory. It runs the real engine on a SQLite store there, the browser
//! room's adapter registered with it, `hashchat_web::serve` on 127.0.0.1:0, one chat whose
//! room is `web:lobby` with a session started in it (a moderator's `start`, handed to the
//! engine), and the room's limits raised (every client here comes from 127.0.0.1, and one
//! participant posts faster than a person). It prints its port and session, then answers
//! `check PREFIX` on stdin (what the room's log and the archive hold of the posts whose body
//! starts with PREFIX). The pages live in this process, so the server's memory is read from
//! `/proc/CHILD/smaps_rollup` alone: none of the clients' memory is in it. A fresh server is
//! started for every step, so memory freed by one step's pages does not hide the next's.
//!
//! 1. **Fan-out**, for each N of `HASHCHAT_ROOM_LOAD_STEPS` (default 250, 500, 1000, 2000,
//!    4000, 8000, 12000, 16000, 20000, 24000; short mode 100; the ramp ends before an N that
//!    does not fit under the open files limit, raised with `prlimit` first, or in the local
//!    port range of the one client address): N pages follow the room; a joined participant
//!    posts `ROUNDS` messages through `/r/lobby/say` (as the room's script does,
//!    `x-hashchat-room: 1`), one at a time, each once every page has it (or after 10 s), `GAP`
//!    apart. Latency of a delivery is
//!    from just before the post is sent to the moment its event arrives on that page; p50, p99
//!    and max over every (message, page). Memory per page: the server's RSS (and anonymous
//!    memory) with N pages connected and after the messages, less the RSS before they
//!    connected (after a warm-up message and one page), over N. The ramp stops after the
//!    first step whose p99 is above 250 ms, or that missed a delivery or a connection.
//! 2. **Posting**, for each number of following pages in `HASHCHAT_ROOM_LOAD_FOLLOWERS`
//!    (default 0 and 1000; short mode 0 and 100): 50 participants, each joined with its own
//!    cookie, post together at 100 posts/s in all (post k at start + k × 10 ms, not waiting
//!    for earlier answers) for `HASHCHAT_ROOM_LOAD_SECONDS` (default 30; short mode 5). Then
//!    the server's store is read (`Store::local_events_of_session` for the room's log,
//!    `Store::session_messages` for the archive): every acknowledged post must be in each
//!    exactly once. Reported: the rate achieved, lost and duplicated posts, the posts' answer
//!    time p50/p99, and with pages following, how many deliveries they missed and the
//!    delivery latency under this load.
//!
//! Clients and server share the machine's cores: on a 2-core machine the pages' own reading
//! is part of every figure.
//!
//! Run: `cargo bench --bench room_load`; short mode (about 100 pages, 5 s of posting):
//! `HASHCHAT_ROOM_LOAD_SHORT=1 cargo bench --bench room_load` or `cargo bench --bench
//! room_load -- --short`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_core::adapter::{CommandInvocation, Inbound};
use bot_core::chat::{Chat, Point, Visibility};
use bot_core::clock::SystemClock;
use bot_core::engine::{Engine, EngineSettings};
use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::store::Store;
use hashchat_web::room::limits::Rate;
use hashchat_web::room::{Limits, ModeratorSecret, RoomHub};
use hashchat_web::WebState;
use serde_json::{json, Value};
use support::{cpu_time, load_average, ms, Memory};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch, Semaphore};

/// Set in the child: the scratch directory it serves from.
const SERVER_ENV: &str = "HASHCHAT_ROOM_LOAD_SERVER";
const SHORT_ENV: &str = "HASHCHAT_ROOM_LOAD_SHORT";
const ROOM: &str = "lobby";
const SLUG: &str = "loadchat";

/// Messages per fan-out step, and the pause after each has reached every page.
const ROUNDS: usize = 20;
const GAP: Duration = Duration::from_millis(250);
/// The goal for a message to reach every page.
const GOAL_P99_MS: f64 = 250.0;
/// The goal for server memory per page.
const GOAL_KIB_PER_PAGE: f64 = 32.0;
/// Pages connecting at once.
const CONNECTING: usize = 64;
/// How long a round waits for every page to have its message.
const ROUND_WAIT: Duration = Duration::from_secs(10);

fn main() {
    if let Ok(dir) = std::env::var(SERVER_ENV) {
        server_main(PathBuf::from(dir));
        return;
    }
    let short = std::env::var(SHORT_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
        || std::env::args().any(|a| a == "--short");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(harness(short));
}

// ---------------------------------------------------------------------------------------------
// The server (child process).
// ---------------------------------------------------------------------------------------------

fn chat() -> Chat {
    let mut platform_options = BTreeMap::new();
    platform_options.insert(
        Platform::Web,
        json!({ "passphrase": null, "show_points": false }),
    );
    Chat {
        slug: SLUG.into(),
        title: "Room under load".into(),
        hashtag: "#loadchat".into(),
        description: "The browser room's load harness".into(),
        intro: "Welcome!".into(),
        wrap_up: "Thanks".into(),
        points: vec![Point {
            text: "Point 1?".into(),
            minutes: None,
        }],
        // The session stays on its intro for the whole run.
        minutes_between_points: 240,
        intro_minutes: 240,
        reminder_minutes: 0,
        zone: chrono_tz::Europe::London,
        schedule: None,
        rooms: vec![RoomRef::new(Platform::Web, ROOM)],
        moderators: vec![],
        visibility: Visibility::Public,
        capture_hashtag: Default::default(),
        platform_options,
        source: PathBuf::from(format!("{SLUG}.toml")),
    }
}

/// The room's limits with the rates and the streams per address raised out of the way: every
/// page and participant here comes from 127.0.0.1, and the harness's participants post faster
/// than people do.
fn limits() -> Limits {
    let open = Rate {
        burst: 1_000_000,
        per_second: 1_000_000.0,
    };
    Limits {
        per_participant: open,
        per_address: open,
        max_streams_per_address: usize::MAX,
        ..Limits::default()
    }
}

fn server_main(dir: PathBuf) {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("HASHCHAT_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        ))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(serve(dir));
}

async fn serve(dir: PathBuf) {
    let store = Store::connect(&format!("sqlite://{}/room.db", dir.display()))
        .await
        .expect("the store opens");
    store.migrate().await.expect("the store migrates");
    let chats = vec![chat()];
    let engine = Engine::new(
        store.clone(),
        Arc::new(SystemClock),
        chats.clone(),
        EngineSettings::default(),
    );
    let hub = RoomHub::new(
        engine.clone(),
        limits(),
        ModeratorSecret::Configured("room-load-moderators-0123".into()),
        false,
    );
    engine.register_adapter(hub.adapter());
    engine.load().await.expect("the engine loads");
    let mut state = WebState::new(store.clone(), chats);
    state.room = Some(hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(hashchat_web::serve(listener, state, std::future::pending()));
    let running = engine.clone();
    tokio::spawn(async move { running.run(std::future::pending()).await });

    let room = RoomRef::new(Platform::Web, ROOM);
    engine
        .handle(Inbound::Command(CommandInvocation {
            room: room.clone(),
            user: UserRef::new(Platform::Web, "w-moderator"),
            display_name: "Mo".into(),
            platform_moderator: true,
            text: format!("start {SLUG}"),
            platform_msg_id: Some(format!("{ROOM}.cmd-start")),
            reply_to: None,
        }))
        .await
        .expect("the start is handled");
    let deadline = Instant::now() + Duration::from_secs(30);
    let session = loop {
        if let Some(id) = engine.live_session_in(&room) {
            break id;
        }
        assert!(Instant::now() < deadline, "the session never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let uid = store
        .get_session(session)
        .await
        .expect("the store answers")
        .expect("the session is stored")
        .uid;
    // The intro and the start's answer are in the room's log before any page follows it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while store
        .local_room_head(ROOM)
        .await
        .expect("the store answers")
        < 2
    {
        assert!(Instant::now() < deadline, "the intro was never posted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("ready {port} {session} {uid}");

    // Commands on stdin, read on a thread of their own (tokio's stdin is not built here).
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = lines.recv().await {
        if let Some(prefix) = line.strip_prefix("check ") {
            println!("{}", check(&store, session, &uid, prefix).await);
        }
    }
    // The harness closed stdin: done. (A graceful stop would wait for the pages' streams.)
    std::process::exit(0);
}

/// The first word of `body` when it starts with `prefix`.
fn key_of<'a>(body: &'a str, prefix: &str) -> Option<&'a str> {
    body.starts_with(prefix)
        .then(|| body.split_whitespace().next())
        .flatten()
}

/// How many times each post (by its body's first word, those starting with `prefix`) is in the
/// room's log and in the session's archive.
async fn check(store: &Store, session: i64, uid: &str, prefix: &str) -> Value {
    let mut log: BTreeMap<String, u32> = BTreeMap::new();
    for event in store
        .local_events_of_session(ROOM, uid)
        .await
        .expect("the room's log reads")
    {
        if event.kind != "message" {
            continue;
        }
        let body: Value = serde_json::from_str(&event.body).unwrap_or(Value::Null);
        if let Some(key) = body["body"].as_str().and_then(|b| key_of(b, prefix)) {
            *log.entry(key.to_owned()).or_default() += 1;
        }
    }
    let mut archive: BTreeMap<String, u32> = BTreeMap::new();
    let messages = store
        .session_messages(session)
        .await
        .expect("the archive reads");
    for stored in &messages {
        if let Some(key) = key_of(&stored.message.body, prefix) {
            *archive.entry(key.to_owned()).or_default() += 1;
        }
    }
    json!({ "log": log, "archive": archive, "archived_in_session": messages.len() })
}

/// The child server, from the harness's side.
struct Server {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    pid: u32,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let log = dir.path().join("server.log");
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("this file"))
            .env(SERVER_ENV, dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(&log).expect("a log file"),
            ))
            .kill_on_drop(true)
            .spawn()
            .expect("the server starts");
        let pid = child.id().expect("a running child");
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().expect("its stdout")).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten())
            .unwrap_or_else(|| {
                panic!(
                    "the server never said it was ready; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let words: Vec<&str> = ready.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"ready"), "{ready}");
        let port: u16 = words[1].parse().expect("a port");
        Server {
            child,
            stdin,
            lines,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _dir: dir,
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn memory(&self) -> Memory {
        Memory::of(self.pid)
    }

    async fn check(&mut self, prefix: &str) -> Value {
        let stdin = self.stdin.as_mut().expect("the server is running");
        stdin
            .write_all(format!("check {prefix}\n").as_bytes())
            .await
            .expect("the server reads");
        stdin.flush().await.expect("the server reads");
        let line = tokio::time::timeout(Duration::from_secs(120), self.lines.next_line())
            .await
            .expect("the server answers the check in time")
            .expect("the server's stdout")
            .expect("an answer");
        serde_json::from_str(&line).expect("the check is JSON")
    }

    /// Everything the server logged.
    fn logged(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The warnings and errors (and panics) the server logged.
    fn complaints(&self) -> String {
        self.logged()
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("panicked"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Stops the server; a log with anything in it is kept as `target/tmp/room_load_LABEL.log`.
    async fn stop(mut self, label: &str) {
        let logged = self.logged();
        if !logged.trim().is_empty() {
            support::keep(&format!("room_load_{label}.log"), &logged);
        }
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The clients.
// ---------------------------------------------------------------------------------------------

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A joined participant: its cookie and form token, posting as the room's script does.
struct Participant {
    client: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Participant {
    async fn join(base: &str, name: &str) -> Participant {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let response = client
            .post(format!("{base}/r/{ROOM}/join"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-hashchat-room", "1")
            .body(form(&[("name", name), ("passphrase", "")]))
            .send()
            .await
            .expect("the join is answered");
        let status = response.status();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let cookie = cookie.unwrap_or_else(|| panic!("{name} could not join: {status} {text}"));
        let page = client
            .get(format!("{base}/r/{ROOM}"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("the room's page")
            .text()
            .await
            .expect("the room's page");
        let at = page
            .find("data-csrf=\"")
            .expect("the page has a form token")
            + 11;
        let csrf = page[at..at + page[at..].find('"').expect("a quoted token")].to_owned();
        Participant {
            client,
            base: base.to_owned(),
            cookie,
            csrf,
        }
    }

    /// Posts `body`; the event's number, or why not.
    async fn say(&self, body: &str, nonce: &str) -> Result<i64, String> {
        let response = self
            .client
            .post(format!("{}/r/{ROOM}/say", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-hashchat-room", "1")
            .header("cookie", &self.cookie)
            .body(form(&[
                ("body", body),
                ("nonce", nonce),
                ("csrf", &self.csrf),
            ]))
            .send()
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("answer: {e}"))?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match answer["seq"].as_i64() {
            Some(seq) if status.is_success() => Ok(seq),
            _ => Err(format!("{status} {text}")),
        }
    }
}

/// Reads the event numbers out of a server-sent event stream, chunked or not.
struct SseReader {
    chunked: bool,
    raw: Vec<u8>,
    chunk: Chunk,
    text: Vec<u8>,
}

enum Chunk {
    Size,
    Data(usize),
    End,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl SseReader {
    /// Adds `bytes`; the numbers of the events they completed go to `ids`. `Err` when the
    /// stream ended.
    fn feed(&mut self, bytes: &[u8], ids: &mut Vec<i64>) -> Result<(), String> {
        if self.chunked {
            self.raw.extend_from_slice(bytes);
            let mut at = 0;
            loop {
                match self.chunk {
                    Chunk::Size => {
                        let Some(end) = find(&self.raw[at..], b"\r\n") else {
                            break;
                        };
                        let line = std::str::from_utf8(&self.raw[at..at + end]).unwrap_or("");
                        let size = line.split(';').next().unwrap_or("").trim();
                        let size = usize::from_str_radix(size, 16)
                            .map_err(|_| format!("a bad chunk size {line:?}"))?;
                        if size == 0 {
                            return Err("the server ended the stream".into());
                        }
                        at += end + 2;
                        self.chunk = Chunk::Data(size);
                    }
                    Chunk::Data(left) => {
                        let take = left.min(self.raw.len() - at);
                        self.text.extend_from_slice(&self.raw[at..at + take]);
                        at += take;
                        if take < left {
                            self.chunk = Chunk::Data(left - take);
                            break;
                        }
                        self.chunk = Chunk::End;
                    }
                    Chunk::End => {
                        if self.raw.len() - at < 2 {
                            break;
                        }
                        at += 2;
                        self.chunk = Chunk::Size;
                    }
                }
            }
            self.raw.drain(..at);
        } else {
            self.text.extend_from_slice(bytes);
        }
        while let Some(end) = find(&self.text, b"\n\n") {
            for line in self.text[..end].split(|b| *b == b'\n') {
                if let Some(id) = line.strip_prefix(b"id: ") {
                    if let Some(seq) = std::str::from_utf8(id)
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                    {
                        ids.push(seq);
                    }
                }
            }
            self.text.drain(..end + 2);
        }
        Ok(())
    }
}

/// What one page saw: each event's number and when it arrived; why it stopped early, if it did.
struct Seen {
    /// Whether the stream was opened.
    followed: bool,
    events: Vec<(i64, Instant)>,
    error: Option<String>,
}

/// Opens the room's stream from event `after` (one permit of `gate` while connecting), says on
/// `ready` whether it is following, then records every event until `stop`.
async fn page(
    addr: SocketAddr,
    after: i64,
    gate: Arc<Semaphore>,
    ready: oneshot::Sender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
    delivered: Arc<AtomicUsize>,
) -> Seen {
    let mut seen = Seen {
        followed: false,
        events: Vec::new(),
        error: None,
    };
    let opened = async {
        let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .write_all(
                format!(
                    "GET /r/{ROOM}/events?after={after} HTTP/1.1\r\nHost: {addr}\r\n\
                     Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .map_err(|e| format!("request: {e}"))?;
        let mut head = Vec::with_capacity(1024);
        let end = loop {
            if let Some(end) = find(&head, b"\r\n\r\n") {
                break end;
            }
            let mut buf = [0u8; 1024];
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| format!("response: {e}"))?;
            if n == 0 {
                return Err("closed before answering".to_owned());
            }
            head.extend_from_slice(&buf[..n]);
        };
        let headers = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
        if !headers.starts_with("http/1.1 200") {
            return Err(format!("answered {}", headers.lines().next().unwrap_or("")));
        }
        let reader = SseReader {
            chunked: headers.contains("transfer-encoding: chunked"),
            raw: Vec::new(),
            chunk: Chunk::Size,
            text: Vec::new(),
        };
        Ok::<_, String>((stream, reader, head[end + 4..].to_vec()))
    };
    let opened = tokio::time::timeout(Duration::from_secs(60), opened)
        .await
        .unwrap_or_else(|_| Err("no answer in 60 s".to_owned()));
    let (mut stream, mut reader, rest) = match opened {
        Ok(opened) => {
            let _ = ready.send(Ok(()));
            seen.followed = true;
            opened
        }
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            seen.error = Some(e);
            return seen;
        }
    };
    let mut ids = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut bytes = rest;
    loop {
        if !bytes.is_empty() {
            let now = Instant::now();
            ids.clear();
            if let Err(e) = reader.feed(&bytes, &mut ids) {
                seen.error = Some(e);
                break;
            }
            delivered.fetch_add(ids.len(), Ordering::Relaxed);
            seen.events.extend(ids.iter().map(|id| (*id, now)));
            bytes.clear();
        }
        tokio::select! {
            _ = stop.changed() => break,
            read = stream.read(&mut buf) => match read {
                Ok(0) => {
                    seen.error = Some("the server closed the stream".into());
                    break;
                }
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(e) => {
                    seen.error = Some(format!("read: {e}"));
                    break;
                }
            },
        }
    }
    seen
}

/// `count` pages following the room from event `after`.
struct Pages {
    tasks: Vec<tokio::task::JoinHandle<Seen>>,
    stop: watch::Sender<bool>,
    delivered: Arc<AtomicUsize>,
    following: usize,
    refused: Vec<String>,
    opened_in: Duration,
}

impl Pages {
    async fn open(addr: SocketAddr, after: i64, count: usize) -> Pages {
        let gate = Arc::new(Semaphore::new(CONNECTING));
        let (stop, stopped) = watch::channel(false);
        let delivered = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(count);
        let mut readies = Vec::with_capacity(count);
        for _ in 0..count {
            let (ready, is_ready) = oneshot::channel();
            readies.push(is_ready);
            tasks.push(tokio::spawn(page(
                addr,
                after,
                gate.clone(),
                ready,
                stopped.clone(),
                delivered.clone(),
            )));
        }
        let mut following = 0;
        let mut refused = Vec::new();
        for is_ready in readies {
            match is_ready.await {
                Ok(Ok(())) => following += 1,
                Ok(Err(e)) => refused.push(e),
                Err(_) => refused.push("the page's task ended".into()),
            }
        }
        Pages {
            tasks,
            stop,
            delivered,
            following,
            refused,
            opened_in: started.elapsed(),
        }
    }

    fn delivered(&self) -> usize {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Waits until `target` events have arrived in all, or `limit` has passed.
    async fn wait_for(&self, target: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.delivered() < target {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        true
    }

    async fn close(self) -> Vec<Seen> {
        let _ = self.stop.send(true);
        let mut all = Vec::with_capacity(self.tasks.len());
        for task in self.tasks {
            all.push(task.await.expect("a page's task"));
        }
        all
    }
}

// ---------------------------------------------------------------------------------------------
// Figures.
// ---------------------------------------------------------------------------------------------

/// Nearest-rank percentile `p` (0–1) of sorted `samples`, in ms.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    ms(sorted[rank.clamp(1, sorted.len()) - 1])
}

struct Spread {
    p50: f64,
    p99: f64,
    max: f64,
    n: usize,
}

fn spread(samples: &mut [Duration]) -> Spread {
    samples.sort();
    Spread {
        p50: percentile(samples, 0.5),
        p99: percentile(samples, 0.99),
        max: samples.last().map_or(f64::NAN, |d| ms(*d)),
        n: samples.len(),
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={})",
            self.p50, self.p99, self.max, self.n
        )
    }
}

/// Delivery latencies of `posts` (event number → when it was sent) over every page that
/// opened its stream, and how many (post, page) deliveries never came.
fn deliveries(posts: &HashMap<i64, Instant>, seen: &[Seen]) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::with_capacity(posts.len() * seen.len());
    let mut missing = 0;
    for page in seen.iter().filter(|s| s.followed) {
        let mut got = 0;
        for (seq, at) in &page.events {
            if let Some(sent) = posts.get(seq) {
                latencies.push(at.saturating_duration_since(*sent));
                got += 1;
            }
        }
        missing += posts.len().saturating_sub(got);
    }
    (latencies, missing)
}

fn kib(bytes_kib: u64, before_kib: u64, count: usize) -> f64 {
    (bytes_kib as f64 - before_kib as f64) / count.max(1) as f64
}

/// Open files this harness asks for (each process holds one socket per page).
const WANT_OPEN_FILES: u64 = 65_536;

/// The soft and hard limit on open files (`/proc/self/limits`), raised first with `prlimit`:
/// both to `WANT_OPEN_FILES` where that is allowed (as root), else the soft one to the hard
/// one. The server, started later, inherits them.
fn open_files_limit() -> (u64, u64) {
    fn read() -> (u64, u64) {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap_or("");
        let numbers: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        match numbers.as_slice() {
            [soft, hard, ..] => (*soft, *hard),
            _ => (1024, 1024),
        }
    }
    let raise = |to: u64| {
        std::process::Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={to}:{to}"))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let (soft, hard) = read();
    if soft < WANT_OPEN_FILES && !(hard < WANT_OPEN_FILES && raise(WANT_OPEN_FILES)) && soft < hard
    {
        raise(hard.min(WANT_OPEN_FILES));
    }
    read()
}

/// How many local ports a client may connect from (`ip_local_port_range`): each page takes one.
fn local_ports() -> u64 {
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let ends: Vec<u64> = range
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match ends.as_slice() {
        [low, high] if high >= low => high - low + 1,
        _ => 28_232,
    }
}

// ---------------------------------------------------------------------------------------------
// The two measurements.
// ---------------------------------------------------------------------------------------------

struct FanOut {
    pages: usize,
    following: usize,
    refused: Vec<String>,
    opened_in: Duration,
    latency: Spread,
    missing: usize,
    stopped_early: usize,
    say: Spread,
    rss_kib_connected: f64,
    rss_kib_after: f64,
    anon_kib_after: f64,
    before: Memory,
    after: Memory,
    server_cpu: Duration,
    client_cpu: Duration,
    rounds_in: Duration,
    errors: Vec<String>,
}

impl FanOut {
    fn ok(&self) -> bool {
        self.refused.is_empty()
            && self.missing == 0
            && self.stopped_early == 0
            && self.errors.is_empty()
            && self.latency.p99 <= GOAL_P99_MS
    }
}

async fn fan_out(pages: usize, rounds: usize) -> FanOut {
    let server = Server::start().await;
    let poster = Participant::join(&server.base(), "Poster").await;
    let mut errors = Vec::new();

    // Warm-up: a message, and one page that receives one.
    let head = poster
        .say("warm-up 1", "warm1")
        .await
        .expect("a first post");
    let warm = Pages::open(server.addr, head, 1).await;
    let warm_seq = poster
        .say("warm-up 2", "warm2")
        .await
        .expect("a warm-up post");
    warm.wait_for(1, ROUND_WAIT).await;
    drop(warm.close().await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.memory();

    let open = Pages::open(server.addr, warm_seq, pages).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let connected = server.memory();
    println!(
        "  {pages} pages: {} following, {} refused, opened in {:.2} s; server {:.1} → {:.1} MiB RSS",
        open.following,
        open.refused.len(),
        open.opened_in.as_secs_f64(),
        support::mib(before.rss),
        support::mib(connected.rss),
    );

    let cpu_start = cpu_time(server.pid);
    let client_cpu_start = cpu_time(std::process::id());
    let rounds_started = Instant::now();
    let mut posts = HashMap::new();
    let mut say_times = Vec::new();
    let mut expected = 0;
    for round in 0..rounds {
        let sent = Instant::now();
        match poster
            .say(&format!("fan-out round {round}"), &format!("f{round}"))
            .await
        {
            Ok(seq) => {
                say_times.push(sent.elapsed());
                posts.insert(seq, sent);
                expected += open.following;
                if !open.wait_for(expected, ROUND_WAIT).await {
                    errors.push(format!(
                        "round {round}: {} of {expected} deliveries after {} s",
                        open.delivered(),
                        ROUND_WAIT.as_secs()
                    ));
                    expected = open.delivered();
                }
            }
            Err(e) => errors.push(format!("round {round}: the post failed: {e}")),
        }
        tokio::time::sleep(GAP).await;
    }
    let rounds_in = rounds_started.elapsed();
    let server_cpu = cpu_time(server.pid) - cpu_start;
    let client_cpu = cpu_time(std::process::id()) - client_cpu_start;
    let after = server.memory();

    let following = open.following;
    let refused = open.refused.clone();
    let opened_in = open.opened_in;
    let seen = open.close().await;
    let stopped_early = seen
        .iter()
        .filter(|s| s.followed && s.error.is_some())
        .count();
    for e in seen
        .iter()
        .filter(|s| s.followed)
        .filter_map(|s| s.error.as_ref())
        .take(5)
    {
        errors.push(format!("a page stopped early: {e}"));
    }
    let (mut latencies, missing) = deliveries(&posts, &seen);
    let logged = server.complaints();
    if !logged.trim().is_empty() {
        errors.push(format!("the server logged:\n{}", tail(&logged, 20)));
    }
    server.stop(&format!("fan_out_{pages}")).await;
    FanOut {
        pages,
        following,
        refused,
        opened_in,
        latency: spread(&mut latencies),
        missing,
        stopped_early,
        say: spread(&mut say_times),
        rss_kib_connected: kib(connected.rss, before.rss, following),
        rss_kib_after: kib(after.rss, before.rss, following),
        anon_kib_after: kib(after.anon, before.anon, following),
        before,
        after,
        server_cpu,
        client_cpu,
        rounds_in,
        errors,
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

struct Posting {
    followers: usize,
    following: usize,
    offered: usize,
    acknowledged: usize,
    failed: Vec<String>,
    sending_for: Duration,
    answered_in: Duration,
    answer: Spread,
    lost_log: usize,
    lost_archive: usize,
    duplicated: usize,
    stray: usize,
    delivery: Option<(Spread, usize)>,
    server_cpu: Duration,
    client_cpu: Duration,
    before: Memory,
    after: Memory,
    logged: String,
}

async fn posting(followers: usize, participants: usize, rate: u32, seconds: u64) -> Posting {
    let mut server = Server::start().await;
    let base = server.base();
    let mut people = Vec::with_capacity(participants);
    for n in 0..participants {
        people.push(Arc::new(
            Participant::join(&base, &format!("P{:02}", n + 1)).await,
        ));
    }
    let head = people[0]
        .say("warm-up", "warm")
        .await
        .expect("a first post");
    let pages = Pages::open(server.addr, head, followers).await;
    let following = pages.following;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.memory();
    let cpu_start = cpu_time(server.pid);
    let client_cpu_start = cpu_time(std::process::id());

    let offered = rate as usize * seconds as usize;
    let every = Duration::from_secs(1) / rate;
    let start = tokio::time::Instant::now();
    let first_sent = Instant::now();
    let mut tasks = Vec::with_capacity(offered);
    for k in 0..offered {
        tokio::time::sleep_until(start + every * k as u32).await;
        let who = people[k % participants].clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let result = who
                .say(
                    &format!("tp-{k} from P{:02}", k % participants + 1),
                    &format!("tp{k}"),
                )
                .await;
            (k, sent, Instant::now(), result)
        }));
    }
    let sending_for = start.elapsed();
    let mut answers = Vec::with_capacity(offered);
    let mut posts = HashMap::new();
    let mut acknowledged_keys = std::collections::HashSet::new();
    let mut failed = Vec::new();
    let mut last_answer = first_sent;
    for task in tasks {
        let (k, sent, answered, result) = task.await.expect("a post's task");
        last_answer = last_answer.max(answered);
        match result {
            Ok(seq) => {
                answers.push(answered - sent);
                posts.insert(seq, sent);
                acknowledged_keys.insert(format!("tp-{k}"));
            }
            Err(e) => failed.push(format!("tp-{k}: {e}")),
        }
    }
    let answered_in = last_answer.saturating_duration_since(first_sent);
    let delivery = if followers > 0 {
        pages
            .wait_for(posts.len() * following, Duration::from_secs(30))
            .await;
        let seen = pages.close().await;
        let (mut latencies, missing) = deliveries(&posts, &seen);
        Some((spread(&mut latencies), missing))
    } else {
        drop(pages.close().await);
        None
    };
    let server_cpu = cpu_time(server.pid) - cpu_start;
    let client_cpu = cpu_time(std::process::id()) - client_cpu_start;
    let after = server.memory();

    let stored = server.check("tp-").await;
    let count = |source: &str, key: &str| stored[source][key].as_u64().unwrap_or(0);
    let mut lost_log = 0;
    let mut lost_archive = 0;
    let mut duplicated = 0;
    for key in &acknowledged_keys {
        let (log, archive) = (count("log", key), count("archive", key));
        lost_log += usize::from(log == 0);
        lost_archive += usize::from(archive == 0);
        duplicated += usize::from(log > 1 || archive > 1);
    }
    // Stored though the post was not acknowledged (an answer lost on the way back).
    let stray = ["log", "archive"]
        .iter()
        .map(|source| {
            stored[source].as_object().map_or(0, |m| {
                m.keys()
                    .filter(|k| !acknowledged_keys.contains(k.as_str()))
                    .count()
            })
        })
        .max()
        .unwrap_or(0);
    let logged = server.complaints();
    server.stop(&format!("posting_{followers}")).await;
    Posting {
        followers,
        following,
        offered,
        acknowledged: posts.len(),
        failed,
        sending_for,
        answered_in,
        answer: spread(&mut answers),
        lost_log,
        lost_archive,
        duplicated,
        stray,
        delivery,
        server_cpu,
        client_cpu,
        before,
        after,
        logged,
    }
}

// ---------------------------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------------------------

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

async fn harness(short: bool) {
    let steps = env_list(
        "HASHCHAT_ROOM_LOAD_STEPS",
        if short {
            &[100]
        } else {
            &[250, 500, 1000, 2000, 4000, 8000, 12000, 16000, 20000, 24000]
        },
    );
    let followers = env_list(
        "HASHCHAT_ROOM_LOAD_FOLLOWERS",
        if short { &[0, 100] } else { &[0, 1000] },
    );
    let seconds: u64 = std::env::var("HASHCHAT_ROOM_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if short { 5 } else { 30 });
    let rounds = if short { 10 } else { ROUNDS };
    let (soft, hard) = open_files_limit();
    let ports = local_ports();
    println!(
        "room_load{}: {} cores, load average {}, open files limit {soft} (hard {hard}), {ports} local ports",
        if short { " (short)" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );

    println!("\nFan-out: {rounds} messages to N pages, one at a time");
    let mut fan = Vec::new();
    let mut limit_note = None::<String>;
    // This process holds one socket per page and the server another, with a margin for
    // everything else; each page takes a local port of the one client address. A step that
    // does not fit is replaced by the most that fits (in thousands), as the ramp's last.
    let fits = (soft.saturating_sub(256)).min(ports.saturating_sub(1000)) as usize;
    let mut ladder: Vec<usize> = steps.iter().copied().filter(|n| *n <= fits).collect();
    if let Some(&over) = steps.iter().find(|n| **n > fits) {
        let most = fits / 1000 * 1000;
        if most > ladder.last().copied().unwrap_or(0) {
            ladder.push(most);
        }
        limit_note = Some(format!(
            "{over} pages not tried: at most {fits} fit (open files limit {soft} per process, \
             {ports} local ports); {most} was tried instead"
        ));
    }
    for &n in &ladder {
        let step = fan_out(n, rounds).await;
        println!(
            "  {n} pages: delivery {}; missing {}, stopped early {}",
            step.latency, step.missing, step.stopped_early
        );
        println!(
            "    /say answered {}; CPU: server {:.2} s, pages (this process) {:.2} s, over {:.1} s of rounds",
            step.say,
            step.server_cpu.as_secs_f64(),
            step.client_cpu.as_secs_f64(),
            step.rounds_in.as_secs_f64()
        );
        println!(
            "    server memory: {} before → {} after; per page {:.1} KiB RSS connected, {:.1} KiB RSS / {:.1} KiB anonymous after the messages",
            step.before.describe(),
            step.after.describe(),
            step.rss_kib_connected,
            step.rss_kib_after,
            step.anon_kib_after
        );
        for e in step.refused.iter().take(5).chain(step.errors.iter()) {
            println!("    ! {e}");
        }
        let ok = step.ok();
        fan.push(step);
        if !ok {
            println!("    (the ramp stops here)");
            break;
        }
    }

    println!("\nPosting: 50 participants at 100 posts/s in all for {seconds} s");
    let mut post_runs = Vec::new();
    for &f in &followers {
        let run = posting(f, 50, 100, seconds).await;
        println!(
            "  {f} pages following ({} connected): {} of {} posts acknowledged, sent over {:.2} s, answered over {:.2} s → {:.1} posts/s",
            run.following,
            run.acknowledged,
            run.offered,
            run.sending_for.as_secs_f64(),
            run.answered_in.as_secs_f64(),
            run.acknowledged as f64 / run.answered_in.as_secs_f64()
        );
        println!("    answer time {}", run.answer);
        println!(
            "    lost from the room's log {}, from the archive {}, duplicated {}, stored but not acknowledged {}",
            run.lost_log, run.lost_archive, run.duplicated, run.stray
        );
        if let Some((latency, missing)) = &run.delivery {
            println!("    delivery to the pages {latency}; missing deliveries {missing}");
        }
        println!(
            "    CPU: server {:.2} s, participants and pages (this process) {:.2} s; server memory {} → {}",
            run.server_cpu.as_secs_f64(),
            run.client_cpu.as_secs_f64(),
            run.before.describe(),
            run.after.describe()
        );
        for e in run.failed.iter().take(5) {
            println!("    ! {e}");
        }
        if run.failed.len() > 5 {
            println!("    ! … {} failed posts in all", run.failed.len());
        }
        if !run.logged.trim().is_empty() {
            println!("    the server logged:\n{}", tail(&run.logged, 20));
        }
        post_runs.push(run);
    }

    println!("\nSummary (N following of N | opened in | delivery p50 / p99 / max ms | server KiB per page, RSS connected / RSS after / anon after | goal)");
    for s in &fan {
        println!(
            "  {:>5} of {:>5} | {:5.2} s | {:8.2} / {:8.2} / {:8.2} | {:6.1} / {:6.1} / {:6.1} | {}",
            s.following,
            s.pages,
            s.opened_in.as_secs_f64(),
            s.latency.p50,
            s.latency.p99,
            s.latency.max,
            s.rss_kib_connected,
            s.rss_kib_after,
            s.anon_kib_after,
            if s.ok() {
                "p99 met"
            } else {
                "p99 missed (or deliveries/connections missing)"
            }
        );
    }
    println!("  load average at the end: {}", load_average());
    match fan.iter().filter(|s| s.ok()).map(|s| s.pages).max() {
        Some(n) => println!("  highest N with p99 ≤ {GOAL_P99_MS} ms: {n}"),
        None => println!("  no N met p99 ≤ {GOAL_P99_MS} ms"),
    }
    if let Some(note) = limit_note {
        println!("  {note}");
    }
    for s in &fan {
        if s.pages >= 1000 {
            println!(
                "  memory goal ≤ {GOAL_KIB_PER_PAGE} KiB per page at {}: {:.1} KiB RSS → {}",
                s.pages,
                s.rss_kib_after,
                if s.rss_kib_after <= GOAL_KIB_PER_PAGE {
                    "met"
                } else {
                    "missed"
                }
            );
        }
    }
    for run in &post_runs {
        println!(
            "  100 posts/s with {} pages: {:.1} posts/s acknowledged, lost {}, duplicated {}, failed {}, answer p50 {:.2} / p99 {:.2} ms",
            run.followers,
            run.acknowledged as f64 / run.answered_in.as_secs_f64(),
            run.lost_log.max(run.lost_archive),
            run.duplicated,
            run.failed.len(),
            run.answer.p50,
            run.answer.p99
        );
    }
}
