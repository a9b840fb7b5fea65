//! The real process, killed with SIGKILL mid-session and restarted on the same SQLite file:
//! no step is posted twice and none is missed.

mod support;

use std::time::Duration;

use bot_core::loopback::LoopbackEvent;
use bot_core::model::PostKind;
use chrono::{Timelike, Utc};
use support::*;

/// Virtual minutes per real second.
const SPEED: f64 = 30.0;

fn posts(log: &std::path::Path) -> Vec<PostKind> {
    read(log)
        .lines()
        .filter_map(|line| serde_json::from_str::<LoopbackEvent>(line).ok())
        .filter_map(|event| match event {
            LoopbackEvent::Post { content, .. } => Some(content.kind),
            _ => None,
        })
        .collect()
}

fn expected_run() -> Vec<PostKind> {
    let mut kinds = vec![PostKind::Intro];
    kinds.extend((1..=6).map(|number| PostKind::Point { number }));
    kinds.push(PostKind::WrapUp);
    kinds
}

fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    child.wait().expect("hashchat exits")
}

#[test]
fn a_session_survives_sigkill_and_restart_without_repeating_or_skipping_a_step() {
    let scratch = Scratch::new();
    let config = scratch.write_config();
    // Accelerated time agrees with real time at the anchor; the chat starts on the second
    // whole minute after it, two to four real seconds later.
    let anchor = Utc::now();
    let start =
        anchor.with_second(0).unwrap().with_nanosecond(0).unwrap() + chrono::Duration::minutes(2);
    scratch.write(
        "chats/quick.toml",
        &format!(
            r##"slug = "quick"
title = "A quick chat"
hashtag = "#quick"
description = "Six points a minute apart"
intro = "Hello"
wrap_up = "Bye"
time_zone = "UTC"
minutes_between_points = 1
intro_minutes = 1
reminder_minutes = 0
rooms = ["loopback:e2e"]

[schedule]
start = "{}"

[[points]]
text = "One?"
[[points]]
text = "Two?"
[[points]]
text = "Three?"
[[points]]
text = "Four?"
[[points]]
text = "Five?"
[[points]]
text = "Six?"
"##,
            start.format("%Y-%m-%d %H:%M")
        ),
    );
    let loopback = scratch.path("loopback.jsonl");
    let args = [
        "run",
        "--config",
        config.to_str().unwrap(),
        "--speed",
        &SPEED.to_string(),
        "--time-anchor",
        &anchor.to_rfc3339(),
        "--loopback-log",
        loopback.to_str().unwrap(),
    ];

    let mut first = scratch.spawn(&args, "first.log");
    wait_for(Duration::from_secs(60), "Q2 to be posted", || {
        posts(&loopback).contains(&PostKind::Point { number: 2 })
    });
    first.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    first.wait().unwrap();
    let before = posts(&loopback);
    assert!(before.len() < 8, "killed mid-session: {before:?}");

    // Stay down long enough (3 virtual minutes) for more than one step to fall due.
    std::thread::sleep(Duration::from_secs_f64(3.0 * 60.0 / SPEED));

    let mut second = scratch.spawn(&args, "second.log");
    wait_for(Duration::from_secs(60), "the wrap-up", || {
        posts(&loopback).contains(&PostKind::WrapUp)
    });
    // Give a stray duplicate the chance to show itself before looking.
    std::thread::sleep(Duration::from_millis(500));
    let status = terminate(&mut second);
    assert!(
        status.success(),
        "clean exit on SIGTERM: {status:?}\n{}",
        read(&scratch.path("second.log"))
    );

    assert_eq!(
        posts(&loopback),
        expected_run(),
        "each step exactly once, in order"
    );
    let restart_log = read(&scratch.path("second.log"));
    assert!(
        restart_log.contains("step emitted"),
        "the restarted process did the rest:\n{restart_log}"
    );
}
