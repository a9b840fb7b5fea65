//! The bot's memory connected and idle, on Discord alone, on Discord and Matrix at once, and on
//! Matrix alone: RSS, PSS and anonymous memory (`/proc/PID/smaps_rollup`).
//!
//! A plain `main`. Discord is the fake (`discord-fake`, in this process); Matrix is the test
//! Synapse (`HASHCHAT_TEST_SYNAPSE_URL` and `_SECRET`, as `scripts/test --prepare-only` prints
//! them; without them this fails). Each start is a fresh bot: its own scratch directory and
//! archive, and for Matrix a newly registered account invited to a new room. The bot is
//! connected once it has answered `/chat help` on Discord and `!chat help` on Matrix; 10 s
//! later its memory is read, and a breakdown of it by mapping is kept in `target/tmp`. The
//! three set-ups take turns, `REPEATS` times each, so load on the machine hits them alike.
//! Run on the deployed build (memory goals are judged on it):
//! `cargo build --profile dist`, then `HASHCHAT_BENCH_BIN=target/dist/hashchat cargo bench
//! --bench bot_memory`. Environment such as `MALLOC_ARENA_MAX=2` reaches the bot unchanged.

#![recursion_limit = "256"]

mod support;

#[allow(dead_code)]
#[path = "../tests/support/synapse.rs"]
mod synapse;

use std::time::{Duration, Instant};

use discord_fake::{FakeDiscord, SlashCommand};
use serde_json::{json, Value};
use support::discord::{room, section, wait_ready};
use support::{hashchat_bin, keep, load_average, mib, spawn_hashchat, stop, write_bot_dir, Memory};
use synapse::{Homeserver, MatrixUser};

const REPEATS: usize = 3;
const WAIT: Duration = Duration::from_secs(120);
const IDLE: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq)]
enum Setup {
    Discord,
    Both,
    Matrix,
}

impl Setup {
    fn name(self) -> &'static str {
        match self {
            Setup::Discord => "Discord alone",
            Setup::Both => "Discord + Matrix",
            Setup::Matrix => "Matrix alone",
        }
    }
    fn discord(self) -> bool {
        self != Setup::Matrix
    }
    fn matrix(self) -> bool {
        self != Setup::Discord
    }
}

/// A fresh Matrix account for the bot, a room it is invited to, and the person who invited
/// it (who then talks to it there).
struct MatrixSide {
    server: Homeserver,
    bot: MatrixUser,
    password: String,
    person: MatrixUser,
    room: String,
}

impl MatrixSide {
    async fn new(server: Homeserver, tag: &str) -> MatrixSide {
        let person = server.register(&format!("person{tag}"), false).await;
        let name = format!("bot{tag}");
        let bot = server.register(&name, false).await;
        let created = server
            .post_json(
                &format!("{}/_matrix/client/v3/createRoom", server.url),
                Some(&person.access_token),
                &json!({"preset": "public_chat", "invite": [bot.user_id]}),
            )
            .await;
        let room = created["room_id"].as_str().expect("a room id").to_owned();
        MatrixSide {
            server,
            bot,
            password: format!("{name}-password"),
            person,
            room,
        }
    }

    fn section(&self) -> String {
        format!(
            "[matrix]\nhomeserver = \"{}\"\nuser = \"{}\"\naccept_invites_from = [\"{}\"]\n",
            self.server.url, self.bot.user_id, self.person.user_id
        )
    }

