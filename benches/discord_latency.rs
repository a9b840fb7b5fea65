//! The Discord bot's slash-command latency and idle memory, against the fake Discord
//! (`discord-fake`, in this process) and a bare serenity bot answering the same interactions.
//!
//! A plain `main` (no criterion: each sample is a gateway dispatch and a REST callback between
//! processes). Two fakes run in this process, one per bot: the fake models one application,
//! and hashchat answers every interaction dispatched to its application, so two bots sharing
//! one fake would race to answer each other's commands. Each bot is a process of its own with
//! its own tokio runtime (the floor is this executable run again with `HASHCHAT_BENCH_FLOOR`
//! set), so each side pays the same hops. Over `RUNS` interleaved rounds (the order flipped
//! every round, so load hits both alike) it measures, as the fake sees it (INTERACTION_CREATE
//! dispatched → the callback request handled, the fake's own `Instant`s):
//!
//! 1. **hashchat, `/chat help`**: the help text, answered at once (ephemeral);
//! 2. **hashchat, `/chat start chat:nosuchchat`** (a moderator): the refusal, answered at once;
//! 3. **floor**: a serenity 0.12 `Client` whose `EventHandler` answers each of those two
//!    commands with the very callback body hashchat sent for it (captured in the warm-up), so
//!    the fake stores and dispatches the same message for both.
//!
//! Plus the hashchat process's memory once connected and idle (RSS, PSS and anonymous memory
//! from `/proc/PID/smaps_rollup`, a breakdown by mapping kept in `target/tmp`) and its CPU time.
//! Run: `cargo bench --bench discord_latency` (builds the release binary; about a minute once
//! built). Memory goals are judged on the deployed build:
//! `HASHCHAT_BENCH_BIN=target/dist/hashchat cargo bench --bench discord_latency`.

mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use discord_fake::{FakeDiscord, InteractionReply, SlashCommand, UserId};
use serde_json::{json, Value};
use support::discord::{room, section, wait_ready};
use support::{
    cpu_time, hashchat_bin, keep, load_average, spawn_hashchat, summary, write_bot_dir, Memory,
};

const RUNS: usize = 200;
const WARMUP: usize = 10;
const WAIT: Duration = Duration::from_secs(60);
/// What the floor process is told: the fake's REST URL, the token, the guild, and the callback
/// body to send for each subcommand.
const FLOOR_ENV: &str = "HASHCHAT_BENCH_FLOOR";

/// The two commands measured, both run by the moderator: (series name, the command line).
const COMMANDS: [(&str, &str); 2] = [
    ("help", "/chat help"),
    ("start", "/chat start chat:nosuchchat"),
];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match std::env::var(FLOOR_ENV) {
        Ok(spec) => runtime.block_on(floor::run(serde_json::from_str(&spec).expect("a spec"))),
        Err(_) => runtime.block_on(bench()),
    }
}

/// Kills the floor process when the harness ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `user` runs `line` in the fake's default channel; what the fake recorded of the answer.
async fn ask(fake: &FakeDiscord, user: UserId, line: &str) -> InteractionReply {
    let d = fake.defaults();
    let handle = fake
        .invoke(
            user,
            d.channel,
            SlashCommand::parse(line).expect("a command"),
        )
        .await
        .expect("the fake dispatches it");
    handle
        .callback(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("{line} was never answered"))
}

/// The body of the last interaction callback the bot sent to `fake`.
fn last_callback_body(fake: &FakeDiscord) -> Value {
    fake.requests_matching("POST /interactions/*/*/callback")
        .pop()
        .and_then(|r| r.body)
        .expect("a callback with a JSON body")
}

