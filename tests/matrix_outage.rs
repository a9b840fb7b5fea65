//! The homeserver goes away mid-session and comes back: the bot reconnects, posts the step
//! that fell due meanwhile (once), and archives what was said before and after.
//!
//! A test binary of its own: stopping Synapse would break any other Matrix test running beside
//! it, and cargo runs test binaries one after another.

#![recursion_limit = "256"]

#[path = "support/matrix.rs"]
mod matrix;
mod support;

use std::time::Duration;

use matrix::*;
use support::synapse::{Homeserver, SynapseControl};

const WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_goes_on_when_the_homeserver_stops_and_starts_again() {
    let server = Homeserver::from_env();
    let control = SynapseControl::from_env();
    // Points nine real seconds apart: the outage swallows Q2's time and ends before Q3's.
    let (moderator, ann, _bob, room, mut bot) = room_with_bot(&server, None, false, 3).await;

    let session = start_session(&moderator, &room, &bot).await;
    ann.wait_for(&room, &bot.user_id, "Q1", WAIT, starts("Q1:"))
        .await;
    ann.say(&room, "A1 said just before the outage").await;

    control.stop();
    tokio::time::sleep(Duration::from_secs(8)).await;
    control.start(&server).await;

    ann.wait_for(
        &room,
        &bot.user_id,
        "Q2, due while the homeserver was away",
        WAIT,
        starts("Q2:"),
    )
    .await;
    ann.say(&room, "A2 said after the outage").await;
    ann.wait_for(&room, &bot.user_id, "Q3", WAIT, starts("Q3:"))
        .await;
    stop_session(&moderator, &room, &bot).await;

    assert_each_step_once(&moderator, &room, &bot).await;
    let status = bot.stop();
    assert!(status.success(), "{}", bot.logs());
    let bodies: Vec<String> = archived(&bot.transcript(&session))
        .into_iter()
        .map(|m| m.1)
        .collect();
    assert_eq!(
        bodies,
        ["A1 said just before the outage", "A2 said after the outage"],
        "log:\n{}",
        bot.logs()
    );
    let logs = bot.logs();
    assert!(
        logs.contains("platform unreachable; the post waits"),
        "Q2 fell due while the homeserver was away: {logs}"
    );
    assert!(
        logs.contains("reconnected to the Matrix homeserver"),
        "the bot noticed the outage and its end"
    );
}
