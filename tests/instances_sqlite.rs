//! SQLite is one instance's database: a second `hashchat run` on the same file is refused with
//! a message that says why and what to do, and the file is free again once the first is gone,
//! however it ended (here: SIGKILL). `hashchat status` shows each run, from the database.

mod support;

use std::time::Duration;

use support::{wait_for, Scratch};

fn config(scratch: &Scratch) -> std::path::PathBuf {
    let config = scratch.write_config();
    let text = support::read(&config) + "\n[web]\nenabled = false\n";
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn a_second_run_on_one_sqlite_file_is_refused_until_the_first_is_gone() {
    let scratch = Scratch::new();
    let config = config(&scratch);
    let args = ["run", "--config", config.to_str().unwrap()];
    let mut first = scratch.spawn(&args, "first.log");
    let lock = scratch.path("hashchat.db-instance.lock");
    wait_for(Duration::from_secs(60), "the first run's lock", || {
        support::read(&lock) == first.id().to_string()
    });

    // `status` sees it, from the database.
    let status = scratch.output(&["status", "--config", config.to_str().unwrap()]);
    let (shown, stderr) = support::text(&status);
    assert!(status.status.success(), "{stderr}");
    let line = shown
        .lines()
        .find(|l| l.contains(&format!("pid {} ", first.id())))
        .unwrap_or_else(|| panic!("the first run in:\n{shown}"));
    assert!(line.ends_with("running"), "{line}");
    assert!(shown.contains("Outbox: 0 steps waiting"), "{shown}");

    let second = scratch.output(&args);
    let (_, stderr) = support::text(&second);
    assert!(!second.status.success(), "refused: {stderr}");
    for expected in [
        "another hashchat instance is already running on",
        &format!("(process {})", first.id()),
        "one instance at a time",
        "PostgreSQL",
    ] {
        assert!(stderr.contains(expected), "`{expected}` in:\n{stderr}");
    }
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run is untouched"
    );

    first.kill().unwrap();
    first.wait().unwrap();
    let mut third = scratch.spawn(&args, "third.log");
    wait_for(Duration::from_secs(60), "the third run's lock", || {
        support::read(&lock) == third.id().to_string()
    });
    assert!(
        third.try_wait().unwrap().is_none(),
        "{}",
        support::read(&scratch.path("third.log"))
    );
    // A clean stop is recorded as one.
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &third.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(third.wait().unwrap().success());
    let status = scratch.output(&["status", "--config", config.to_str().unwrap()]);
    let (shown, _) = support::text(&status);
    let line = shown
        .lines()
        .find(|l| l.contains(&format!("pid {} ", third.id())))
        .unwrap_or_else(|| panic!("the third run in:\n{shown}"));
    assert!(line.contains("stopped 20"), "{line}");
}
