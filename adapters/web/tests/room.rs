//! The browser room over HTTP, in process on 127.0.0.1:0: the real engine on a SQLite store,
//! the room's adapter registered with it, and a plain HTTP client as the browser (the
//! Chromium tests in the workspace's `tests/browser_room*.rs` drive the real page).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bot_core::adapter::{CommandInvocation, Inbound};
use bot_core::chat::{Chat, Point, Visibility};
use bot_core::clock::SystemClock;
use bot_core::engine::{Engine, EngineSettings};
use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::store::Store;
use futures_util::StreamExt;
use hashchat_web::room::{Limits, ModeratorSecret, RoomHub};
use hashchat_web::WebState;

const SECRET: &str = "moderators-secret-0123";

fn chat(slug: &str, room: &str, passphrase: Option<&str>) -> Chat {
    let mut platform_options = std::collections::BTreeMap::new();
    platform_options.insert(
        Platform::Web,
        serde_json::json!({ "passphrase": passphrase, "show_points": false }),
    );
    Chat {
        slug: slug.into(),
        title: format!("Chat <{slug}>"),
        hashtag: format!("#{slug}"),
        description: format!("About {slug}"),
        intro: "Welcome!".into(),
        wrap_up: "Thanks".into(),
        points: vec![Point {
            text: "Point 1?".into(),
            minutes: None,
        }],
        minutes_between_points: 240,
        intro_minutes: 240,
        reminder_minutes: 0,
        zone: chrono_tz::Europe::London,
        schedule: None,
        rooms: vec![RoomRef::new(Platform::Web, room)],
        moderators: vec![],
        visibility: Visibility::Public,
        capture_hashtag: Default::default(),
        platform_options,
        source: PathBuf::from(format!("{slug}.toml")),
    }
}

struct Room {
    _dir: tempfile::TempDir,
    base: String,
    engine: Engine,
    store: Store,
}

async fn room_with(limits: Limits) -> Room {
    room_taking_files(limits, None).await
}

/// A room that takes files of up to `max_bytes` when given.
async fn room_taking_files(limits: Limits, max_bytes: Option<u64>) -> Room {
    room_full(limits, max_bytes, false).await
}

async fn room_full(limits: Limits, max_bytes: Option<u64>, behind_proxy: bool) -> Room {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/room.db", dir.path().display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let chats = vec![
        chat("lobbychat", "lobby", None),
        chat("secret", "backroom", Some("open sesame")),
    ];
    let engine = Engine::new(
        store.clone(),
        Arc::new(SystemClock),
        chats.clone(),
        EngineSettings::default(),
    );
    let mut hub = RoomHub::new(
        engine.clone(),
        limits,
        ModeratorSecret::Configured(SECRET.into()),
        false,
    );
    if behind_proxy {
        hub = hub.behind_proxy();
    }
    if let Some(max_bytes) = max_bytes {
        let media = bot_core::media::MediaStore::open(dir.path().join("media")).unwrap();
        hub = hub.with_uploads(media, max_bytes);
    }
    engine.register_adapter(hub.adapter());
    let mut state = WebState::new(store.clone(), chats);
    state.room = Some(hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(hashchat_web::serve(listener, state, std::future::pending()));
    let running = engine.clone();
    tokio::spawn(async move { running.run(std::future::pending()).await });
    Room {
        _dir: dir,
        base,
        engine,
        store,
    }
}

/// A browser: its cookie and form token once it has joined.
struct Visitor {
    client: reqwest::Client,
    base: String,
    cookie: Option<String>,
    csrf: String,
}

