//! Headless Chromium driven over the DevTools protocol: load a page, record every request it
//! makes and every console error or uncaught exception, and take a screenshot.
//!
//! Chromium is Debian's (`/usr/bin/chromium`, or `HASHCHAT_CHROMIUM`); `scripts/test` installs
//! it when missing. A test that needs it and cannot find it fails, it never passes silently.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// What a page did while it loaded.
#[derive(Debug, Default)]
pub struct PageReport {
    /// Every URL the page requested, the page itself first.
    pub requests: Vec<String>,
    /// Console errors and warnings, uncaught exceptions, and browser log errors (CSP
    /// violations land here).
    pub errors: Vec<String>,
}

pub struct Browser {
    child: Child,
    pub(crate) ws_url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn chromium_path() -> PathBuf {
    let path = std::env::var_os("HASHCHAT_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "the browser tests need headless Chromium at {} (set HASHCHAT_CHROMIUM, or run scripts/test, which installs Debian's chromium)",
        path.display()
    );
    path
}

impl Browser {
    pub fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium_path())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--window-size=1200,1600",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().unwrap();
        let (found, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let (false, Some(at)) = (sent, line.find("ws://")) {
                    let _ = found.send(line[at..].trim().to_owned());
                    sent = true;
                }
            }
        });
        let ws_url = wait
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium printed its DevTools address");
        Browser {
            child,
            ws_url,
            _profile: profile,
        }
    }

    /// Loads `url` in a fresh tab, waits for the load event and a moment of quiet, saves a
    /// screenshot to `screenshot`, and reports what the page did.
    pub async fn visit(&self, url: &str, screenshot: &Path) -> PageReport {
        let (mut socket, _) = tokio_tungstenite::connect_async(self.ws_url.as_str())
            .await
            .expect("DevTools connection");
        let mut next_id = 0u64;
        let mut call = |method: &str, params: Value, session: Option<&str>| {
            next_id += 1;
            let mut message = json!({ "id": next_id, "method": method, "params": params });
            if let Some(session) = session {
                message["sessionId"] = json!(session);
            }
            (next_id, Message::text(message.to_string()))
        };
        let mut report = PageReport::default();

        let (id, msg) = call("Target.createTarget", json!({ "url": "about:blank" }), None);
        socket.send(msg).await.unwrap();
        let target = reply(&mut socket, id, &mut report).await["targetId"]
            .as_str()
            .unwrap()
            .to_owned();
        let (id, msg) = call(
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
            None,
        );
        socket.send(msg).await.unwrap();
        let session = reply(&mut socket, id, &mut report).await["sessionId"]
            .as_str()
            .unwrap()
            .to_owned();
        for domain in [
            "Network.enable",
            "Runtime.enable",
            "Log.enable",
            "Page.enable",
        ] {
            let (id, msg) = call(domain, json!({}), Some(&session));
            socket.send(msg).await.unwrap();
            reply(&mut socket, id, &mut report).await;
        }
        let (id, msg) = call("Page.navigate", json!({ "url": url }), Some(&session));
        socket.send(msg).await.unwrap();
        reply(&mut socket, id, &mut report).await;
        wait_for_event(&mut socket, "Page.loadEventFired", &mut report).await;
        // Late requests (a script fetching something after load) get a moment to show.
        let quiet = tokio::time::sleep(Duration::from_millis(700));
        tokio::pin!(quiet);
        loop {
            tokio::select! {
                _ = &mut quiet => break,
                frame = socket.next() => match frame {
                    Some(Ok(frame)) => { record(&frame, &mut report); }
                    _ => break,
                },
            }
        }
        let (id, msg) = call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": false }),
            Some(&session),
        );
        socket.send(msg).await.unwrap();
        let shot = reply(&mut socket, id, &mut report).await;
        if let Some(data) = shot["data"].as_str() {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
            if let Some(dir) = screenshot.parent() {
                std::fs::create_dir_all(dir).unwrap();
            }
            std::fs::write(screenshot, bytes).unwrap();
        }
        report
    }
}

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads frames until the answer to call `id`, recording events on the way.
async fn reply(socket: &mut Socket, id: u64, report: &mut PageReport) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("DevTools answered in time")
            .expect("DevTools connection open")
            .unwrap();
        if let Some(value) = record(&frame, report) {
            if value["id"].as_u64() == Some(id) {
                assert!(value.get("error").is_none(), "DevTools error: {value}");
                return value["result"].clone();
            }
        }
    }
}

async fn wait_for_event(socket: &mut Socket, method: &str, report: &mut PageReport) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {method} within 30 s"))
            .expect("DevTools connection open")
            .unwrap();
        if let Some(value) = record(&frame, report) {
            if value["method"] == method {
                return;
            }
        }
    }
}

/// Notes requests and errors from an event frame; returns the frame as JSON.
pub(crate) fn record(frame: &Message, report: &mut PageReport) -> Option<Value> {
    let Message::Text(text) = frame else {
        return None;
    };
    let value: Value = serde_json::from_str(text.as_str()).ok()?;
    let params = &value["params"];
    match value["method"].as_str() {
        Some("Network.requestWillBeSent") => {
            if let Some(url) = params["request"]["url"].as_str() {
                report.requests.push(url.to_owned());
            }
        }
        Some("Runtime.consoleAPICalled") => {
            let kind = params["type"].as_str().unwrap_or("");
            if matches!(kind, "error" | "warning" | "assert") {
                report
                    .errors
                    .push(format!("console.{kind}: {}", params["args"]));
            }
        }
        Some("Runtime.exceptionThrown") => {
            report
                .errors
                .push(format!("exception: {}", params["exceptionDetails"]));
        }
        Some("Log.entryAdded") => {
            let entry = &params["entry"];
            if matches!(entry["level"].as_str(), Some("error" | "warning")) {
                report
                    .errors
                    .push(format!("log: {} {}", entry["source"], entry["text"]));
            }
        }
        _ => {}
    }
    Some(value)
}
