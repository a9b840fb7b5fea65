//! `hashchat backup FILE` while `hashchat run` holds the SQLite database: the copy is a whole
//! database with the same sessions, and an existing file is never overwritten.

mod support;

use std::time::Duration;

use support::{wait_for, Scratch};

#[test]
fn a_backup_taken_while_the_bot_runs_holds_its_sessions() {
    let scratch = Scratch::new();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/chats/interlibnet.toml"),
    )
    .unwrap();
    scratch.write("chats/interlibnet.toml", &example);
    let config = scratch.write_config();
    let text = support::read(&config) + "\n[web]\nenabled = false\n";
    std::fs::write(&config, text).unwrap();
    let config = config.to_str().unwrap().to_owned();
    let mut bot = scratch.spawn(&["run", "--config", &config], "run.log");
    let lock = scratch.path("hashchat.db-instance.lock");
    wait_for(Duration::from_secs(60), "the bot's lock", || {
        support::read(&lock) == bot.id().to_string()
    });
    // The example chat's next occurrence is on the calendar once the bot has loaded.
    wait_for(Duration::from_secs(60), "the next session", || {
        let live = scratch.output(&["sessions", "--config", &config]);
        support::text(&live).0.contains("interlibnet")
    });

    let copy = scratch.path("copy.db");
    let out = scratch.output(&["backup", copy.to_str().unwrap(), "--config", &config]);
    let (_, stderr) = support::text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("backed up"), "{stderr}");
    assert!(bot.try_wait().unwrap().is_none(), "the bot runs on");

    let live = scratch.output(&["sessions", "--config", &config]);
    let copied = scratch.output(&[
        "sessions",
        "--config",
        &config,
        "--db",
        &format!("sqlite://{}", copy.display()),
    ]);
    assert!(copied.status.success(), "{}", support::text(&copied).1);
    assert_eq!(support::text(&copied).0, support::text(&live).0);

    let again = scratch.output(&["backup", copy.to_str().unwrap(), "--config", &config]);
    let (_, stderr) = support::text(&again);
    assert!(!again.status.success());
    assert!(stderr.contains("already exists"), "{stderr}");
    bot.kill().unwrap();
    bot.wait().unwrap();
}
