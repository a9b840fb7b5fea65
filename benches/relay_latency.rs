//! Relaying between a Matrix room and a Discord channel: how much the bot adds to a message's
//! trip, and what rate it holds across ten bridged pairs. Against the test Synapse (start one
//! with `scripts/test --prepare-only` and export what it prints) and the fake Discord in this
//! process; the bot is the `hashchat` executable (`HASHCHAT_BENCH_BIN`, else the release build).
//!
//! A plain `main` (no criterion: each sample crosses two servers and a bot process). Ten chats,
//! each one Matrix room and one Discord channel, all with a session running.
//!
//! **Latency** (`RUNS` interleaved rounds, in pair 0, one message at a time):
//! 1. **Synapse leg** (the Matrix floor): a client sends in a room with nobody else, an
//!    observer's long-polled `/sync` returns it. A relay into or out of Matrix pays this once.
//! 2. **Fake floor** (the Discord floor): one `POST /channels/{id}/messages` to the fake from
//!    this process, answered. A relay into or out of Discord pays about this once: the bot's
//!    post, or the fake's dispatch of the original.
//! 3. **Discord → Matrix**: the fake takes Alice's message → the observer's sync returns the
//!    bot's copy.
//! 4. **Matrix → Discord**: a client sends → the fake stores the bot's copy (the fake's own
//!    `created_at` of the copy, against the time the send started, on this process's clock).
//!
//! The bot's share is each relay's percentile minus the same percentile of leg + floor.
//!
//! **Sustained**: for each rate in `HASHCHAT_BENCH_RATES` (default `10,25,50,100,200` messages
//! a second, half written on each side, spread over the ten pairs), `HASHCHAT_BENCH_SECONDS`
//! (default 60; the figure is 120) of paced sends, then up to 30 s for the last copies;
//! per rate: sent, relayed, missing (not there 30 s after the step; a copy waiting in the bot's
//! outbox counts) and duplicated (on Matrix counted from the rooms' histories,
//! since a limited `/sync` skips events), p50/p99 each way, Synapse's own send → sync of the
//! Matrix originals under the same load, the CPU the bot and Synapse used, and the bot's
//! resident memory before and after.
//!
//! Run: `cargo bench --bench relay_latency` (builds the release binary).

#![recursion_limit = "256"]

mod support;

#[allow(dead_code)]
#[path = "../tests/support/synapse.rs"]
mod synapse;

#[allow(dead_code)]
#[path = "support/matrix.rs"]
mod matrix_client;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use discord_fake::{ChannelId, FakeDiscord, Post};
use matrix_client::{Client, Observer};
use serde_json::json;
use support::discord::{room, section, wait_ready};
use support::{cpu_time, load_average, ms, spawn_hashchat, stop, Memory};
use synapse::Homeserver;

const RUNS: usize = 200;
const WARMUP: usize = 10;
const PAIRS: usize = 10;
const WAIT: Duration = Duration::from_secs(120);

/// A tag no other tag contains (letters and digits only, so no platform escapes it).
fn tag(series: &str, n: usize) -> String {
    format!("q{series}x{n}z")
}

/// The value at `p` (0–1) of sorted `samples`, in ms.
fn percentile(samples: &[Duration], p: f64) -> f64 {
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    ms(samples[i])
}

