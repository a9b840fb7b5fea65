//! R5, secrets: a full run at trace level, with a database password, the browser room's
//! moderator token and a signed-in moderator's session cookie in play, never writes any of
//! them to its log. (Matrix and Discord credentials are checked the same way in their own
//! tests' logs; this run has neither platform.) Needs PostgreSQL for a URL that carries a
//! password (`HASHCHAT_TEST_POSTGRES_URL`, trust auth accepts any); fails without.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{wait_for, Scratch};

const DB_PASSWORD: &str = "pw-Zx81-never-logged";
const MODERATOR_TOKEN: &str = "moderator-token-7Qp2-never-logged-at-all";

/// One HTTP/1.1 exchange; the whole answer.
fn exchange(port: u16, request: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn a_trace_level_run_never_logs_a_password_token_or_session_cookie() {
    let scratch = Scratch::new();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/chats/interlibnet.toml"),
    )
    .unwrap();
    scratch.write("chats/interlibnet.toml", &example);
    let port = support::room_page::free_port();
    let config = scratch.write(
        "hashchat.toml",
        &format!(
            "[chats]\ndir = \"chats\"\n[data]\ndir = \"{}\"\n[web]\nlisten = \"127.0.0.1:{port}\"\n",
            scratch.path("data").display()
        ),
    );
    let mut bot = scratch
        .hashchat(&["run", "--config", config.to_str().unwrap()])
        .env(
            "HASHCHAT_DATABASE_URL",
            support::postgres_schema_url("secrets", Some(DB_PASSWORD)),
        )
        .env("HASHCHAT_WEB_MODERATOR_TOKEN", MODERATOR_TOKEN)
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(scratch.path("run.log")).unwrap())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(60), "the web server", || {
        exchange(
            port,
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });

    // A moderator signs in with the token and uses the cookie it gets.
    let form = format!("token={MODERATOR_TOKEN}");
    let signed_in = exchange(
        port,
        &format!(
            "POST /signin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    )
    .unwrap();
    assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
    let cookie = signed_in
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let session_secret = cookie.split_once('=').unwrap().1.to_owned();
    assert!(session_secret.len() >= 32, "{cookie}");
    let room = exchange(
        port,
        &format!(
            "GET /r/interlibnet HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        ),
    )
    .unwrap();
    assert!(room.starts_with("HTTP/1.1 200"), "{room}");
    assert!(
        room.contains("class=\"room moderator\""),
        "signed in as a moderator"
    );
    // A wrong token too: refusals must not echo what was tried.
    let wrong = "token=wrong-token-Zq9-never-logged";
    exchange(
        port,
        &format!(
            "POST /signin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{wrong}",
            wrong.len()
        ),
    );

    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &bot.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    bot.wait().unwrap();
    let log = support::read(&scratch.path("run.log"));
    // Nothing on this path logs at TRACE (hashchat has no trace lines, and the HTTP crates'
    // are not built in); the filter was below info, as sqlx's DEBUG lines (every statement)
    // show.
    let debug = log.lines().filter(|l| l.contains(" DEBUG ")).count();
    assert!(debug > 50, "the run logged below info: {debug} DEBUG lines");
    assert!(
        log.contains("127.0.0.1:5432"),
        "the database is named in the log"
    );
    for (secret, what) in [
        (DB_PASSWORD, "the database password"),
        (MODERATOR_TOKEN, "the moderator token"),
        (session_secret.as_str(), "a moderator's session cookie"),
        (
            "wrong-token-Zq9-never-logged",
            "a wrong token someone tried",
        ),
    ] {
        let found: Vec<&str> = log.lines().filter(|l| l.contains(secret)).take(3).collect();
        assert!(found.is_empty(), "{what} in the log: {found:#?}");
    }
}
