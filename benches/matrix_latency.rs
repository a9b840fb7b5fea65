//! The Matrix bot's latency and memory against the test Synapse (start one with
//! `scripts/test --prepare-only` and export what it prints).
//!
//! A plain `main` (no criterion: each sample is a network round trip through a homeserver).
//! A sender and an observer (who long-polls `/sync`) share three rooms; each responder sits in
//! a room of its own, so no responder's sync is woken, or slowed, by another's traffic. Over
//! `RUNS` interleaved rounds it measures:
//!
//! 1. **One leg** (a room with nobody else): a client sends, the observer's sync returns it.
//! 2. **Bare echo bot** (its own room; the baseline): a minimal raw-HTTP client in this process
//!    long-polls and answers at once, in two shapes: `!echo N` with a plain notice, and
//!    `!echoreply N` with a notice shaped as hashchat's refusal (HTML, a reply to the command,
//!    mentioning its sender). The second is the like-for-like floor for any bot that answers
//!    this way: two legs through the homeserver and a reply that costs it the same.
//! 3. **hashchat, command → reply** (its own room): `!chat start nosuchchatN` → the bot's
//!    refusal (a reply to that very event, so each sample is matched exactly).
//! 4. **hashchat, message → archive**: `A1 …` during a running session → the row in the bot's
//!    SQLite archive (polled every millisecond, read-only).
//!
//! Each reply is timed twice: as *seen* (the command sent → the observer's sync returns the
//! answer) and as *stamped* (the homeserver's `origin_server_ts` of the answer minus that of the
//! command: how long the responder took to react, without the observer's leg).
//! Plus the bot process's memory once connected and idle: RSS, PSS (`smaps_rollup`: shared
//! pages divided among the processes that map them) and anonymous memory.
//! Run: `cargo bench --bench matrix_latency` (builds the release binary; about 90 s once built).
//! Memory goals are judged on the deployed build: `cargo build --profile dist`, then
//! `HASHCHAT_BENCH_BIN=target/dist/hashchat cargo bench --bench matrix_latency` runs that
//! executable instead of the release one.

#![recursion_limit = "256"]

mod support;

#[allow(dead_code)]
#[path = "../tests/support/synapse.rs"]
mod synapse;

#[allow(dead_code)]
#[path = "support/matrix.rs"]
mod matrix_client;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use matrix_client::{Client, Observer};
use serde_json::{json, Value};
use support::{cpu_time, hashchat_bin, spawn_hashchat, summary, write_bot_dir, Memory};
use synapse::{Homeserver, MatrixUser};

const RUNS: usize = 100;

/// Whether `event` is a reply to the event `command`.
fn replies_to(event: &Value, command: &str) -> bool {
    event["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == command
}

/// Sends `text` in `room` and waits for the answer (`answered(event, command_id)`); returns
/// how long until the observer saw it and how far apart the homeserver stamped the two.
async fn ask(
    sender: &Client,
    observer: &mut Observer,
    room: &str,
    text: &str,
    answered: impl Fn(&Value, &str) -> bool,
) -> (Duration, Duration) {
    let t0 = Instant::now();
    let command = sender
        .send(room, json!({"msgtype": "m.text", "body": text}))
        .await;
    let (t1, reply) = observer.until(|e| answered(e, &command)).await;
    (t1 - t0, observer.stamped_gap(&command, &reply))
}

/// A bare echo bot: long-polls and answers at once: `!echo N` with a plain notice `echo N`,
/// `!echoreply N` with `echo N` shaped as hashchat shapes a refusal (an HTML notice that
/// replies to the command and mentions its sender), which costs the homeserver more to store
/// and deliver than a plain notice.
fn spawn_echo(client: Client, room: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let rooms = [room.clone()];
        let (_, mut since) = client.sync(None, &rooms).await;
        loop {
            let (events, next) = client.sync(Some(&since), &rooms).await;
            since = next;
            for e in events {
                let body = e["content"]["body"].as_str().unwrap_or_default();
                let answer = if let Some(n) = body.strip_prefix("!echo ") {
                    json!({"msgtype": "m.notice", "body": format!("echo {n}")})
                } else if let Some(n) = body.strip_prefix("!echoreply ") {
                    json!({
                        "msgtype": "m.notice",
                        "body": format!("echo {n}"),
                        "format": "org.matrix.custom.html",
                        "formatted_body": format!("echo {n}"),
                        "m.relates_to": {"m.in_reply_to": {"event_id": e["event_id"]}},
                        "m.mentions": {"user_ids": [e["sender"]]},
                    })
                } else {
                    continue;
                };
                client.send(&room, answer).await;
            }
        }
    })
}