async fn bench() {
    println!(
        "Discord latency: hashchat {} against the fake Discord; load average at start {}",
        hashchat_bin().display(),
        load_average()
    );
    let bot_fake = FakeDiscord::start().await.expect("the fake starts");
    let floor_fake = FakeDiscord::start().await.expect("the fake starts");
    let d = bot_fake.defaults().clone();

    let dir = tempfile::tempdir().unwrap();
    write_bot_dir(dir.path(), &section(&bot_fake), &[room(d.channel)]);
    let mut bot = spawn_hashchat(
        dir.path(),
        "bot.log",
        &[("HASHCHAT_DISCORD_TOKEN", bot_fake.token())],
    );
    let log = dir.path().join("bot.log");
    wait_ready(&bot_fake, WAIT, &log).await;

    // Warm-up, and what hashchat answers to each command, for the floor to answer the same.
    let mut answers = serde_json::Map::new();
    for (name, line) in COMMANDS {
        for _ in 0..WARMUP {
            let reply = ask(&bot_fake, d.moderator, line).await;
            assert_eq!(
                reply.callback.kind, 4,
                "{line}: answered at once, not deferred"
            );
        }
        let body = last_callback_body(&bot_fake);
        println!(
            "  hashchat answers {line:?} with {} bytes of callback ({}): {:.60}…",
            body.to_string().len(),
            if body["data"]["flags"] == 64 {
                "ephemeral"
            } else {
                "public"
            },
            body["data"]["content"].as_str().unwrap_or_default()
        );
        answers.insert(name.to_owned(), body);
    }

    let floor_log = dir.path().join("floor.log");
    let spec = json!({
        "base_url": floor_fake.base_url(),
        "token": floor_fake.token(),
        "guild": floor_fake.defaults().guild.get(),
        "answers": answers,
    });
    let floor = Reaped(
        Command::new(std::env::current_exe().expect("this executable"))
            .env(FLOOR_ENV, spec.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&floor_log).unwrap()))
            .spawn()
            .expect("the floor starts"),
    );
    wait_ready(&floor_fake, WAIT, &floor_log).await;
    let fd = floor_fake.defaults().clone();
    for (name, line) in COMMANDS {
        for _ in 0..WARMUP {
            ask(&floor_fake, fd.moderator, line).await;
        }
        assert_eq!(
            last_callback_body(&floor_fake),
            answers[name],
            "the floor sends exactly hashchat's callback for {line}"
        );
    }

    // Idle and connected.
    let cpu_idle_start = cpu_time(bot.id());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu_idle = cpu_time(bot.id()) - cpu_idle_start;
    let idle = Memory::of(bot.id());
    let floor_idle = Memory::of(floor.0.id());
    let by_mapping = keep(
        "discord_latency_bot_smaps.txt",
        &support::smaps_by_mapping(bot.id()),
    );

    let mut samples: HashMap<(&str, &str), Vec<Duration>> = HashMap::new();
    let cpu_before = cpu_time(bot.id());
    let floor_cpu_before = cpu_time(floor.0.id());
    let started = Instant::now();
    for i in 0..RUNS {
        for (name, line) in COMMANDS {
            let mut sides = [
                ("hashchat", &bot_fake, d.moderator),
                ("floor", &floor_fake, fd.moderator),
            ];
            if i % 2 == 1 {
                sides.reverse();
            }
            for (side, fake, user) in sides {
                let reply = ask(fake, user, line).await;
                assert_eq!(reply.callback.kind, 4, "{side} {line}: answered at once");
                samples
                    .entry((side, name))
                    .or_default()
                    .push(reply.callback_latency);
            }
        }
    }
    let elapsed = started.elapsed();
    let cpu_rounds = cpu_time(bot.id()) - cpu_before;
    let floor_cpu_rounds = cpu_time(floor.0.id()) - floor_cpu_before;
    let after = Memory::of(bot.id());
    support::stop(&mut bot);
    drop(floor);

    println!(
        "Slash command -> interaction callback, as the fake sees it, {RUNS} interleaved rounds in {:.1} s (load average now {}):",
        elapsed.as_secs_f64(),
        load_average()
    );
    for (name, line) in COMMANDS {
        let (bot_m, bot90) = summary(
            &format!("hashchat {line}"),
            samples.get_mut(&("hashchat", name)).unwrap(),
        );
        let (floor_m, floor90) = summary(
            "serenity floor, same answer",
            samples.get_mut(&("floor", name)).unwrap(),
        );
        println!(
            "    hashchat adds {:+.3} ms at the median ({:+.3} ms at p90; ratio {:.2}); goal <= +2 ms: {}",
            bot_m - floor_m,
            bot90 - floor90,
            bot_m / floor_m,
            if bot_m - floor_m <= 2.0 { "met" } else { "MISSED" }
        );
    }
    println!(
        "  hashchat memory ({}), connected and idle 10 s: {}",
        hashchat_bin().display(),
        idle.describe()
    );
    println!("    after the rounds: {}", after.describe());
    println!("    by mapping: {}", by_mapping.display());
    println!(
        "  hashchat CPU: {:.0} ms idle in 10 s; {:.0} ms over the rounds ({:.2} ms a command)",
        cpu_idle.as_secs_f64() * 1000.0,
        cpu_rounds.as_secs_f64() * 1000.0,
        cpu_rounds.as_secs_f64() * 1000.0 / (RUNS * COMMANDS.len()) as f64
    );
    println!(
        "  the floor (this bench executable, {} build, a serenity client with its cache): {}; {:.0} ms CPU over the rounds",
        if cfg!(debug_assertions) { "debug" } else { "optimised" },
        floor_idle.describe(),
        floor_cpu_rounds.as_secs_f64() * 1000.0
    );
    let kept = keep(
        "discord_latency_bot.log",
        &std::fs::read_to_string(&log).unwrap_or_default(),
    );
    println!("  the bot's log: {}", kept.display());
}