fn report(name: &str, samples: &mut [Duration]) -> (f64, f64) {
    assert!(!samples.is_empty(), "no samples for {name}");
    samples.sort();
    let (p50, p99) = (percentile(samples, 0.5), percentile(samples, 0.99));
    println!(
        "  {name:<34} p50 {p50:8.2} ms   p99 {p99:8.2} ms   (min {:.2}, max {:.2}, n={})",
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
    (p50, p99)
}

/// The bot's config and one chat per pair, `bench0`…, whose points are an hour apart.
fn write_config(
    dir: &Path,
    server: &Homeserver,
    bot: &str,
    inviter: &str,
    pairs: &[(String, ChannelId)],
    fake: &FakeDiscord,
) {
    std::fs::create_dir_all(dir.join("chats")).unwrap();
    std::fs::write(
        dir.join("hashchat.toml"),
        format!(
            "[database]\nurl = \"sqlite://{0}/hashchat.db\"\n[chats]\ndir = \"chats\"\n[data]\ndir = \"{0}/data\"\n[log]\nlevel = \"{3}\"\n[matrix]\nhomeserver = \"{1}\"\nuser = \"{bot}\"\naccept_invites_from = [\"{inviter}\"]\n{2}",
            dir.display(),
            server.url,
            section(fake),
            // `HASHCHAT_BENCH_LOG=warn,bot_core=debug,hashchat_discord=debug,hashchat_matrix=debug`
            // times each stage of a relay in the bot's log, kept as target/tmp/relay_latency_bot.log.
            std::env::var("HASHCHAT_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        ),
    )
    .unwrap();
    for (i, (matrix_room, channel)) in pairs.iter().enumerate() {
        std::fs::write(
            dir.join(format!("chats/bench{i}.toml")),
            format!(
                "slug = \"bench{i}\"\ntitle = \"Bench {i}\"\nhashtag = \"#bench{i}\"\ndescription = \"d\"\nintro = \"hi\"\nwrap_up = \"bye\"\ntime_zone = \"UTC\"\nminutes_between_points = 60\nintro_minutes = 60\nrooms = [\"matrix:{matrix_room}\", \"{}\"]\n[[points]]\ntext = \"One?\"\n",
                room(*channel)
            ),
        )
        .unwrap();
    }
}

/// When each tagged copy reached Matrix, by tag, as the observer's sync returned it; copies
/// seen more than once are counted.
#[derive(Default)]
struct Arrivals {
    first: HashMap<String, DateTime<Utc>>,
    /// The Matrix originals of Matrix → Discord messages, as the observer saw them: Synapse's
    /// own send → sync time under the same load.
    originals: HashMap<String, DateTime<Utc>>,
}

/// Long-polls the observer forever, noting when tagged events (`q…z`) arrive: the bot's copies
/// and the originals written on Matrix.
fn spawn_matrix_watch(
    mut observer: Observer,
    bot: String,
    arrivals: Arc<Mutex<Arrivals>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            observer
                .until(|e| {
                    if let Some(t) = find_tag(e["content"]["body"].as_str().unwrap_or("")) {
                        let mut a = arrivals.lock().unwrap();
                        let seen = if e["sender"] == bot.as_str() {
                            &mut a.first
                        } else {
                            &mut a.originals
                        };
                        seen.entry(t).or_insert_with(Utc::now);
                    }
                    false
                })
                .await;
        }
    })
}

fn find_tag(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() > 3 && w.starts_with('q') && w.ends_with('z') && w.contains('x'))
        .map(str::to_owned)
}

/// The bot's copies in `channel` by tag, with the fake's time of each; and how many tags came
/// more than once.
fn discord_copies(
    fake: &FakeDiscord,
    channel: ChannelId,
) -> (HashMap<String, DateTime<Utc>>, usize) {
    let mut copies = HashMap::new();
    let mut duplicates = 0;
    for m in fake.bot_messages(channel) {
        if let Some(t) = find_tag(&m.content) {
            if copies.insert(t, m.created_at).is_some() {
                duplicates += 1;
            }
        }
    }
    (copies, duplicates)
}

/// When each message of a sustained run was sent, by tag, and whether on Discord.
type SentAt = Arc<Mutex<HashMap<String, (DateTime<Utc>, bool)>>>;

/// How a sustained run's messages fared so far.
struct Tally {
    to_matrix: Vec<Duration>,
    to_discord: Vec<Duration>,
    /// Synapse's send → sync of the Matrix originals, under the same load.
    synapse_leg: Vec<Duration>,
    /// Copies the observer has not seen (yet): a limited `/sync` skips some under load, so
    /// loss is counted from the rooms' histories at the end.
    unseen: usize,
    duplicated_discord: usize,
}

