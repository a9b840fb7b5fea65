//! The bot in a chat with a Matrix room (the test Synapse) and a Discord channel (the fake in
//! this process) at once, for the relaying tests; and waiting on what a Matrix user sees.

#![allow(dead_code)]

use std::time::Duration;

use discord_fake::{ChannelId, FakeDiscord, Message};

use crate::support::read;
use crate::support::synapse::Homeserver;
use crate::{discord, matrix};

pub const WAIT: Duration = Duration::from_secs(60);

/// A chat `quick` with a Matrix room (its moderator a Matrix user) and the fake Discord's
/// channel, the bot connected to both.
pub struct Bridge {
    pub moderator: matrix::Person,
    pub room: String,
    pub bot: matrix::Bot,
    pub fake: FakeDiscord,
}

impl Bridge {
    /// Points a minute (three real seconds) apart, one Discord channel.
    pub async fn start() -> Bridge {
        Bridge::start_with(1, false, "").await
    }

    /// Points `minutes` apart; with `second_channel`, the fake's second channel is a room of
    /// the chat too; `more` goes into the chat file's top-level table.
    pub async fn start_with(minutes: u32, second_channel: bool, more: &str) -> Bridge {
        Bridge::start_with_env(minutes, second_channel, more, &[]).await
    }

    /// As [`Bridge::start_with`], the bot's first start with `env` set too (test aids such as
    /// `HASHCHAT_TEST_HOLD_BEFORE_RECORDING_COPY`).
    pub async fn start_with_env(
        minutes: u32,
        second_channel: bool,
        more: &str,
        env: &[(&str, &str)],
    ) -> Bridge {
        Bridge::start_full(minutes, second_channel, more, env, None).await
    }

    /// As [`Bridge::start`], with the browser room `web:lobby` a room of the chat too, served
    /// on `port` and taking files of up to a megabyte.
    pub async fn start_with_browser_room(port: u16) -> Bridge {
        Bridge::start_full(1, false, "", &[], Some(port)).await
    }

    async fn start_full(
        minutes: u32,
        second_channel: bool,
        more: &str,
        env: &[(&str, &str)],
        web_port: Option<u16>,
    ) -> Bridge {
        let server = Homeserver::from_env();
        let moderator = matrix::Person::new(&server, "moderator").await;
        let room = moderator.create_room(&server, None, false, None).await;
        let mut bot =
            matrix::Bot::new(&server, "quick", &room, &[&moderator.user_id], minutes).await;

        let fake = FakeDiscord::start().await.unwrap();
        let d = fake.defaults().clone();
        let mut channels = format!("\"discord:{}\"", d.channel);
        if second_channel {
            channels.push_str(&format!(", \"discord:{}\"", d.second_channel));
        }
        if web_port.is_some() {
            channels.push_str(", \"web:lobby\"");
        }
        let config = bot.scratch.path("hashchat.toml");
        let mut text = read(&config);
        text.push_str(&discord::discord_section(&fake, discord::Reach::AsDiscord));
        if let Some(port) = web_port {
            text.push_str(&format!(
                "\n[web]\nlisten = \"127.0.0.1:{port}\"\nmax_upload_megabytes = 1\n"
            ));
        }
        std::fs::write(&config, text).unwrap();
        let chat = matrix::chat_file("quick", &room, minutes, more).replace(
            &format!("rooms = [\"matrix:{room}\"]"),
            &format!("rooms = [\"matrix:{room}\", {channels}]"),
        );
        assert!(chat.contains("discord:"), "the chat names both rooms");
        bot.scratch.write("chats/quick.toml", &chat);
        // The Matrix bot's start sets its own secrets; the Discord token and the route to the
        // fake come through the bot's environment.
        bot.env
            .push(("HASHCHAT_DISCORD_TOKEN".to_owned(), fake.token().to_owned()));
        bot.env.extend(discord::test_route_env(&fake, &bot.scratch));
        let plain_env = bot.env.clone();
        bot.env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        bot.start();
        bot.env = plain_env;
        moderator.invite(&room, &bot.user_id).await;
        bot.wait_joined(&room, &moderator).await;
        assert!(
            fake.wait_connected(WAIT).await,
            "never connected to Discord; log:\n{}",
            bot.logs()
        );
        Bridge {
            moderator,
            room,
            bot,
            fake,
        }
    }
}

/// The bot's message in `channel` for which `wanted` holds, once the fake has it; fails with
/// the bot's log after [`WAIT`].
pub async fn discord_message(
    fake: &FakeDiscord,
    channel: ChannelId,
    bot: &matrix::Bot,
    what: &str,
    wanted: impl Fn(&Message) -> bool,
) -> Message {
    let found = fake
        .wait_for(WAIT, |f| {
            f.bot_messages(channel).into_iter().find(|m| wanted(m))
        })
        .await;
    match found {
        Some(message) => message,
        None => panic!("no {what} on Discord; log:\n{}", bot.logs()),
    }
}

/// Polls `check` until it gives a value, for at most [`WAIT`].
pub async fn poll<T, F, Fut>(what: &str, bot: &matrix::Bot, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < WAIT,
            "gave up waiting for {what}; log:\n{}",
            bot.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The bot's event in `room` whose body contains `text`, once `person` sees it.
pub async fn bot_event(
    person: &matrix::Person,
    room: &str,
    bot: &matrix::Bot,
    text: &str,
) -> serde_json::Value {
    poll(&format!("the bot's `{text}` on Matrix"), bot, || async {
        person
            .messages(room)
            .await
            .into_iter()
            .find(|e| e["sender"] == bot.user_id && body(e).contains(text))
    })
    .await
}

/// The body of `event`'s content, or "".
pub fn body(event: &serde_json::Value) -> &str {
    event["content"]["body"].as_str().unwrap_or("")
}

/// The bodies of the messages `session`'s transcript holds, in order.
pub fn archived_bodies(bot: &crate::support::BotProcess, session: &str) -> Vec<String> {
    bot.transcript(session)["messages"]
        .as_array()
        .expect("a transcript's messages")
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}
