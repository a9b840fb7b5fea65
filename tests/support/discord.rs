//! The `hashchat` binary as a Discord bot against the in-process fake Discord
//! (`discord-fake`): its config, starting and killing it, reading its archive.

#![allow(dead_code)]

use std::time::Duration;

use discord_fake::{ChannelId, FakeDiscord, InteractionReply, Message, SlashCommand, UserId};
use serde_json::Value;

use crate::support::{read, BotProcess, Scratch};

/// Virtual minutes per real second: with a minute between points, a point every three seconds.
pub const SPEED: f64 = 20.0;
pub const WAIT: Duration = Duration::from_secs(60);

/// How the bot reaches the fake's REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// As in production: serenity's ratelimiter on, requests to `https://discord.com`, which
    /// the bot resolves to the fake's TLS address, trusting the fake's test authority.
    AsDiscord,
    /// `[discord] api_url`, a proxy that does the rate limiting: serenity's ratelimiter off,
    /// the bot's own `Retry-After` handling in the path.
    ThroughProxy,
}

/// The bot as a process, configured for `fake` with one chat, `quick`, of three points one
/// minute apart in `channel`.
pub struct Bot {
    pub process: BotProcess,
    token: String,
    reach: Reach,
    /// `HASHCHAT_TEST_DISCORD_*` when the bot reaches the fake as discord.com.
    route: Vec<(String, String)>,
    /// Extra environment for the next start (test aids such as
    /// `HASHCHAT_TEST_COMMAND_DELAY_MS`).
    pub env: Vec<(String, String)>,
}

impl Bot {
    /// The bot reaching the fake as it would reach Discord ([`Reach::AsDiscord`]).
    pub fn new(fake: &FakeDiscord, channel: ChannelId) -> Bot {
        Bot::reaching(fake, channel, Reach::AsDiscord)
    }

    pub fn reaching(fake: &FakeDiscord, channel: ChannelId, reach: Reach) -> Bot {
        let scratch = Scratch::new();
        let config = scratch.write_config();
        let mut text = read(&config);
        text.push_str(&discord_section(fake, reach));
        std::fs::write(&config, text).unwrap();
        let route = match reach {
            Reach::AsDiscord => test_route_env(fake, &scratch),
            Reach::ThroughProxy => Vec::new(),
        };
        scratch.write("chats/quick.toml", &chat_file("quick", channel));
        let args = vec![
            "run".to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
            "--speed".to_owned(),
            SPEED.to_string(),
            "--time-anchor".to_owned(),
            chrono::Utc::now().to_rfc3339(),
        ];
        Bot {
            process: BotProcess::new(scratch, args),
            token: fake.token().to_owned(),
            reach,
            route,
            env: Vec::new(),
        }
    }

    pub fn start(&mut self) {
        let (token, mut env) = (self.token.clone(), self.env.clone());
        env.extend(self.route.iter().cloned());
        self.process.start(|command| {
            command.env_remove("HASHCHAT_TEST_COMMAND_DELAY_MS");
            for (k, v) in &env {
                command.env(k, v);
            }
            command
                .env("HASHCHAT_DISCORD_TOKEN", &token)
                .env("RUST_LOG", "info,hashchat_discord=debug");
        });
    }

    /// Starts the bot again (after a kill) and waits until it is on the gateway again and has
    /// read back what was said meanwhile: only then does it see a slash command.
    pub async fn restart(&mut self) {
        const CONNECTED: &str = "connected to the Discord gateway";
        let before = self.logs().matches(CONNECTED).count();
        self.start();
        self.wait_for_log(CONNECTED, before + 1, WAIT).await;
    }

    /// Replaces the chat file `quick` (before the bot starts).
    pub fn set_chat(&self, text: &str) {
        self.scratch.write("chats/quick.toml", text);
    }

    /// Starts the bot and waits until `/chat` is registered in the test guild and the gateway
    /// is connected.
    pub async fn start_and_wait(&mut self, fake: &FakeDiscord) {
        self.start();
        let registered = fake
            .wait_for_request(
                &format!(
                    "PUT /applications/*/guilds/{}/commands",
                    fake.defaults().guild
                ),
                WAIT,
            )
            .await;
        let Some(registered) = registered else {
            panic!("/chat never registered; log:\n{}", self.logs());
        };
        let over_tls = registered.host == "discord.com";
        assert_eq!(
            over_tls,
            self.reach == Reach::AsDiscord,
            "{:?} reached the fake at {}",
            self.reach,
            registered.host
        );
        assert!(
            fake.wait_connected(WAIT).await,
            "never connected; log:\n{}",
            self.logs()
        );
    }
}