fn tally(
    series: &str,
    sent_at: &SentAt,
    arrivals: &Mutex<Arrivals>,
    fake: &FakeDiscord,
    pairs: &[(String, ChannelId)],
) -> Tally {
    let sent = sent_at.lock().unwrap().clone();
    let mut discord: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut duplicated_discord = 0;
    for (_, channel) in pairs {
        let (copies, dup) = discord_copies(fake, *channel);
        discord.extend(copies);
        duplicated_discord += dup;
    }
    let matrix = arrivals.lock().unwrap();
    let prefix = format!("q{series}x");
    let mut t = Tally {
        to_matrix: Vec::new(),
        to_discord: Vec::new(),
        synapse_leg: Vec::new(),
        unseen: 0,
        duplicated_discord,
    };
    for (tag, (at, from_discord)) in sent.iter().filter(|(tag, _)| tag.starts_with(&prefix)) {
        match (from_discord, matrix.first.get(tag), discord.get(tag)) {
            (true, Some(end), _) => t.to_matrix.push(since(*at, *end)),
            (false, _, Some(end)) => t.to_discord.push(since(*at, *end)),
            _ => t.unseen += 1,
        }
        if let (false, Some(seen)) = (from_discord, matrix.originals.get(tag)) {
            t.synapse_leg.push(since(*at, *seen));
        }
    }
    t
}

/// The test homeserver's process, found by its command line.
fn synapse_pid() -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains("synapse.app.homeserver")
                .then_some(pid)
        })
}