    /// Says `!chat help` until the bot answers it (it must first join), or panics after `WAIT`.
    async fn wait_answered(&self, log: &std::path::Path) {
        let deadline = Instant::now() + WAIT;
        let mut n = 0;
        loop {
            n += 1;
            let sent = self
                .server
                .put_json(
                    &format!(
                        "{}/_matrix/client/v3/rooms/{}/send/m.room.message/help{n}",
                        self.server.url, self.room
                    ),
                    &self.person.access_token,
                    &json!({"msgtype": "m.text", "body": "!chat help"}),
                )
                .await;
            assert!(sent["event_id"].is_string(), "{sent}");
            let asked = Instant::now();
            while asked.elapsed() < Duration::from_secs(5) {
                let page: Value = self
                    .server
                    .get_json(
                        &format!(
                            "{}/_matrix/client/v3/rooms/{}/messages?dir=b&limit=20",
                            self.server.url, self.room
                        ),
                        Some(&self.person.access_token),
                    )
                    .await;
                // The room is new: any message of the bot's is its answer.
                let answered = page["chunk"].as_array().into_iter().flatten().any(|e| {
                    e["sender"] == self.bot.user_id.as_str() && e["type"] == "m.room.message"
                });
                if answered {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            assert!(
                Instant::now() < deadline,
                "the bot never answered on Matrix; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

/// One start of the bot in `setup`: connected, idle for `IDLE`, measured, stopped.
async fn measure(setup: Setup, fake: &FakeDiscord, server_tag: &str, run: usize) -> Memory {
    let dir = tempfile::tempdir().unwrap();
    let mut platforms = String::new();
    let mut rooms = Vec::new();
    let d = fake.defaults().clone();
    if setup.discord() {
        platforms.push_str(&section(fake));
        rooms.push(room(d.channel));
    }
    let matrix = if setup.matrix() {
        let side = MatrixSide::new(
            Homeserver::from_env(),
            &format!("{server_tag}s{}r{run}", setup as u8),
        )
        .await;
        platforms.push_str(&side.section());
        rooms.push(format!("matrix:{}", side.room));
        Some(side)
    } else {
        None
    };
    write_bot_dir(dir.path(), &platforms, &rooms);
    let password = matrix
        .as_ref()
        .map(|m| m.password.clone())
        .unwrap_or_default();
    let mut env = vec![("HASHCHAT_MATRIX_PASSWORD", password.as_str())];
    if setup.discord() {
        env.push(("HASHCHAT_DISCORD_TOKEN", fake.token()));
    }
    let log = dir.path().join("bot.log");
    let registrations = fake
        .requests_matching("PUT /applications/*/guilds/*/commands")
        .len();
    let mut bot = spawn_hashchat(dir.path(), "bot.log", &env);
    if setup.discord() {
        // This run's registration, not an earlier run's.
        let mine = fake
            .wait_for(WAIT, |f| {
                (f.requests_matching("PUT /applications/*/guilds/*/commands")
                    .len()
                    > registrations)
                    .then_some(())
            })
            .await;
        assert!(
            mine.is_some(),
            "the bot never registered /chat; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        wait_ready(fake, WAIT, &log).await;
        let answered = fake
            .invoke(
                d.alice,
                d.channel,
                SlashCommand::parse("/chat help").unwrap(),
            )
            .await
            .unwrap()
            .answered(Duration::from_secs(20))
            .await;
        assert!(
            answered.is_some(),
            "/chat help never answered; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    if let Some(m) = &matrix {
        m.wait_answered(&log).await;
    }
    tokio::time::sleep(IDLE).await;
    let memory = Memory::of(bot.id());
    if run == 0 {
        let file = match setup {
            Setup::Discord => "bot_memory_discord_smaps.txt",
            Setup::Both => "bot_memory_both_smaps.txt",
            Setup::Matrix => "bot_memory_matrix_smaps.txt",
        };
        keep(file, &support::smaps_by_mapping(bot.id()));
    }
    stop(&mut bot);
    memory
}

#[tokio::main]
async fn main() {
    // Fails here, before anything starts, when there is no Synapse to talk to.
    drop(Homeserver::from_env());
    println!(
        "Bot memory, connected and idle {} s: {}; MALLOC_ARENA_MAX={}; load average at start {}",
        IDLE.as_secs(),
        hashchat_bin().display(),
        std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "(unset)".into()),
        load_average()
    );
    let fake = FakeDiscord::start().await.expect("the fake starts");
    let tag = format!(
        "mem{}x{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let setups = [Setup::Discord, Setup::Both, Setup::Matrix];
    let mut results: Vec<(Setup, Memory)> = Vec::new();
    for run in 0..REPEATS {
        for setup in setups {
            let m = measure(setup, &fake, &tag, run).await;
            println!("  run {run}, {:<17} {}", setup.name(), m.describe());
            results.push((setup, m));
        }
    }
    println!(
        "  medians of {REPEATS} (min–max) (load average now {}):",
        load_average()
    );
    for setup in setups {
        let of = |f: fn(&Memory) -> u64| {
            let mut v: Vec<u64> = results
                .iter()
                .filter(|(s, _)| *s == setup)
                .map(|(_, m)| f(m))
                .collect();
            v.sort_unstable();
            format!(
                "{:.1} ({:.1}–{:.1})",
                mib(v[v.len() / 2]),
                mib(v[0]),
                mib(v[v.len() - 1])
            )
        };
        println!(
            "  {:<17} RSS {} MiB, PSS {} MiB, anonymous {} MiB, file-backed {} MiB",
            setup.name(),
            of(|m| m.rss),
            of(|m| m.pss),
            of(|m| m.anon),
            of(|m| m.file),
        );
    }
    println!(
        "  breakdowns by mapping: {}/bot_memory_*_smaps.txt",
        env!("CARGO_TARGET_TMPDIR")
    );
}
