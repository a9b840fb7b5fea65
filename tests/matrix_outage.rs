//! The homeserver goes away mid-session and comes back: the bot reconnects, posts the step
//! that fell due meanwhile (once), and archives what was said before and after.
//!
//! A test binary of its own: stopping Synapse would break any other Matrix test running beside
//! it, and cargo runs test binaries one after another.

#![recursion_limit = "256"]

#[path = "support/matrix.rs"]
mod matrix;
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use matrix::*;
use support::synapse::Homeserver;

const WAIT: Duration = Duration::from_secs(90);

/// The test homeserver's own controls, exported by `scripts/test`.
struct SynapseControl {
    python: String,
    config: PathBuf,
}

impl SynapseControl {
    fn from_env() -> SynapseControl {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: scripts/test exports it with the homeserver it starts")
            })
        };
        SynapseControl {
            python: var("HASHCHAT_TEST_SYNAPSE_PYTHON"),
            config: PathBuf::from(var("HASHCHAT_TEST_SYNAPSE_CONFIG")),
        }
    }

    fn pid(&self) -> String {
        let file = self.config.with_file_name("homeserver.pid");
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .trim()
            .to_owned()
    }

    fn stop(&self) {
        let pid = self.pid();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let start = Instant::now();
        while Command::new("kill")
            .args(["-0", &pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Synapse did not stop"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    async fn start(&self, server: &Homeserver) {
        let status = Command::new(&self.python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(&self.config)
            .arg("--daemonize")
            .current_dir("/")
            .status()
            .expect("starting Synapse");
        assert!(status.success(), "Synapse did not start again");
        let start = Instant::now();
        let http = reqwest::Client::new();
        loop {
            let healthy = http
                .get(format!("{}/health", server.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "Synapse did not come back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

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