impl Visitor {
    fn new(room: &Room) -> Visitor {
        Visitor {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: room.base.clone(),
            cookie: None,
            csrf: String::new(),
        }
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let body = serde_urlencoded::to_string(form).unwrap();
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-hashchat-room", "1")
            .body(body);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().unwrap();
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Strict"),
                "{set}"
            );
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        let status = response.status().as_u16();
        let json = serde_json::from_str(&response.text().await.unwrap())
            .unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    async fn page(&self, path: &str) -> (u16, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Joins `room` as `name`, reading the form token from the page afterwards.
    async fn join(&mut self, room: &str, name: &str, passphrase: &str) -> (u16, serde_json::Value) {
        let answer = self
            .post(
                &format!("/r/{room}/join"),
                &[("name", name), ("passphrase", passphrase)],
            )
            .await;
        let (_, page) = self.page(&format!("/r/{room}")).await;
        if let Some(at) = page.find("data-csrf=\"") {
            let rest = &page[at + 11..];
            self.csrf = rest[..rest.find('"').unwrap()].to_owned();
        }
        answer
    }

    async fn say(&mut self, room: &str, text: &str, nonce: &str) -> (u16, serde_json::Value) {
        let csrf = self.csrf.clone();
        self.post(
            &format!("/r/{room}/say"),
            &[("body", text), ("nonce", nonce), ("csrf", &csrf)],
        )
        .await
    }
}

async fn start(room: &Room, slug: &str, room_id: &str) {
    room.engine
        .handle(Inbound::Command(CommandInvocation {
            room: RoomRef::new(Platform::Web, room_id),
            user: UserRef::new(Platform::Web, "w-moderator"),
            display_name: "Mo".into(),
            platform_moderator: true,
            text: format!("start {slug}"),
            platform_msg_id: Some(format!("{room_id}.cmd-start")),
            reply_to: None,
        }))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while room
        .engine
        .live_session_in(&RoomRef::new(Platform::Web, room_id))
        .is_none()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `count` events from the room's stream (after `after`, or from `Last-Event-ID`).
async fn read_events(
    visitor: &Visitor,
    room: &str,
    last_event_id: Option<i64>,
    count: usize,
) -> Vec<(i64, serde_json::Value)> {
    let mut request = visitor
        .client
        .get(format!("{}/r/{room}/events?after=0", visitor.base));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    if let Some(cookie) = &visitor.cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "a stream of server-sent events"
    );
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    let mut events = Vec::new();
    let read = async {
        while events.len() < count {
            let chunk = stream.next().await.expect("the stream goes on").unwrap();
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse::<i64>().ok();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str::<serde_json::Value>(v).ok();
                    }
                }
                if let (Some(id), Some(data)) = (id, data) {
                    events.push((id, data));
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| panic!("only {} of {count} events came", events.len()));
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_reconnects_gets_what_it_missed_and_nothing_twice() {
    let room = room_with(Limits::default()).await;
    let mut ada = Visitor::new(&room);
    assert_eq!(ada.join("lobby", "Ada", "").await.0, 200);
    start(&room, "lobbychat", "lobby").await;
    for n in 1..=3 {
        let (status, answer) = ada
            .say("lobby", &format!("A1 part {n}"), &format!("n{n}"))
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    // The intro, the bot's answer to the start, then three messages.
    let first = read_events(&ada, "lobby", None, 5).await;
    let seqs: Vec<i64> = first.iter().map(|(id, _)| *id).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "in order, from the first");
    assert!(first
        .iter()
        .any(|(_, f)| f["html"].as_str().unwrap_or("").contains("Welcome!")));
    let seen = first
        .iter()
        .find(|(_, f)| f["html"].as_str().unwrap_or("").contains("A1 part 2"))
        .unwrap()
        .0;

    // Gone after the second message; two more are sent meanwhile; back with Last-Event-ID.
    for n in 4..=5 {
        assert_eq!(
            ada.say("lobby", &format!("A1 part {n}"), &format!("n{n}"))
                .await
                .0,
            200
        );
    }
    let resumed = read_events(&ada, "lobby", Some(seen), 3).await;
    let bodies: Vec<String> = resumed
        .iter()
        .map(|(_, f)| f["html"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(resumed[0].0, seen + 1, "from the first one it had not seen");
    for (n, body) in [3, 4, 5].iter().zip(&bodies) {
        assert!(body.contains(&format!("A1 part {n}")), "{bodies:#?}");
    }
    let ids: Vec<i64> = resumed.iter().map(|(id, _)| *id).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "nothing twice, nothing skipped: {ids:?}"
    );

    // A retried post (the same nonce) is one message.
    assert_eq!(ada.say("lobby", "A1 part 5", "n5").await.0, 200);
    let archived = room
        .store
        .local_events_after("lobby", 0, 100)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.body.contains("A1 part 5"))
        .count();
    assert_eq!(archived, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_from_another_origin_or_without_the_form_token_are_refused() {
    let room = room_with(Limits::default()).await;
    let mut ada = Visitor::new(&room);
    ada.join("lobby", "Ada", "").await;
    start(&room, "lobbychat", "lobby").await;
    let (status, answer) = ada
        .post(
            "/r/lobby/say",
            &[("body", "hi"), ("nonce", "x1"), ("csrf", "wrong")],
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        answer["error"].as_str().unwrap().contains("reload"),
        "{answer}"
    );

    let response = ada
        .client
        .post(format!("{}/r/lobby/say", room.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .header("cookie", ada.cookie.clone().unwrap())
        .body(format!("body=hi&nonce=x2&csrf={}", ada.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("another site"));

    let mut stranger = Visitor::new(&room);
    let (status, answer) = stranger.say("lobby", "hello", "x3").await;
    assert_eq!(status, 401);
    assert!(
        answer["error"].as_str().unwrap().contains("Join the room"),
        "{answer}"
    );

    let (status, answer) = ada
        .post("/r/lobby/say", &[("body", "hi"), ("reply_to", "zzz")])
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("not understood"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_messages_and_blocked_participants_are_refused_in_words() {
    let room = room_with(Limits::default()).await;
    let mut ada = Visitor::new(&room);
    let mut bob = Visitor::new(&room);
    let mut mo = Visitor::new(&room);
    ada.join("lobby", "Ada", "").await;
    bob.join("lobby", "Bob", "").await;
    // Nothing to say between sessions.
    let (status, answer) = ada.say("lobby", "too early", "e1").await;
    assert_eq!(status, 409);
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("No session is running"));
    start(&room, "lobbychat", "lobby").await;

    let long = "x".repeat(1501);
    let (status, answer) = ada.say("lobby", &long, "l1").await;
    assert_eq!(status, 413);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("1501 characters"),
        "{answer}"
    );

    let (status, answer) = bob
        .say("lobby", "<script>alert(1)</script> @everyone", "b1")
        .await;
    assert_eq!(status, 200, "{answer}");
    let bobs = answer["seq"].as_i64().unwrap().to_string();
    let (_, page) = ada.page("/r/lobby").await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped on the page"
    );
    assert!(!page.contains("<script>alert"), "never markup");
    assert!(page.contains("Chat &lt;lobbychat&gt;"));

    // Only a moderator blocks.
    let csrf = ada.csrf.clone();
    let (status, _) = ada
        .post("/r/lobby/block", &[("target", &bobs), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 403);
    let (status, _) = mo.post("/signin", &[("token", "guess")]).await;
    assert_eq!(status, 403);
    let (status, _) = mo.post("/signin", &[("token", SECRET)]).await;
    assert_eq!(status, 303, "signed in");
    mo.join("lobby", "Mo", "").await;
    let csrf = mo.csrf.clone();
    let (status, answer) = mo
        .post("/r/lobby/block", &[("target", &bobs), ("csrf", &csrf)])
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = bob.say("lobby", "let me back", "b2").await;
    assert_eq!(status, 403);
    assert!(
        answer["error"].as_str().unwrap().contains("blocked"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_with_a_passphrase_is_open_only_to_who_knows_it() {
    let room = room_with(Limits::default()).await;
    let mut ada = Visitor::new(&room);
    let (status, answer) = ada.join("backroom", "Ada", "wrong").await;
    assert_eq!(status, 403);
    assert!(answer["error"].as_str().unwrap().contains("passphrase"));
    let (_, page) = ada.page("/r/backroom").await;
    assert!(page.contains("join-pass"), "the join form asks for it");
    assert!(
        !page.contains("id=\"events\""),
        "no conversation for outsiders"
    );
    let response = ada
        .client
        .get(format!("{}/r/backroom/events", room.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let (status, _) = ada.page("/r/backroom/calendar.ics").await;
    assert_eq!(status, 404, "not even its calendar");
    assert_eq!(ada.join("backroom", "Ada", " open sesame ").await.0, 200);
    let (_, page) = ada.page("/r/backroom").await;
    assert!(page.contains("id=\"events\""));
    let (status, feed) = ada.page("/r/backroom/calendar.ics").await;
    assert_eq!(status, 200);
    assert!(feed.starts_with("BEGIN:VCALENDAR"), "{feed}");
    let (status, _) = Visitor::new(&room).page("/r/lobby/calendar.ics").await;
    assert_eq!(status, 200, "an open room's calendar is anyone's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_with_how_long_to_wait() {
    let limits = Limits::default();
    let room = room_with(limits.clone()).await;
    let mut ada = Visitor::new(&room);
    ada.join("lobby", "Ada", "").await;
    start(&room, "lobbychat", "lobby").await;
    for n in 0..limits.per_participant.burst {
        assert_eq!(ada.say("lobby", "fast", &format!("f{n}")).await.0, 200);
    }
    let (status, answer) = ada.say("lobby", "one too many", "over").await;
    assert_eq!(status, 429);
    assert!(
        answer["error"].as_str().unwrap().contains("wait 2 seconds"),
        "{answer}"
    );
    let (_, page) = ada.page("/nope/../r/nosuchroom").await;
    assert!(page.contains("not found"));
}

/// A multipart upload as a browser's form sends it.
async fn upload(
    visitor: &Visitor,
    room: &str,
    file_name: &str,
    bytes: &[u8],
    caption: &str,
    nonce: &str,
) -> (u16, serde_json::Value) {
    let boundary = "----hashchat-test-boundary";
    let mut body = Vec::new();
    for (name, value) in [
        ("body", caption),
        ("nonce", nonce),
        ("csrf", visitor.csrf.as_str()),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = visitor
        .client
        .post(format!("{}/r/{room}/upload", visitor.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("x-hashchat-room", "1")
        .header("cookie", visitor.cookie.clone().unwrap())
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let json =
        serde_json::from_str(&response.text().await.unwrap()).unwrap_or(serde_json::Value::Null);
    (status, json)
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR rest of a picture";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_taken_only_when_configured_checked_by_their_bytes_and_archived() {
    let room = room_taking_files(Limits::default(), Some(1024)).await;
    let mut ada = Visitor::new(&room);
    ada.join("lobby", "Ada", "").await;
    start(&room, "lobbychat", "lobby").await;

    let (status, answer) = upload(
        &ada,
        "lobby",
        "../cat.png",
        PNG,
        "A1 our reading room",
        "u1",
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = upload(&ada, "lobby", "x.png", b"<svg onload=alert(1)>", "", "u2").await;
    assert_eq!(status, 415, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("pictures"),
        "{answer}"
    );
    let big = [PNG, &[0u8; 2048][..]].concat();
    let (status, answer) = upload(&ada, "lobby", "big.png", &big, "", "u3").await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("at most"),
        "{answer}"
    );

    let session = room
        .engine
        .live_session_in(&RoomRef::new(Platform::Web, "lobby"))
        .unwrap();
    let archived = room.store.session_messages(session).await.unwrap();
    assert_eq!(archived.len(), 1, "only the picture's message");
    let message = &archived[0];
    assert_eq!(message.message.body, "A1 our reading room");
    let attachment = &message.message.attachments[0];
    assert_eq!(attachment.name, "cat.png", "its name tamed");
    assert_eq!(attachment.content_type.as_deref(), Some("image/png"));
    let copy = room
        .store
        .media_copy(&attachment.url)
        .await
        .unwrap()
        .unwrap();
    assert!(copy.sha256.is_some(), "kept in the media store: {copy:?}");
    let (_, page) = ada.page("/r/lobby").await;
    assert!(page.contains("cat.png"), "named in the room");

    // A room configured without uploads refuses files in words.
    let plain = room_with(Limits::default()).await;
    let mut bob = Visitor::new(&plain);
    bob.join("lobby", "Bob", "").await;
    start(&plain, "lobbychat", "lobby").await;
    let (status, answer) = upload(&bob, "lobby", "cat.png", PNG, "", "p1").await;
    assert_eq!(status, 403);
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("does not take files"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_only_so_many_live_streams() {
    let room = room_with(Limits {
        max_streams_per_address: 2,
        ..Limits::default()
    })
    .await;
    let client = reqwest::Client::new();
    let open = || client.get(format!("{}/r/lobby/events", room.base)).send();
    let first = open().await.unwrap();
    let second = open().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open().await.unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.text().await.unwrap().contains("Too many pages"));
    drop(first);
    // The server notices a closed stream when it next writes to it (an event, or the
    // keep-alive): the session's start writes, and the slot comes back.
    start(&room, "lobbychat", "lobby").await;
    let mut reopened = false;
    for _ in 0..100 {
        if open().await.unwrap().status() == 200 {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(second);
    assert!(reopened, "the closed stream's slot never came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_each_client_has_its_own_address_limit_and_otherwise_the_header_is_ignored()
{
    let one_at_a_time = Limits {
        per_address: hashchat_web::room::limits::Rate {
            burst: 1,
            per_second: 0.001,
        },
        ..Limits::default()
    };
    for (behind_proxy, second_client) in [(true, 200), (false, 429)] {
        let room = room_full(one_at_a_time.clone(), None, behind_proxy).await;
        let join = |from: &'static str, name: &'static str| {
            reqwest::Client::new()
                .post(format!("{}/r/lobby/join", room.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-for", from)
                .body(format!("name={name}"))
                .send()
        };
        assert_eq!(join("192.0.2.1", "Ada").await.unwrap().status(), 200);
        assert_eq!(
            join("192.0.2.1", "Ann").await.unwrap().status(),
            429,
            "{behind_proxy}"
        );
        assert_eq!(
            join("192.0.2.2", "Bob").await.unwrap().status().as_u16(),
            second_client,
            "behind a proxy: {behind_proxy}"
        );
    }
}
