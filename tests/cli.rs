//! The `hashchat` binary from the outside: check-config, demo, sessions, transcript.

mod support;

use support::*;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn check_config_accepts_the_shipped_configuration() {
    let scratch = Scratch::new();
    let config = format!("{REPO}/config/hashchat.toml");
    let output = scratch.output(&["check-config", "--config", &config]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("OK"), "{stdout}");
}

#[test]
fn check_config_reports_each_problem_as_file_line_field() {
    let scratch = Scratch::new();
    let config = scratch.write_config();
    scratch.write(
        "chats/broken.toml",
        "slug = \"broken\"\ntitle = \"Broken\"\nhashtag = \"#broken\"\nintro = \"hi\"\nwrap_up = \"bye\"\n\
         time_zone = \"Mars/Olympus\"\nrooms = [\"discord:not-a-number\"]\ncolour = \"red\"\n\n[[points]]\ntext = \"\"\n",
    );
    let output = scratch.output(&["check-config", "--config", config.to_str().unwrap()]);
    let (stdout, stderr) = text(&output);
    assert!(
        !output.status.success(),
        "a broken chat must fail the check"
    );
    let file = scratch.path("chats/broken.toml");
    let file = file.display();
    for expected in [
        format!("{file}:6: time_zone:"),
        format!("{file}:7: rooms[1]:"),
        format!("{file}:8: colour: unknown key"),
        format!("{file}:11: points[1].text:"),
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(&expected)),
            "missing `{expected}` in:\n{stdout}{stderr}"
        );
    }
}

/// The platform tables and ids are read by their adapter crates, with the core's located
/// reader: their problems come out like every other, in line order, and a table no adapter
/// owns is an unknown key.
#[test]
fn check_config_reports_platform_tables_and_ids_by_their_adapters_rules() {
    let scratch = Scratch::new();
    let config = scratch.write_config();
    let mut toml = read(&config);
    toml.push_str(
        "\n[matrix]\nhomeserver = \"matrix.example.org\"\nuser = \"bot\"\n\n[irc]\nserver = \"x\"\n",
    );
    std::fs::write(&config, &toml).unwrap();
    let first_line = toml.lines().take_while(|l| *l != "[matrix]").count() + 1;
    scratch.write(
        "chats/rooms.toml",
        "slug = \"rooms\"\ntitle = \"Rooms\"\nhashtag = \"#rooms\"\nintro = \"hi\"\nwrap_up = \"bye\"\ntime_zone = \"UTC\"\n\
         rooms = [\"matrix:room:example.org\", \"discord:12ab\", \"web:two words\"]\n\
         moderators = [\"matrix:alice\"]\n\n[[points]]\ntext = \"Q\"\n",
    );
    let output = scratch.output(&["check-config", "--config", config.to_str().unwrap()]);
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{stdout}{stderr}");
    let file = config.display();
    let chat = scratch.path("chats/rooms.toml");
    let chat = chat.display();
    let expected = [
        format!("{file}:{}: matrix.homeserver: `matrix.example.org` is not an http(s) URL, e.g. `https://matrix.example.org`", first_line + 1),
        format!("{file}:{}: matrix.user: `bot` is not a Matrix user id (`@name:server`)", first_line + 2),
        format!("{file}:{}: irc: unknown key (accepted keys: database, chats, scheduler, log, data, media, web, matrix, discord)", first_line + 4),
        format!("{chat}:7: rooms[1]: `room:example.org` is not a Matrix room id (`!opaque:server`) or alias (`#name:server`)"),
        format!("{chat}:7: rooms[2]: `12ab` is not a Discord channel id (a number of up to 20 digits)"),
        format!("{chat}:7: rooms[3]: `two words` is not an id (1 to 255 bytes, no spaces or control characters)"),
        format!("{chat}:8: moderators[1]: `alice` is not a Matrix user id (`@name:server`)"),
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, expected, "{stderr}");
}