/// The `[discord]` table for `fake`, the guild its one, avatars from the fake's CDN path.
pub fn discord_section(fake: &FakeDiscord, reach: Reach) -> String {
    let api_url = match reach {
        Reach::AsDiscord => String::new(),
        Reach::ThroughProxy => format!("api_url = \"{}\"\n", fake.base_url()),
    };
    format!(
        "\n[discord]\nguilds = [\"{}\"]\n{api_url}cdn_url = \"{}\"\n",
        fake.defaults().guild,
        fake.base_url()
    )
}

/// The environment that has the bot reach `discord.com` at the fake's TLS address, trusting
/// the fake's test authority (written into `scratch`).
pub fn test_route_env(fake: &FakeDiscord, scratch: &Scratch) -> Vec<(String, String)> {
    let ca = scratch.write("discord-fake-ca.pem", fake.tls_ca_pem());
    vec![
        (
            "HASHCHAT_TEST_DISCORD_ADDRESS".to_owned(),
            fake.tls_address().to_string(),
        ),
        (
            "HASHCHAT_TEST_DISCORD_CA_FILE".to_owned(),
            ca.display().to_string(),
        ),
    ]
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

pub fn chat_file(slug: &str, channel: ChannelId) -> String {
    format!(
        r##"slug = "{slug}"
title = "A Discord chat"
hashtag = "#{slug}"
description = "Three points"
intro = "Welcome, everyone"
wrap_up = "Thank you all"
time_zone = "UTC"
minutes_between_points = 1
intro_minutes = 1
rooms = ["discord:{channel}"]

[[points]]
text = "What brought you here?"
[[points]]
text = "What would you change?"
[[points]]
text = "What comes next?"
"##
    )
}

/// [`chat_file`] with each session in a thread of its own (`[discord] thread_per_session`).
pub fn threaded_chat_file(slug: &str, channel: ChannelId) -> String {
    format!(
        "{}\n[discord]\nthread_per_session = true\n",
        chat_file(slug, channel)
    )
}

/// The labels of the bot's step posts in a channel, in order: `Intro`, `Q1`, … `Wrap-up`.
pub fn step_labels(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.content.strip_prefix("**"))
        .filter_map(|c| c.split_once(":**").map(|(label, _)| label.to_owned()))
        .collect()
}

/// Waits for the bot's post whose label is `label` (e.g. `Q2`) in `channel`.
pub async fn wait_for_step(
    fake: &FakeDiscord,
    channel: ChannelId,
    label: &str,
    bot: &Bot,
) -> Message {
    let prefix = format!("**{label}:**");
    match fake
        .wait_for(WAIT, |f| {
            f.bot_messages(channel)
                .into_iter()
                .find(|m| m.content.starts_with(&prefix))
        })
        .await
    {
        Some(m) => m,
        None => panic!("no {label} was posted; log:\n{}", bot.logs()),
    }
}

/// The session number in a "Started …, session N: …" answer.
pub fn session_number(text: &str) -> String {
    let after = text
        .split("session ")
        .nth(1)
        .unwrap_or_else(|| panic!("no session number in {text:?}"));
    after.chars().take_while(char::is_ascii_digit).collect()
}

/// The archived message with platform id `id`.
pub fn message(transcript: &Value, id: impl ToString) -> &Value {
    let id = id.to_string();
    transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform_message_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} is not in the archive: {transcript:#}"))
}

/// The platform ids of the archived messages, in order.
pub fn archived_ids(transcript: &Value) -> Vec<String> {
    transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform_message_id"].as_str().unwrap().to_owned())
        .collect()
}

/// `(author id, body, point)` of every archived message, in order.
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
/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// `/chat <line>` from `user` in the default channel; what they see.
pub async fn slash(fake: &FakeDiscord, user: UserId, line: &str, bot: &Bot) -> InteractionReply {
    let handle = fake
        .invoke(
            user,
            fake.defaults().channel,
            SlashCommand::parse(line).expect("a command line"),
        )
        .await
        .expect("the fake dispatches it");
    match handle.answered(Duration::from_secs(20)).await {
        Some(r) => r,
        None => panic!("{line} was never answered; log:\n{}", bot.logs()),
    }
}

/// A moderator's `/chat start chat:quick` in the default channel; the session's number, once
/// its Q1 is posted there.
pub async fn start_until_q1(fake: &FakeDiscord, bot: &Bot) -> String {
    let d = fake.defaults();
    let started = slash(fake, d.moderator, "/chat start chat:quick", bot).await;
    let session = session_number(&started.content);
    wait_for_step(fake, d.channel, "Q1", bot).await;
    session
}
