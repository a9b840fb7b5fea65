//! Back-fill: how fast the Discord bot archives what was said in a chat channel while it was
//! down, against how fast the fake Discord itself pages that history out, in the same run.
//!
//! A plain `main`. The bot (the release `hashchat`, or `HASHCHAT_BENCH_BIN`) runs a session
//! in one channel of the fake (`discord-fake`, in this process), archives one message (so its
//! cursor is saved), and stops. Then, `ROUNDS` times: `MESSAGES` messages are added to the
//! channel while it is down; a bare HTTP client pages them out of the fake
//! (`GET /channels/{id}/messages?after=…&limit=100`, the adapter's page size, each page's JSON
//! read for its ids); the bot starts, and the time until all of them are rows in its SQLite
//! archive (polled read-only every 5 ms) is taken, and their order checked; the bare client
//! pages the same history again; the bot stops. Reported per round and as medians, in
//! messages/s: the bot from its start (connect, READY, command registration, then the
//! back-fill) and from its first history request (the fake's record), against the bare
//! client's paging.
//! Run: `cargo bench --bench discord_backfill`.

mod support;

use std::time::{Duration, Instant, SystemTime};

use discord_fake::{ChannelId, FakeDiscord, MessageId, Post, SlashCommand};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use support::discord::{room, section, wait_ready};
use support::{hashchat_bin, load_average, spawn_hashchat, stop, write_bot_dir};

const MESSAGES: usize = 10_000;
const ROUNDS: usize = 3;
/// The Discord adapter's page size (and Discord's largest).
const PAGE: usize = 100;
const WAIT: Duration = Duration::from_secs(60);

/// Pages `channel`'s history after `after` as the adapter does; returns the ids read, oldest
/// first, and how long it took.
async fn page_through(
    http: &reqwest::Client,
    fake: &FakeDiscord,
    channel: ChannelId,
    mut after: u64,
) -> (Vec<u64>, Duration) {
    let started = Instant::now();
    let mut ids = Vec::new();
    loop {
        let url = format!(
            "{}/api/v10/channels/{channel}/messages?after={after}&limit={PAGE}",
            fake.base_url()
        );
        let text = http
            .get(url)
            .header("authorization", format!("Bot {}", fake.token()))
            .send()
            .await
            .expect("the fake answers")
            .text()
            .await
            .expect("a body");
        let page: Value = serde_json::from_str(&text).expect("a JSON page");
        let page = page.as_array().expect("an array of messages");
        let mut got: Vec<u64> = page
            .iter()
            .filter_map(|m| m["id"].as_str()?.parse().ok())
            .collect();
        got.sort_unstable();
        if let Some(last) = got.last() {
            after = after.max(*last);
        }
        ids.extend(got);
        if page.len() < PAGE {
            return (ids, started.elapsed());
        }
    }
}

async fn archive(dir: &std::path::Path) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(dir.join("hashchat.db"))
                .read_only(true),
        )
        .await
        .expect("the bot's archive opens")
}

/// The Discord ids of archived messages whose archive row id is above `above`, in row order
/// (the order the bot stored them).
async fn archived_after(db: &SqlitePool, above: i64) -> Vec<u64> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT platform_msg_id FROM messages WHERE platform = 'discord' AND id > ?1 ORDER BY id",
    )
    .bind(above)
    .fetch_all(db)
    .await
    .expect("the archive reads");
    rows.into_iter()
        .map(|(id,)| id.parse().expect("a snowflake"))
        .collect()
}

async fn count_after(db: &SqlitePool, above: i64) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT count(*) FROM messages WHERE id > ?1")
        .bind(above)
        .fetch_one(db)
        .await
        .expect("the archive reads")
        .0
}