#[test]
fn the_demo_runs_the_example_chat_and_keeps_it_when_asked() {
    let scratch = Scratch::new();
    let db = scratch.db_url();
    let chat = format!("{REPO}/config/chats/interlibnet.toml");
    let output = scratch.output(&["demo", "--speed", "1500", "--db", &db, "--chat", &chat]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");

    let transcript = stdout
        .split("──────── transcript ────────")
        .nth(1)
        .expect("a transcript");
    // Each point heads its section, in order, with its answers under it.
    let mut last = 0;
    for n in 1..=6 {
        let at = transcript
            .find(&format!("\nQ{n}: "))
            .unwrap_or_else(|| panic!("Q{n} missing:\n{transcript}"));
        assert!(at > last, "Q{n} out of order");
        last = at;
        let section = transcript[at..].split("\n\n").next().unwrap();
        assert!(
            section.contains(&format!("A{n}")),
            "no tagged answer under Q{n}:\n{section}"
        );
    }
    let q2 = transcript
        .split("\nQ2: ")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    assert!(
        q2.contains("sign posts with initials"),
        "the reply sits under its parent's point:\n{q2}"
    );
    assert!(
        q2.contains("A2 (late, sorry)"),
        "a late tagged answer sits under its point:\n{q2}"
    );
    let q4 = transcript
        .split("\nQ4: ")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    assert!(
        q4.contains("A9 (typo"),
        "a tag naming no point falls back to the point on screen:\n{q4}"
    );
    assert!(stdout.contains(&format!("stored in {db}")), "{stdout}");

    let output = scratch.output(&["sessions", "--db", &db]);
    let (listing, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(listing.starts_with("Sessions that ran"), "{listing}");
    let row = listing.lines().nth(2).expect("one session listed");
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(fields[0], "1");
    assert_eq!(fields[1], "interlibnet");
    assert_eq!(fields[4], "ended");
    assert_eq!(fields[5], "14", "{listing}");
}

#[test]
fn migrate_prepares_an_empty_database_and_is_harmless_twice() {
    let scratch = Scratch::new();
    let db = scratch.db_url();
    for _ in 0..2 {
        let output = scratch.output(&["migrate", "--db", &db]);
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{stdout}{stderr}");
        assert!(stdout.contains("migrations applied"));
    }
}

#[test]
fn a_bad_database_url_is_a_clear_error_not_a_panic() {
    let scratch = Scratch::new();
    let output = scratch.output(&["sessions", "--db", "mysql://user:hunter2@localhost/x"]);
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "password leaked: {stderr}"
    );
    assert!(stderr.contains("cannot open the database"), "{stderr}");
}

/// A fresh schema on the test PostgreSQL server, dropped when the guard goes.
struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    fn new() -> PgSchema {
        let base = std::env::var("HASHCHAT_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let name = format!("hc_cli_{}", std::process::id());
        pg_execute(
            &base,
            &format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"),
        );
        PgSchema { base, name }
    }

    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        pg_execute(
            &self.base,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

fn pg_execute(url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
            panic!("this test needs the PostgreSQL server of HASHCHAT_TEST_POSTGRES_URL ({e}); scripts/test sets it up")
        });
        connection.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))).await.unwrap();
        connection.close().await.ok();
    });
}

#[test]
fn the_demo_runs_the_same_on_postgresql() {
    let schema = PgSchema::new();
    let scratch = Scratch::new();
    let url = schema.url();
    let chat = format!("{REPO}/config/chats/interlibnet.toml");
    let output = scratch.output(&["demo", "--speed", "1500", "--db", &url, "--chat", &chat]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let output = scratch.output(&["sessions", "--db", &url]);
    let (listing, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let fields: Vec<&str> = listing
        .lines()
        .nth(2)
        .expect("one session")
        .split_whitespace()
        .collect();
    assert_eq!(
        (fields[1], fields[4], fields[5]),
        ("interlibnet", "ended", "14"),
        "{listing}"
    );
}
