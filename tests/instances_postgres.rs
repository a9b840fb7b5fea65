//! Two `hashchat run` on one PostgreSQL database: until instances share its sessions through
//! leases, a second one is refused while the first still beats, saying who holds it; after
//! the first is killed, a new one waits until it counts as gone (15 s) and then starts.
//! Needs PostgreSQL (`HASHCHAT_TEST_POSTGRES_URL`, as `scripts/test` exports it); fails without.

mod support;

use std::time::{Duration, Instant};

use support::{wait_for, Scratch};

#[test]
fn a_second_run_on_one_postgresql_database_waits_for_the_first_to_be_gone() {
    let scratch = Scratch::new();
    let url = support::postgres_schema_url("instances", None);
    let config = scratch.write(
        "hashchat.toml",
        &format!(
            "[database]\nurl = \"{url}\"\n[chats]\ndir = \"chats\"\n[data]\ndir = \"{}\"\n[web]\nenabled = false\n",
            scratch.path("data").display()
        ),
    );
    let args = ["run", "--config", config.to_str().unwrap()];
    let status = |scratch: &Scratch| {
        support::text(&scratch.output(&["status", "--config", config.to_str().unwrap()])).0
    };
    let mut first = scratch.spawn(&args, "first.log");
    wait_for(Duration::from_secs(60), "the first run in status", || {
        status(&scratch).contains(&format!("pid {} ", first.id()))
    });

    let second = scratch.output(&args);
    let (_, stderr) = support::text(&second);
    assert!(!second.status.success(), "{stderr}");
    for expected in [
        "another hashchat instance",
        &format!("process {})", first.id()),
        "not supported yet",
    ] {
        assert!(stderr.contains(expected), "`{expected}` in:\n{stderr}");
    }

    first.kill().unwrap();
    first.wait().unwrap();
    let killed_at = Instant::now();
    let mut third = scratch.spawn(&args, "third.log");
    wait_for(Duration::from_secs(60), "the third run in status", || {
        status(&scratch).contains(&format!("pid {} ", third.id()))
    });
    let waited = killed_at.elapsed();
    assert!(
        waited >= Duration::from_secs(5),
        "it waited for the killed one to count as gone, not {waited:?}"
    );
    assert!(
        third.try_wait().unwrap().is_none(),
        "{}",
        support::read(&scratch.path("third.log"))
    );
    assert!(
        support::read(&scratch.path("third.log"))
            .contains("waiting for an instance that stopped beating"),
        "{}",
        support::read(&scratch.path("third.log"))
    );
    third.kill().unwrap();
    third.wait().unwrap();
}
