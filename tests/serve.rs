//! The web server in the real binary: `hashchat serve`, and `hashchat run` with the browser room;
//! both answer /healthz and stop cleanly on SIGTERM.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{wait_for, Scratch};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over plain HTTP/1.1; `None` while nothing listens.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    child.wait().expect("hashchat exits")
}

fn scratch() -> Scratch {
    let scratch = Scratch::new();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/chats/interlibnet.toml"),
    )
    .unwrap();
    scratch.write("chats/interlibnet.toml", &example);
    scratch
}

fn check_pages(port: u16) {
    wait_for(Duration::from_secs(60), "the web server", || {
        get(port, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    let health = get(port, "/healthz").unwrap();
    assert!(health.ends_with("ok\n"), "{health}");
    let lower = health.to_ascii_lowercase();
    assert!(
        lower.contains("x-content-type-options: nosniff"),
        "{health}"
    );
    assert!(lower.contains("content-security-policy: default-src 'none'"));
    let index = get(port, "/").unwrap();
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(index.contains("Archived chats"));
    let upcoming = get(port, "/upcoming").unwrap();
    assert!(upcoming.starts_with("HTTP/1.1 200"), "{upcoming}");
}

#[test]
fn serve_answers_and_stops_on_sigterm() {
    let scratch = scratch();
    let config = scratch.write_config();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = scratch.spawn(
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &listen,
        ],
        "serve.log",
    );
    check_pages(port);
    let status = terminate(&mut child);
    assert!(
        status.success(),
        "{status:?}\n{}",
        support::read(&scratch.path("serve.log"))
    );
}

#[test]
fn run_starts_the_web_server_when_configured() {
    let scratch = scratch();
    let config = scratch.write_config();
    let port = free_port();
    let text = support::read(&config) + &format!("\n[web]\nlisten = \"127.0.0.1:{port}\"\n");
    std::fs::write(&config, text).unwrap();
    let mut child = scratch.spawn(&["run", "--config", config.to_str().unwrap()], "run.log");
    check_pages(port);
    let status = terminate(&mut child);
    assert!(
        status.success(),
        "{status:?}\n{}",
        support::read(&scratch.path("run.log"))
    );
    assert!(get(port, "/healthz").is_none(), "stopped with the bot");
}

/// `POST path` with a form body; the whole answer.
fn post(port: u16, path: &str, form: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The shipped configuration, as the README's first command runs it (on a port of the test's
/// own): `run` says what it started and what it skipped, and the one-time sign-in link it
/// prints signs a moderator in once.
#[test]
fn run_says_what_it_started_and_prints_a_sign_in_link_that_works_once() {
    let scratch = Scratch::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let port = free_port();
    let shipped = std::fs::read_to_string(repo.join("config/hashchat.toml")).unwrap();
    assert!(
        shipped.contains("\nlisten = \"127.0.0.1:8080\"\n"),
        "the README's address"
    );
    let config = shipped.replace(
        "\nlisten = \"127.0.0.1:8080\"\n",
        &format!("\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    std::fs::create_dir_all(scratch.path("config/chats")).unwrap();
    scratch.write("config/hashchat.toml", &config);
    let example = std::fs::read_to_string(repo.join("config/chats/interlibnet.toml")).unwrap();
    scratch.write("config/chats/interlibnet.toml", &example);

    let mut child = scratch
        .hashchat(&["run", "--config", "config/hashchat.toml"])
        .env_remove("HASHCHAT_WEB_MODERATOR_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(scratch.path("run.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.unwrap();
        let done = line.starts_with("Stop it with");
        lines.push(line);
        if done {
            break;
        }
    }
    let printed = lines.join("\n");
    let origin = format!("http://127.0.0.1:{port}");
    for expected in [
        format!("web archive   started: {origin}/"),
        format!("browser room  started: {origin}/r/interlibnet"),
        "Matrix        skipped: no [matrix] section in the config".to_owned(),
        "Discord       skipped: no [discord] section in the config".to_owned(),
    ] {
        assert!(printed.contains(&expected), "`{expected}` in:\n{printed}");
    }
    let link = lines
        .iter()
        .find_map(|l| l.split_whitespace().find(|w| w.contains("/signin?token=")))
        .unwrap_or_else(|| panic!("no sign-in link in:\n{printed}"));
    let token = link.split("token=").nth(1).unwrap();
    assert_eq!(token.len(), 64, "{link}");
    assert!(
        !support::read(&scratch.path("run.log")).contains(token),
        "the one-time secret is on the console only, never in the log"
    );

    let room = get(port, "/r/interlibnet").unwrap();
    assert!(room.starts_with("HTTP/1.1 200"), "{room}");
    assert!(room.contains("Libraries and social media"));
    let form = get(port, &format!("/signin?token={token}")).unwrap();
    assert!(form.starts_with("HTTP/1.1 200"), "{form}");
    let signed_in = post(port, "/signin", &format!("token={token}"));
    assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
    assert!(
        signed_in.contains("set-cookie: hashchat_room="),
        "{signed_in}"
    );
    let again = post(port, "/signin", &format!("token={token}"));
    assert!(again.starts_with("HTTP/1.1 403"), "used up: {again}");

    let status = terminate(&mut child);
    assert!(
        status.success(),
        "{status:?}\n{}",
        support::read(&scratch.path("run.log"))
    );
}
