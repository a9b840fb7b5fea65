//! Relaying through faults: the homeserver stops mid-session while Discord keeps relaying
//! between its two channels; the bot is SIGKILLed while Matrix's copies wait; when both are
//! back, the backlog reaches Matrix once each, in order, and nothing Discord already had is
//! relayed again.
//!
//! A test binary of its own: stopping Synapse would break any other Matrix test beside it.

#![recursion_limit = "256"]

#[path = "support/bridge.rs"]
mod bridge;
#[path = "support/discord.rs"]
mod discord;
#[path = "support/matrix.rs"]
mod matrix;
mod support;

use bridge::*;
use discord_fake::Post;
use support::synapse::{Homeserver, SynapseControl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeserver_away_and_a_killed_bot_lose_no_copy_and_repeat_none() {
    let server = Homeserver::from_env();
    let control = SynapseControl::from_env();
    // Points five minutes (fifteen real seconds) apart: the session outlasts the outage.
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
    } = Bridge::start_with(5, true, "").await;
    let d = fake.defaults().clone();
    matrix::start_session(&moderator, &room, &bot).await;

    control.stop();
    let mut said = Vec::new();
    for n in 1..=5 {
        let text = format!("A1 backlog {n}");
        fake.post(Post::new(d.channel, d.alice, &text))
            .await
            .unwrap();
        said.push(text);
    }
    // Discord's other channel gets them meanwhile: Matrix being away holds up nothing there.
    let on_second = fake
        .wait_for(WAIT, |f| {
            let copies = f
                .bot_messages(d.second_channel)
                .into_iter()
                .filter(|m| m.content.contains("A1 backlog"))
                .count();
            (copies == 5).then_some(())
        })
        .await;
    assert!(
        on_second.is_some(),
        "the second channel waited for Matrix; log:\n{}",
        bot.logs()
    );

    // Killed while Matrix's five copies wait in the outbox.
    bot.kill();
    control.start(&server).await;
    bot.start();

    let copies = poll("the backlog on Matrix", &bot, || async {
        let bodies: Vec<String> = moderator
            .messages(&room)
            .await
            .into_iter()
            .filter(|e| e["sender"] == bot.user_id.as_str())
            .map(|e| body(&e).to_owned())
            .filter(|b| b.contains("A1 backlog"))
            .collect();
        (bodies.len() >= 5).then_some(bodies)
    })
    .await;
    let expected: Vec<String> = said
        .iter()
        .map(|t| format!("Alice (Discord): {t}"))
        .collect();
    assert_eq!(
        copies,
        expected,
        "once each, in order; log:\n{}",
        bot.logs()
    );

    // Nothing relayed twice anywhere after the restart.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let second: Vec<String> = fake
        .bot_messages(d.second_channel)
        .into_iter()
        .map(|m| m.content)
        .filter(|c| c.contains("A1 backlog"))
        .collect();
    assert_eq!(second.len(), 5, "{second:?}");
    assert!(
        fake.bot_messages(d.channel)
            .iter()
            .all(|m| !m.content.contains("A1 backlog")),
        "nothing echoed into the channel it came from"
    );
    assert!(bot.stop().success(), "{}", bot.logs());
}