fn start_bot(
    dir: &Path,
    server: &Homeserver,
    bot: &MatrixUser,
    password: &str,
    room: &str,
    inviter: &str,
) -> Child {
    write_bot_dir(
        dir,
        &format!(
            "[matrix]\nhomeserver = \"{}\"\nuser = \"{}\"\naccept_invites_from = [\"{inviter}\"]\n",
            server.url, bot.user_id
        ),
        &[format!("matrix:{room}")],
    );
    spawn_hashchat(dir, "bot.log", &[("HASHCHAT_MATRIX_PASSWORD", password)])
}

#[tokio::main]
async fn main() {
    let server = Homeserver::from_env();
    let tag = format!(
        "{}x{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let register = |name: &str| format!("{name}{tag}");
    let sender = Client::new(
        &server.url,
        server.register(&register("sender"), false).await,
    );
    let observer = Client::new(
        &server.url,
        server.register(&register("observer"), false).await,
    );
    let echo = Client::new(&server.url, server.register(&register("echo"), false).await);
    let bot_name = register("bot");
    let bot_user = server.register(&bot_name, false).await;

    // One room per responder, plus one with nobody but the sender and the observer.
    let quiet_room = sender.create_room().await;
    let echo_room = sender.create_room().await;
    let room = sender.create_room().await;
    for r in [&quiet_room, &echo_room, &room] {
        observer.join(r).await;
    }
    echo.join(&echo_room).await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = start_bot(
        dir.path(),
        &server,
        &bot_user,
        &format!("{bot_name}-password"),
        &room,
        &sender.user.user_id,
    );
    sender
        .post(
            &format!("/_matrix/client/v3/rooms/{room}/invite"),
            json!({"user_id": bot_user.user_id}),
        )
        .await;
    let echo_task = spawn_echo(echo, echo_room.clone());

    let mut observer = Observer::new(
        observer,
        vec![quiet_room.clone(), echo_room.clone(), room.clone()],
    )
    .await;
    // Connected once the bot answers a command.
    let probe = sender
        .send(
            &room,
            json!({"msgtype": "m.text", "body": "!chat start warmup"}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let answered =
        tokio::time::timeout_at(deadline.into(), observer.until(|e| replies_to(e, &probe))).await;
    assert!(
        answered.is_ok(),
        "the bot never answered; see {}",
        dir.path().join("bot.log").display()
    );
    let cpu_idle_start = cpu_time(bot.id());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu_idle = cpu_time(bot.id()) - cpu_idle_start;
    let idle = Memory::of(bot.id());

    let cpu_before = cpu_time(bot.id());
    let mut one_leg = Vec::new();
    let mut echo_rt = Vec::new();
    let mut shaped_rt = Vec::new();
    let mut shaped_stamped = Vec::new();
    let mut bot_reply = Vec::new();
    let mut echo_stamped = Vec::new();
    let mut bot_stamped = Vec::new();
    // Interleaved, so a noisy moment on a shared machine hits every series alike.
    for i in 0..RUNS {
        // The "answer" here is the message itself, as the observer's sync returns it.
        let (seen, _) = ask(
            &sender,
            &mut observer,
            &quiet_room,
            &format!("ping {i}"),
            |e, sent| e["event_id"] == sent,
        )
        .await;
        one_leg.push(seen);

        let answer = format!("echo {i}");
        let (seen, stamped) = ask(
            &sender,
            &mut observer,
            &echo_room,
            &format!("!echo {i}"),
            |e, _| e["content"]["body"] == answer.as_str(),
        )
        .await;
        echo_rt.push(seen);
        echo_stamped.push(stamped);

        let (seen, stamped) = ask(
            &sender,
            &mut observer,
            &echo_room,
            &format!("!echoreply {i}"),
            replies_to,
        )
        .await;
        shaped_rt.push(seen);
        shaped_stamped.push(stamped);

        let (seen, stamped) = ask(
            &sender,
            &mut observer,
            &room,
            &format!("!chat start nosuchchat{i}"),
            replies_to,
        )
        .await;
        bot_reply.push(seen);
        bot_stamped.push(stamped);
    }

    let cpu_rounds = cpu_time(bot.id()) - cpu_before;
    // Message → archive, in a running session.
    sender
        .send(
            &room,
            json!({"msgtype": "m.text", "body": "!chat start bench"}),
        )
        .await;
    observer
        .until(|e| {
            e["content"]["body"]
                .as_str()
                .is_some_and(|b| b.starts_with("Intro:"))
        })
        .await;
    let db = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(dir.path().join("hashchat.db"))
                .read_only(true),
        )
        .await
        .unwrap();
    let mut archive = Vec::new();
    for i in 0..RUNS {
        let t0 = Instant::now();
        let id = sender
            .send(
                &room,
                json!({"msgtype": "m.text", "body": format!("A1 sample {i}")}),
            )
            .await;
        loop {
            let found: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM messages WHERE platform_msg_id = ?1")
                    .bind(&id)
                    .fetch_optional(&db)
                    .await
                    .unwrap();
            if found.is_some() {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "message {i} never archived"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        archive.push(t0.elapsed());
    }
    let after = Memory::of(bot.id());
    echo_task.abort();
    support::stop(&mut bot);

    println!("Matrix latency, {RUNS} samples each, Synapse on 127.0.0.1:");
    let (leg, leg90) = summary("one leg: send -> observer's sync", &mut one_leg);
    let (echo_m, echo90) = summary("bare echo bot, plain: reply seen", &mut echo_rt);
    let (shaped_m, shaped90) = summary("bare echo bot, reply-shaped: seen", &mut shaped_rt);
    let (bot_m, bot90) = summary("hashchat: command -> reply seen", &mut bot_reply);
    let (echo_s, echo_s90) = summary("bare echo bot, plain: stamped", &mut echo_stamped);
    let (shaped_s, shaped_s90) =
        summary("bare echo bot, reply-shaped: stamped", &mut shaped_stamped);
    let (bot_s, bot_s90) = summary("hashchat: command -> reply, stamped", &mut bot_stamped);
    let (arch, arch90) = summary("hashchat: message -> archived", &mut archive);
    for (baseline, seen, seen90, stamped, stamped90) in [
        (
            "reply-shaped echo",
            shaped_m,
            shaped90,
            shaped_s,
            shaped_s90,
        ),
        ("plain echo", echo_m, echo90, echo_s, echo_s90),
    ] {
        println!(
            "  hashchat vs the {baseline}: seen {:+.2} ms median ({:+.2} ms p90, ratio {:.2}); stamped {:+.2} ms median ({:+.2} ms p90)",
            bot_m - seen,
            bot90 - seen90,
            bot_m / seen,
            bot_s - stamped,
            bot_s90 - stamped90,
        );
    }
    println!(
        "  archive vs one leg: {:+.2} ms median ({:+.2} ms p90)",
        arch - leg,
        arch90 - leg90
    );
    println!(
        "  bot memory ({}), idle and connected: {}; after the samples: {:.1} MiB RSS",
        hashchat_bin().display(),
        idle.describe(),
        support::mib(after.rss)
    );
    println!(
        "  bot CPU time over the {RUNS} rounds: {:.0} ms ({:.2} ms a round, in which it answers one command)",
        cpu_rounds.as_secs_f64() * 1000.0,
        cpu_rounds.as_secs_f64() * 1000.0 / RUNS as f64
    );
    println!(
        "  bot CPU time while idle and connected: {:.0} ms in 10 s",
        cpu_idle.as_secs_f64() * 1000.0
    );
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("matrix_latency_bot.log");
    let _ = std::fs::copy(dir.path().join("bot.log"), &log);
    println!("  the bot's log: {}", log.display());
}