async fn max_row(db: &SqlitePool) -> i64 {
    sqlx::query_as::<_, (Option<i64>,)>("SELECT max(id) FROM messages")
        .fetch_one(db)
        .await
        .expect("the archive reads")
        .0
        .unwrap_or(0)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    println!(
        "Discord back-fill: hashchat {}, {MESSAGES} messages missed per round, {ROUNDS} rounds; load average at start {}",
        hashchat_bin().display(),
        load_average()
    );
    let fake = FakeDiscord::start().await.expect("the fake starts");
    let d = fake.defaults().clone();
    let dir = tempfile::tempdir().unwrap();
    write_bot_dir(dir.path(), &section(&fake), &[room(d.channel)]);
    let env = [("HASHCHAT_DISCORD_TOKEN", fake.token())];
    let mut log_n = 1;
    let log_path = |n: usize| dir.path().join(format!("bot{n}.log"));
    let mut bot = spawn_hashchat(dir.path(), "bot1.log", &env);
    wait_ready(&fake, WAIT, &log_path(1)).await;

    // A running session, so what is said in the channel is archived.
    let started = fake
        .invoke(
            d.moderator,
            d.channel,
            SlashCommand::parse("/chat start chat:bench").unwrap(),
        )
        .await
        .unwrap()
        .answered(WAIT)
        .await
        .expect("/chat start answered");
    assert!(
        started.content.starts_with("Started"),
        "{started:?}\n{}",
        std::fs::read_to_string(log_path(1)).unwrap_or_default()
    );
    fake.wait_for(WAIT, |f| {
        f.bot_messages(d.channel)
            .into_iter()
            .find(|m| m.content.starts_with("**Intro:**"))
    })
    .await
    .expect("the intro is posted");
    let db = archive(dir.path()).await;
    let first = fake
        .post(Post::new(d.channel, d.alice, "A1 before the bot stops"))
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while !archived_after(&db, 0).await.contains(&first.id.get()) {
        assert!(
            Instant::now() < deadline,
            "the first message never archived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The cursor is saved after the message is archived; a clean stop lets that finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop(&mut bot);

    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    for round in 0..ROUNDS {
        let seeded: Vec<u64> = fake
            .seed_history(d.channel, d.alice, MESSAGES, |i| {
                format!("A1 round {round}, message {i}: what was said while the bot was away")
            })
            .expect("the channel exists")
            .into_iter()
            .map(MessageId::get)
            .collect();
        let before_first = seeded[0] - 1;
        let (paged, bare_before) = page_through(&http, &fake, d.channel, before_first).await;
        assert_eq!(
            paged, seeded,
            "the bare client read every message, in order"
        );

        let above = max_row(&db).await;
        let history_requests = fake.requests_matching("GET /channels/*/messages").len();
        log_n += 1;
        let spawned_at = SystemTime::now();
        let t0 = Instant::now();
        bot = spawn_hashchat(dir.path(), &format!("bot{log_n}.log"), &env);
        let deadline = t0 + Duration::from_secs(600);
        loop {
            if count_after(&db, above).await >= MESSAGES as i64 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: not all {MESSAGES} archived within 10 minutes; log:\n{}",
                std::fs::read_to_string(log_path(log_n)).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let total = t0.elapsed();
        let done_at = SystemTime::now();
        let first_page = fake
            .requests_matching("GET /channels/*/messages")
            .into_iter()
            .skip(history_requests)
            .find(|r| r.query.contains("after="))
            .expect("the bot paged the history");
        let backfill = done_at
            .duration_since(first_page.at)
            .expect("the first page before the end");
        let startup = first_page.at.duration_since(spawned_at).unwrap_or_default();
        let pages = fake.requests_matching("GET /channels/*/messages").len() - history_requests;
        let archived = archived_after(&db, above).await;
        assert_eq!(
            archived, seeded,
            "round {round}: every missed message archived once, in the order it was said"
        );

        let (paged, bare_after) = page_through(&http, &fake, d.channel, before_first).await;
        assert_eq!(paged, seeded);
        stop(&mut bot);
        println!(
            "  round {round}: hashchat {:.0} msg/s from its start ({:.2} s, of which {:.2} s before its first page), {:.0} msg/s from its first page ({:.2} s, {pages} pages); bare paging {:.0} / {:.0} msg/s before / after ({:.0} / {:.0} ms); ratio {:.3}",
            rate(MESSAGES, total),
            total.as_secs_f64(),
            startup.as_secs_f64(),
            rate(MESSAGES, backfill),
            backfill.as_secs_f64(),
            rate(MESSAGES, bare_before),
            rate(MESSAGES, bare_after),
            bare_before.as_secs_f64() * 1000.0,
            bare_after.as_secs_f64() * 1000.0,
            rate(MESSAGES, backfill) / rate(MESSAGES, (bare_before + bare_after) / 2),
        );
        rows.push((
            rate(MESSAGES, total),
            rate(MESSAGES, backfill),
            rate(MESSAGES, (bare_before + bare_after) / 2),
        ));
    }
    let from_start = median(rows.iter().map(|r| r.0).collect());
    let from_page = median(rows.iter().map(|r| r.1).collect());
    let bare = median(rows.iter().map(|r| r.2).collect());
    println!(
        "  medians: hashchat {from_start:.0} msg/s from its start, {from_page:.0} msg/s from its first page; the fake's own paging {bare:.0} msg/s; ratio {:.3} (load average now {})",
        from_page / bare,
        load_average()
    );
    let kept = support::keep(
        "discord_backfill_bot.log",
        &(1..=log_n)
            .map(|n| std::fs::read_to_string(log_path(n)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n---\n"),
    );
    println!("  the bot's logs: {}", kept.display());
}