async fn wait_matrix(arrivals: &Mutex<Arrivals>, tag: &str) -> DateTime<Utc> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(at) = arrivals.lock().unwrap().first.get(tag) {
            return *at;
        }
        assert!(Instant::now() < deadline, "no Matrix copy of {tag}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn since(start: DateTime<Utc>, end: DateTime<Utc>) -> Duration {
    (end - start).to_std().unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let server = Homeserver::from_env();
    let run = format!("{}x{}", std::process::id(), Utc::now().timestamp_millis());
    let sender = Arc::new(Client::new(
        &server.url,
        server.register(&format!("sender{run}"), false).await,
    ));
    let observer_user = server.register(&format!("observer{run}"), false).await;
    let observer_client = Client::new(&server.url, observer_user.clone());
    let leg_observer_client = Client::new(
        &server.url,
        server.register(&format!("legobserver{run}"), false).await,
    );
    let bot_name = format!("bot{run}");
    let bot_user = server.register(&bot_name, false).await;

    let fake = Arc::new(FakeDiscord::start().await.unwrap());
    let d = fake.defaults().clone();
    let mut channels = vec![d.channel];
    for i in 1..PAIRS {
        channels.push(fake.create_channel(d.guild, &format!("bench{i}")).unwrap());
    }
    let quiet_room = sender.create_room().await;
    leg_observer_client.join(&quiet_room).await;
    let mut pairs = Vec::new();
    for channel in &channels {
        let r = sender.create_room().await;
        observer_client.join(&r).await;
        pairs.push((r, *channel));
    }
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &server,
        &bot_user.user_id,
        &sender.user.user_id,
        &pairs,
        &fake,
    );
    let mut bot = spawn_hashchat(
        dir.path(),
        "bot.log",
        &[
            (
                "HASHCHAT_MATRIX_PASSWORD",
                format!("{bot_name}-password").as_str(),
            ),
            ("HASHCHAT_DISCORD_TOKEN", fake.token()),
        ],
    );
    let log = dir.path().join("bot.log");
    wait_ready(&fake, WAIT, &log).await;
    for (r, _) in &pairs {
        sender
            .post(
                &format!("/_matrix/client/v3/rooms/{r}/invite"),
                json!({"user_id": bot_user.user_id}),
            )
            .await;
    }
    let rooms: Vec<String> = pairs.iter().map(|(r, _)| r.clone()).collect();
    let mut observer = Observer::new(observer_client, rooms.clone()).await;
    let mut leg_observer = Observer::new(leg_observer_client, vec![quiet_room.clone()]).await;
    // Each session started from its Matrix room; running once its intro is there.
    for (i, (r, _)) in pairs.iter().enumerate() {
        let deadline = Instant::now() + WAIT;
        loop {
            sender
                .send(
                    r,
                    json!({"msgtype": "m.text", "body": format!("!chat start bench{i}")}),
                )
                .await;
            let intro = tokio::time::timeout(
                Duration::from_secs(10),
                observer.until(|e| {
                    e["sender"] == bot_user.user_id.as_str()
                        && e["content"]["body"]
                            .as_str()
                            .is_some_and(|b| b.starts_with("Intro:"))
                }),
            )
            .await;
            if intro.is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "session bench{i} never started; see {}",
                log.display()
            );
        }
    }
    println!(
        "relay_latency: {PAIRS} pairs running; load {}",
        load_average()
    );
    let arrivals = Arc::new(Mutex::new(Arrivals::default()));
    let watch = spawn_matrix_watch(observer, bot_user.user_id.clone(), arrivals.clone());

    // ---- Latency, one message at a time in pair 0.
    let rest = reqwest::Client::new();
    let floor_url = format!(
        "{}/api/v10/channels/{}/messages",
        fake.base_url(),
        channels[1]
    );
    let (room0, channel0) = pairs[0].clone();
    let mut leg = Vec::new();
    let mut floor = Vec::new();
    let mut d2m = Vec::new();
    let mut m2d = Vec::new();
    for i in 0..WARMUP + RUNS {
        let keep = i >= WARMUP;
        let t0 = Instant::now();
        let sent = sender
            .send(
                &quiet_room,
                json!({"msgtype": "m.text", "body": format!("ping {i}")}),
            )
            .await;
        leg_observer.until(|e| e["event_id"] == sent.as_str()).await;
        let leg_i = t0.elapsed();

        let t0 = Instant::now();
        let answer = rest
            .post(&floor_url)
            .header("authorization", format!("Bot {}", fake.token()))
            .header("content-type", "application/json")
            .body(json!({"content": format!("floor {i}")}).to_string())
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "the fake took the floor post");
        let _ = answer.bytes().await;
        let floor_i = t0.elapsed();

        let t = tag("l", i);
        let start = Utc::now();
        fake.post(Post::new(channel0, d.alice, format!("A1 {t}")))
            .await
            .unwrap();
        let d2m_i = since(start, wait_matrix(&arrivals, &t).await);

        let t = tag("k", i);
        let start = Utc::now();
        sender
            .send(
                &room0,
                json!({"msgtype": "m.text", "body": format!("A1 {t}")}),
            )
            .await;
        let copy = fake
            .wait_for(WAIT, |f| {
                f.bot_messages(channel0)
                    .into_iter()
                    .rev()
                    .find(|m| m.content.contains(&t))
            })
            .await
            .unwrap_or_else(|| panic!("no Discord copy of {t}; see {}", log.display()));
        let m2d_i = since(start, copy.created_at);
        if keep {
            leg.push(leg_i);
            floor.push(floor_i);
            d2m.push(d2m_i);
            m2d.push(m2d_i);
        }
    }
    println!("latency, {RUNS} rounds (after {WARMUP} warm-up):");
    let (leg50, leg99) = report("Synapse leg (send → sync)", &mut leg);
    let (fl50, fl99) = report("fake floor (REST post)", &mut floor);
    let (dm50, dm99) = report("Discord → Matrix relay", &mut d2m);
    let (md50, md99) = report("Matrix → Discord relay", &mut m2d);
    println!(
        "  added by the bot, Discord → Matrix: p50 {:+.2} ms, p99 {:+.2} ms",
        dm50 - leg50 - fl50,
        dm99 - leg99 - fl99
    );
    println!(
        "  added by the bot, Matrix → Discord: p50 {:+.2} ms, p99 {:+.2} ms",
        md50 - leg50 - fl50,
        md99 - leg99 - fl99
    );

    // ---- Sustained, paced over all pairs, half from each side.
    let rates: Vec<u32> = std::env::var("HASHCHAT_BENCH_RATES")
        .unwrap_or_else(|_| "10,25,50,100,200".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let seconds: u64 = std::env::var("HASHCHAT_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let synapse_pid = synapse_pid();
    let observer_history = Client::new(&server.url, observer_user);
    for rate in rates {
        let before = Memory::of(bot.id());
        let step_started = Instant::now();
        let bot_cpu_before = cpu_time(bot.id());
        let synapse_cpu_before = synapse_pid.map(cpu_time).unwrap_or_default();
        let series = format!("r{rate}");
        let total = rate as usize * seconds as usize;
        let sent_at: SentAt = Default::default();
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut sends = Vec::with_capacity(total);
        for n in 0..total {
            ticker.tick().await;
            let t = tag(&series, n);
            let (r, channel) = pairs[n % PAIRS].clone();
            let from_discord = n % 2 == 0;
            let sent_at = sent_at.clone();
            let sender = sender.clone();
            let fake = fake.clone();
            let author = if n % 4 == 0 { d.alice } else { d.bob };
            sends.push(tokio::spawn(async move {
                sent_at
                    .lock()
                    .unwrap()
                    .insert(t.clone(), (Utc::now(), from_discord));
                if from_discord {
                    fake.post(Post::new(channel, author, format!("A1 {t}")))
                        .await
                        .unwrap();
                } else {
                    sender
                        .send(&r, json!({"msgtype": "m.text", "body": format!("A1 {t}")}))
                        .await;
                }
            }));
        }
        for s in sends {
            s.await.unwrap();
        }
        let sending = started.elapsed();
        // The last copies: up to 30 s more.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut t = tally(&series, &sent_at, &arrivals, &fake, &pairs);
        while t.unseen > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            t = tally(&series, &sent_at, &arrivals, &fake, &pairs);
        }
        let (bot_cpu, synapse_cpu) = (
            cpu_time(bot.id()) - bot_cpu_before,
            synapse_pid.map(|p| cpu_time(p) - synapse_cpu_before),
        );
        let wall = step_started.elapsed().as_secs_f64();
        let after = Memory::of(bot.id());
        // Loss and duplicates on Matrix from the rooms' histories, which skip nothing.
        let mut copies: HashMap<String, usize> = HashMap::new();
        for (r, _) in &pairs {
            for e in observer_history.history(r).await {
                if e["sender"] == bot_user.user_id.as_str() {
                    if let Some(tag) = find_tag(e["content"]["body"].as_str().unwrap_or("")) {
                        *copies.entry(tag).or_default() += 1;
                    }
                }
            }
        }
        let sent = sent_at.lock().unwrap().clone();
        let from_discord: Vec<&String> = sent
            .iter()
            .filter(|(tag, (_, d))| *d && tag.starts_with(&format!("q{series}x")))
            .map(|(tag, _)| tag)
            .collect();
        let lost_matrix = from_discord
            .iter()
            .filter(|t| !copies.contains_key(**t))
            .count();
        let duplicated_matrix = from_discord
            .iter()
            .filter(|t| copies.get(**t).is_some_and(|n| *n > 1))
            .count();
        let lost_discord = total - from_discord.len() - t.to_discord.len();
        println!(
            "sustained {rate} msg/s for {seconds} s: sent {total} in {:.1} s ({:.1}/s); after 30 s more: {} of {} on Matrix (missing {lost_matrix}, duplicated {duplicated_matrix}; the observer saw {} in time), {} of {} on Discord (missing {lost_discord}, duplicated {}); CPU over the step: bot {:.0}%, Synapse {}; load {}",
            sending.as_secs_f64(),
            total as f64 / sending.as_secs_f64(),
            from_discord.len() - lost_matrix,
            from_discord.len(),
            t.to_matrix.len(),
            t.to_discord.len(),
            total - from_discord.len(),
            t.duplicated_discord,
            100.0 * bot_cpu.as_secs_f64() / wall,
            synapse_cpu.map_or("unknown".to_owned(), |c| format!("{:.0}%", 100.0 * c.as_secs_f64() / wall)),
            load_average()
        );
        if !t.synapse_leg.is_empty() {
            report("Synapse leg (Matrix originals)", &mut t.synapse_leg);
        }
        if !t.to_matrix.is_empty() {
            report("Discord → Matrix", &mut t.to_matrix);
        }
        if !t.to_discord.is_empty() {
            report("Matrix → Discord", &mut t.to_discord);
        }
        println!("  bot memory before: {}", before.describe());
        println!("  bot memory after:  {}", after.describe());
    }
    watch.abort();
    stop(&mut bot);
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/relay_latency_bot.log");
    let _ = std::fs::create_dir_all(kept.parent().unwrap());
    let _ = std::fs::copy(&log, &kept);
}
