//! The web archive in the real binary: `hashchat serve`, and `hashchat run` with `[web] listen`;
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
