//! People in Matrix rooms, for the end-to-end tests: each is a real matrix-sdk client with its
//! own device (so encrypted rooms work as they do for anyone), talking to the test Synapse.
//! And the bot itself: the `hashchat` binary with a `[matrix]` config.
//!
//! Included only by the Matrix tests (`#[path]`), which raise the recursion limit that
//! matrix-sdk's futures need; the other tests need not build it.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use matrix_sdk::config::SyncSettings;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::{EventId, RoomId, UInt, UserId};
use matrix_sdk::{Client, Room};
use serde_json::{json, Value};

use crate::support::synapse::Homeserver;
use crate::support::{read, BotProcess, Scratch};

/// A fresh localpart: tests share one homeserver, so every name is new (the counter keeps two
/// tests of one process apart within the same microsecond).
pub fn unique(name: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{name}{}x{}x{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

pub struct Person {
    pub user_id: String,
    pub access_token: String,
    pub client: Client,
    sync: tokio::task::JoinHandle<()>,
}

impl Drop for Person {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

impl Person {
    /// Registers a new user and signs them in with a device of their own, syncing in the
    /// background.
    pub async fn new(server: &Homeserver, name: &str) -> Person {
        let localpart = unique(name);
        let registered = server.register(&localpart, false).await;
        let client = Client::builder()
            .homeserver_url(&server.url)
            .build()
            .await
            .expect("a Matrix client");
        client
            .matrix_auth()
            .login_username(&registered.user_id, &format!("{localpart}-password"))
            .initial_device_display_name(name)
            .send()
            .await
            .expect("logging in");
        client
            .sync_once(SyncSettings::default())
            .await
            .expect("first sync");
        let syncing = client.clone();
        let sync = tokio::spawn(async move {
            // Keeps going through a homeserver restart; the test ends it.
            loop {
                let _ = syncing
                    .sync(SyncSettings::default().timeout(Duration::from_secs(5)))
                    .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let access_token = client.access_token().expect("a token");
        Person {
            user_id: registered.user_id,
            access_token,
            client,
            sync,
        }
    }

    /// Creates a room; `version` `None` takes the homeserver's default (12 on current Synapse).
    pub async fn create_room(
        &self,
        server: &Homeserver,
        version: Option<&str>,
        encrypted: bool,
        power_levels: Option<Value>,
    ) -> String {
        let mut body = json!({ "preset": "private_chat", "name": "hashchat test" });
        if let Some(v) = version {
            body["room_version"] = json!(v);
        }
        if encrypted {
            body["initial_state"] = json!([{
                "type": "m.room.encryption", "state_key": "",
                "content": { "algorithm": "m.megolm.v1.aes-sha2" }
            }]);
        }
        if let Some(pl) = power_levels {
            body["power_level_content_override"] = pl;
        }
        let created = server
            .post_json(
                &format!("{}/_matrix/client/v3/createRoom", server.url),
                Some(&self.access_token),
                &body,
            )
            .await;
        let room = created["room_id"].as_str().expect("a room id").to_owned();
        self.room(&room).await;
        room
    }

    pub async fn invite(&self, room: &str, user: &str) {
        self.room(room)
            .await
            .invite_user_by_id(user.try_into().expect("a user id"))
            .await
            .expect("inviting");
    }

    pub async fn join(&self, room: &str) {
        let id: &RoomId = room.try_into().unwrap();
        self.client.join_room_by_id(id).await.expect("joining");
        self.room(room).await;
    }

    /// The room as this person's client knows it, once it does.
    pub async fn room(&self, room: &str) -> Room {
        let id: &RoomId = room.try_into().expect("a room id");
        let start = Instant::now();
        loop {
            if let Some(r) = self
                .client
                .get_room(id)
                .filter(|r| r.state() == matrix_sdk::RoomState::Joined)
            {
                return r;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{} never saw {room}",
                self.user_id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `m.room.message` content; returns the event id.
    pub async fn send(&self, room: &str, content: Value) -> String {
        let room = self.room(room).await;
        room.send_raw("m.room.message", content)
            .await
            .expect("sending")
            .response
            .event_id
            .to_string()
    }

    pub async fn say(&self, room: &str, text: &str) -> String {
        self.send(room, json!({ "msgtype": "m.text", "body": text }))
            .await
    }

    pub async fn reply(&self, room: &str, parent: &str, text: &str) -> String {
        self.send(
            room,
            json!({
                "msgtype": "m.text", "body": text,
                "m.relates_to": { "m.in_reply_to": { "event_id": parent } }
            }),
        )
        .await
    }

    pub async fn edit(&self, room: &str, target: &str, text: &str) -> String {
        self.send(
            room,
            json!({
                "msgtype": "m.text", "body": format!(" * {text}"),
                "m.new_content": { "msgtype": "m.text", "body": text },
                "m.relates_to": { "rel_type": "m.replace", "event_id": target }
            }),
        )
        .await
    }

    pub async fn redact(&self, room: &str, event: &str) {
        let id: &EventId = event.try_into().unwrap();
        self.room(room)
            .await
            .redact(id, None, None)
            .await
            .expect("redacting");
    }

    /// Reacts to `target` with `key`; returns the reaction's event id.
    pub async fn react(&self, room: &str, target: &str, key: &str) -> String {
        let room = self.room(room).await;
        room.send_raw(
            "m.reaction",
            json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": target, "key": key } }),
        )
        .await
        .expect("reacting")
        .response
        .event_id
        .to_string()
    }

    /// Sends `bytes` as an image the way clients do, encrypted in an encrypted room; returns
    /// the event id.
    pub async fn send_encrypted_image(&self, room: &str, bytes: &[u8]) -> String {
        let room = self.room(room).await;
        room.send_attachment(
            "pic.png",
            &mime::IMAGE_PNG,
            bytes.to_vec(),
            matrix_sdk::attachment::AttachmentConfig::new(),
        )
        .await
        .expect("sending an attachment")
        .event_id
        .to_string()
    }

    /// Uploads `bytes` as a PNG and posts it with `caption`.
    pub async fn send_image(
        &self,
        server: &Homeserver,
        room: &str,
        bytes: &[u8],
        caption: &str,
    ) -> String {
        let uploaded: Value = reqwest::Client::new()
            .post(format!(
                "{}/_matrix/media/v3/upload?filename=pic.png",
                server.url
            ))
            .bearer_auth(&self.access_token)
            .header("content-type", "image/png")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("uploading")
            .text()
            .await
            .map(|t| serde_json::from_str(&t).expect("an upload answer"))
            .expect("an upload answer");
        let url = uploaded["content_uri"].as_str().expect("an mxc uri");
        self.send(
            room,
            json!({
                "msgtype": "m.image", "body": caption, "filename": "pic.png", "url": url,
                "info": { "mimetype": "image/png", "size": bytes.len() }
            }),
        )
        .await
    }

    /// The room's `m.room.message` events as this person's client reads them (decrypted in
    /// encrypted rooms), oldest first.
    pub async fn messages(&self, room: &str) -> Vec<Value> {
        let mut events = self.events(room).await;
        events.retain(|e| e["type"] == "m.room.message");
        events
    }

    /// Every timeline event of `room` this person can read, of any type, oldest first.
    pub async fn events(&self, room: &str) -> Vec<Value> {
        let room = self.room(room).await;
        let mut options = MessagesOptions::backward();
        options.limit = UInt::from(500u32);
        let page = match room.messages(options).await {
            Ok(page) => page,
            Err(_) => return Vec::new(),
        };
        let mut events: Vec<Value> = page
            .chunk
            .iter()
            .filter_map(|e| e.raw().deserialize_as::<Value>().ok())
            .collect();
        events.reverse();
        events
    }

    /// Waits until the room holds a message from `sender` for which `matches` holds; returns it.
    pub async fn wait_for(
        &self,
        room: &str,
        sender: &str,
        what: &str,
        limit: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        match self.try_wait_for(room, sender, limit, matches).await {
            Some(found) => found,
            None => panic!("gave up after {limit:?} waiting for {what}"),
        }
    }

    /// Waits for a message from the bot; a timeout fails with the bot's log.
    pub async fn wait_for_bot(
        &self,
        room: &str,
        bot: &Bot,
        what: &str,
        limit: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        match self.try_wait_for(room, &bot.user_id, limit, matches).await {
            Some(found) => found,
            None => panic!(
                "gave up after {limit:?} waiting for {what}; the bot's log:\n{}",
                bot.logs()
            ),
        }
    }

    async fn try_wait_for(
        &self,
        room: &str,
        sender: &str,
        limit: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let start = Instant::now();
        loop {
            if let Some(found) = self
                .messages(room)
                .await
                .into_iter()
                .find(|e| e["sender"] == sender && matches(e))
            {
                return Some(found);
            }
            if start.elapsed() >= limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

/// The body of a message event (`""` when it has none).
pub fn body(event: &Value) -> &str {
    event["content"]["body"].as_str().unwrap_or("")
}

pub fn event_id(event: &Value) -> String {
    event["event_id"].as_str().unwrap_or_default().to_owned()
}

/// A valid 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The `hashchat` binary as a Matrix bot in a scratch directory, on accelerated time.
pub struct Bot {
    pub user_id: String,
    password: String,
    /// The token the admin API's registration made, with a device of its own.
    pub registered_token: String,
    /// Sign in with `registered_token` instead of the password.
    pub use_token: bool,
    pub process: BotProcess,
    /// What starts a command in this bot's rooms (`matrix.command_prefix`).
    pub prefix: String,
    /// Set for the next start: the bot stops dead after a command acts, before its claim
    /// (`HASHCHAT_TEST_HOLD_BEFORE_CLAIM`), for a test to kill it there.
    pub hold_before_claiming: bool,
    /// More environment for the next start (another platform's secrets, test routes).
    pub env: Vec<(String, String)>,
}

/// Virtual minutes per real second for the Matrix tests: a point every three seconds.
pub const SPEED: f64 = 20.0;

impl Bot {
    /// Registers the bot's account and writes its config: one chat, `slug`, with three points
    /// `minutes` apart in `room`; invitations accepted from `inviters`.
    pub async fn new(
        server: &Homeserver,
        slug: &str,
        room: &str,
        inviters: &[&str],
        minutes: u32,
    ) -> Bot {
        let localpart = unique("hashchatbot");
        let registered = server.register(&localpart, false).await;
        let scratch = Scratch::new();
        let config = scratch.write_config();
        let accept: Vec<String> = inviters.iter().map(|i| format!("\"{i}\"")).collect();
        let mut text = read(&config);
        text.push_str(&format!(
            "\n[matrix]\nhomeserver = \"{}\"\nuser = \"{}\"\naccept_invites_from = [{}]\n",
            server.url,
            registered.user_id,
            accept.join(", ")
        ));
        std::fs::write(&config, text).unwrap();
        scratch.write(
            &format!("chats/{slug}.toml"),
            &chat_file(slug, room, minutes, ""),
        );
        let anchor = chrono::Utc::now().to_rfc3339();
        let args = vec![
            "run".to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
            "--speed".to_owned(),
            SPEED.to_string(),
            "--time-anchor".to_owned(),
            anchor,
        ];
        Bot {
            user_id: registered.user_id,
            password: format!("{localpart}-password"),
            registered_token: registered.access_token,
            use_token: false,
            process: BotProcess::new(scratch, args),
            prefix: "!chat".to_owned(),
            hold_before_claiming: false,
            env: Vec::new(),
        }
    }

    /// Sets `matrix.command_prefix` (the config's last section), before a start; the session
    /// helpers then use it.
    pub fn set_command_prefix(&mut self, prefix: &str) {
        let config = self.scratch.path("hashchat.toml");
        let mut text = read(&config);
        text.push_str(&format!("command_prefix = \"{prefix}\"\n"));
        std::fs::write(&config, text).unwrap();
        self.prefix = prefix.to_owned();
    }

    pub fn start(&mut self) {
        let (use_token, token, password) = (
            self.use_token,
            self.registered_token.clone(),
            self.password.clone(),
        );
        let hold = self.hold_before_claiming;
        let env = self.env.clone();
        self.process.start(|command| {
            if use_token {
                command
                    .env("HASHCHAT_MATRIX_ACCESS_TOKEN", &token)
                    .env_remove("HASHCHAT_MATRIX_PASSWORD");
            } else {
                command
                    .env("HASHCHAT_MATRIX_PASSWORD", &password)
                    .env_remove("HASHCHAT_MATRIX_ACCESS_TOKEN");
            }
            if hold {
                command.env("HASHCHAT_TEST_HOLD_BEFORE_CLAIM", "1");
            } else {
                command.env_remove("HASHCHAT_TEST_HOLD_BEFORE_CLAIM");
            }
            command.env(
                "RUST_LOG",
                "info,matrix_sdk=warn,matrix_sdk_crypto=warn,matrix_sdk_base=warn",
            );
            // Last, so a test's own environment wins.
            for (name, value) in &env {
                command.env(name, value);
            }
        });
    }

    /// Waits until `member`'s own client sees the bot joined to `room`, not only the
    /// homeserver: in an encrypted room a client shares its room key with the members it knows,
    /// so a message sent any earlier would be one the bot can never decrypt.
    pub async fn wait_joined(&self, room: &str, member: &Person) {
        let bot: &UserId = self.user_id.as_str().try_into().expect("a user id");
        let room_in_client = member.room(room).await;
        let start = Instant::now();
        loop {
            if let Ok(Some(seen)) = room_in_client.get_member_no_sync(bot).await {
                if *seen.membership() == MembershipState::Join {
                    return;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} never saw the bot join {room}; its log:\n{}",
                member.user_id,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl std::ops::Deref for Bot {
    type Target = BotProcess;
    fn deref(&self) -> &BotProcess {
        &self.process
    }
}

impl std::ops::DerefMut for Bot {
    fn deref_mut(&mut self) -> &mut BotProcess {
        &mut self.process
    }
}

/// The session number in the bot's "Started …, session N: …" reply.
pub fn session_number(started: &Value) -> String {
    let text = body(started);
    let after = text
        .split("session ")
        .nth(1)
        .unwrap_or_else(|| panic!("no session number in {text:?}"));
    after.chars().take_while(char::is_ascii_digit).collect()
}

/// `(label, body)` of the bot's step posts in the room, in order: `Q1`, `Intro`, `Wrap-up`….
/// The content key that marks the bot's relayed copies.
pub const RELAY_MARK: &str = "hashchat.relay";

pub fn step_posts(messages: &[Value], bot: &str) -> Vec<String> {
    messages
        .iter()
        .filter(|e| e["sender"] == bot && e["content"]["msgtype"] == "m.text")
        .filter(|e| e["content"].get(RELAY_MARK).is_none())
        .map(|e| body(e).split(':').next().unwrap_or("").to_owned())
        .collect()
}

/// A room with a moderator (its creator), two participants and the bot, invited by the
/// moderator and joined; points `minutes` apart.
pub async fn room_with_bot(
    server: &Homeserver,
    version: Option<&str>,
    encrypted: bool,
    minutes: u32,
) -> (Person, Person, Person, String, Bot) {
    let moderator = Person::new(server, "mod").await;
    let ann = Person::new(server, "ann").await;
    let bob = Person::new(server, "bob").await;
    let room = moderator
        .create_room(server, version, encrypted, None)
        .await;
    for p in [&ann, &bob] {
        moderator.invite(&room, &p.user_id).await;
        p.join(&room).await;
    }
    let mut bot = Bot::new(server, "quick", &room, &[&moderator.user_id], minutes).await;
    bot.start();
    moderator.invite(&room, &bot.user_id).await;
    bot.wait_joined(&room, &moderator).await;
    (moderator, ann, bob, room, bot)
}

pub fn starts(prefix: &'static str) -> impl Fn(&Value) -> bool {
    move |e| body(e).starts_with(prefix)
}

/// `(author, body, point)` of every archived message, in order.
pub fn archived(transcript: &Value) -> Vec<(String, String, Option<u64>)> {
    transcript["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["author"]["id"].as_str().unwrap_or_default().to_owned(),
                m["body"].as_str().unwrap_or_default().to_owned(),
                m["point"].as_u64(),
            )
        })
        .collect()
}

/// A chat file: three points `minutes` apart in `room`; `more` is added after the top-level
/// keys (more keys, then tables such as `[schedule]`).
pub fn chat_file(slug: &str, room: &str, minutes: u32, more: &str) -> String {
    format!(
        r##"slug = "{slug}"
title = "A Matrix chat"
hashtag = "#{slug}"
description = "Three points"
intro = "Welcome, everyone"
wrap_up = "Thank you all"
time_zone = "UTC"
minutes_between_points = {minutes}
intro_minutes = 1
rooms = ["matrix:{room}"]
{more}

[[points]]
text = "What brought you here?"
[[points]]
text = "What would you change?"
[[points]]
text = "What comes next?"
"##
    )
}

/// `!chat start quick` (with the bot's prefix) from `moderator`; waits for the bot's "Started"
/// reply and returns the session number it names.
pub async fn start_session(moderator: &Person, room: &str, bot: &Bot) -> String {
    moderator
        .say(room, &format!("{} start quick", bot.prefix))
        .await;
    let started = moderator
        .wait_for_bot(room, bot, "the start reply", Duration::from_secs(60), |e| {
            body(e).starts_with("Started")
        })
        .await;
    session_number(&started)
}

/// `!chat stop` (with the bot's prefix) from `moderator`; waits for the wrap-up.
pub async fn stop_session(moderator: &Person, room: &str, bot: &Bot) {
    moderator.say(room, &format!("{} stop", bot.prefix)).await;
    moderator
        .wait_for_bot(room, bot, "the wrap-up", Duration::from_secs(60), |e| {
            body(e).starts_with("Wrap-up:")
        })
        .await;
}

/// Asserts that the bot posted the intro, Q1–Q3 and the wrap-up in `room`, each once and in
/// order; returns the room's messages for further checks.
pub async fn assert_each_step_once(person: &Person, room: &str, bot: &Bot) -> Vec<Value> {
    let messages = person.messages(room).await;
    assert_eq!(
        step_posts(&messages, &bot.user_id),
        ["Intro", "Q1", "Q2", "Q3", "Wrap-up"],
        "each step once, in order; log:\n{}",
        bot.logs()
    );
    messages
}
