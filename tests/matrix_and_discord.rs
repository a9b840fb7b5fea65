//! One chat with a Matrix room and a Discord channel: the `hashchat` binary connected to the
//! test Synapse and the fake Discord at once posts every step of a session in both rooms,
//! each once and in order, and archives what is said in each. (Relaying people's messages
//! between the two is another matter, not tested here.)

#![recursion_limit = "256"]

#[path = "support/discord.rs"]
mod discord;
#[path = "support/matrix.rs"]
mod matrix;
mod support;

use std::time::Duration;

use discord_fake::{FakeDiscord, Post};
use support::read;
use support::synapse::Homeserver;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_with_a_matrix_room_and_a_discord_channel_posts_each_step_in_both() {
    let server = Homeserver::from_env();
    let moderator = matrix::Person::new(&server, "moderator").await;
    let room = moderator.create_room(&server, None, false, None).await;
    let mut bot = matrix::Bot::new(&server, "quick", &room, &[&moderator.user_id], 1).await;

    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let config = bot.scratch.path("hashchat.toml");
    let mut text = read(&config);
    text.push_str(&discord::discord_section(&fake, discord::Reach::AsDiscord));
    std::fs::write(&config, text).unwrap();
    let chat = matrix::chat_file("quick", &room, 1, "").replace(
        &format!("rooms = [\"matrix:{room}\"]"),
        &format!("rooms = [\"matrix:{room}\", \"discord:{}\"]", d.channel),
    );
    assert!(chat.contains("discord:"), "the chat names both rooms");
    bot.scratch.write("chats/quick.toml", &chat);
    // The Matrix bot's start sets its own secrets; the Discord token and the route to the fake
    // come from the test's environment, which the process inherits (this file holds one test,
    // so nothing races).
    std::env::set_var("HASHCHAT_DISCORD_TOKEN", fake.token());
    for (name, value) in discord::test_route_env(&fake, &bot.scratch) {
        std::env::set_var(name, value);
    }
    bot.start();
    moderator.invite(&room, &bot.user_id).await;
    bot.wait_joined(&room, &moderator).await;
    assert!(
        fake.wait_connected(WAIT).await,
        "never connected to Discord; log:\n{}",
        bot.logs()
    );

    let session = matrix::start_session(&moderator, &room, &bot).await;
    let on_discord = fake
        .wait_for(WAIT, |f| {
            f.bot_messages(d.channel)
                .iter()
                .any(|m| m.content.starts_with("**Q1:**"))
                .then_some(())
        })
        .await;
    assert!(
        on_discord.is_some(),
        "no Q1 on Discord; log:\n{}",
        bot.logs()
    );
    fake.post(Post::new(d.channel, d.alice, "A1 from Discord"))
        .await
        .unwrap();
    moderator.say(&room, "A1 from Matrix").await;
    // Both archived before the stop: the two platforms' events come on separate streams.
    let archived = |bot: &matrix::Bot| -> Vec<String> {
        let mut bodies: Vec<String> = bot.transcript(&session)["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect();
        bodies.sort();
        bodies
    };
    support::wait_for(WAIT, "both answers archived", || archived(&bot).len() == 2);
    matrix::stop_session(&moderator, &room, &bot).await;

    let done = fake
        .wait_for(WAIT, |f| {
            f.bot_messages(d.channel)
                .iter()
                .any(|m| m.content.starts_with("**Wrap-up:**"))
                .then_some(())
        })
        .await;
    assert!(
        done.is_some(),
        "no wrap-up on Discord; log:\n{}",
        bot.logs()
    );
    let on_discord = discord::step_labels(&fake.bot_messages(d.channel));
    let on_matrix = matrix::step_posts(&moderator.messages(&room).await, &bot.user_id);
    assert_eq!(
        on_discord,
        on_matrix,
        "the same steps in both rooms; log:\n{}",
        bot.logs()
    );
    assert_eq!(on_discord[..2], ["Intro", "Q1"], "{on_discord:?}");
    assert_eq!(on_discord.last().map(String::as_str), Some("Wrap-up"));
    assert!(bot.stop().success(), "{}", bot.logs());
    assert_eq!(archived(&bot), ["A1 from Discord", "A1 from Matrix"]);
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
}