/// The floor: a bare serenity bot answering each `/chat` subcommand with a fixed callback body.
mod floor {
    use super::*;
    use serenity::all::{
        Context, EventHandler, GatewayIntents, GuildId, HttpBuilder, Interaction, Ready,
    };
    use serenity::async_trait;

    struct Handler {
        guild: GuildId,
        answers: HashMap<String, Value>,
    }

    #[async_trait]
    impl EventHandler for Handler {
        async fn ready(&self, ctx: Context, _: Ready) {
            let commands = hashchat_discord::commands::definitions();
            if let Err(e) = ctx.http.create_guild_commands(self.guild, &commands).await {
                eprintln!("floor: could not register /chat: {e}");
            }
        }

        async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
            let Interaction::Command(cmd) = interaction else {
                return;
            };
            let Some(body) = cmd
                .data
                .options
                .first()
                .and_then(|o| self.answers.get(&o.name))
            else {
                eprintln!("floor: no answer for {:?}", cmd.data.options);
                return;
            };
            if let Err(e) = ctx
                .http
                .create_interaction_response(cmd.id, &cmd.token, body, vec![])
                .await
            {
                eprintln!("floor: callback failed: {e}");
            }
        }
    }

    pub async fn run(spec: Value) {
        let http = HttpBuilder::new(spec["token"].as_str().expect("a token"))
            .proxy(spec["base_url"].as_str().expect("a URL"))
            .ratelimiter_disabled(true)
            .build();
        let answers = spec["answers"]
            .as_object()
            .expect("answers")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // hashchat's intents: GUILDS, GUILD_MESSAGES, GUILD_MESSAGE_REACTIONS, MESSAGE_CONTENT.
        let intents = GatewayIntents::GUILDS
            | GatewayIntents::GUILD_MESSAGES
            | GatewayIntents::GUILD_MESSAGE_REACTIONS
            | GatewayIntents::MESSAGE_CONTENT;
        let mut client = serenity::client::ClientBuilder::new_with_http(http, intents)
            .event_handler(Handler {
                guild: GuildId::new(spec["guild"].as_u64().expect("a guild id")),
                answers,
            })
            .await
            .expect("the client builds");
        if let Err(e) = client.start().await {
            eprintln!("floor: the client stopped: {e}");
        }
    }
}
