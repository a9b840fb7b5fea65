//! Headless Chromium opens a 500-message transcript: no console errors, no request beyond the
//! page itself, and a screenshot under target/screenshots for people to look at.

mod support;

#[path = "../bot-core/tests/fixtures/hostile.rs"]
mod hostile;

use std::path::PathBuf;

use bot_core::transcript::{
    to_json, Author, ChatRecord, MessageRecord, PointRecord, PostRecord, SessionRecord, Transcript,
    SCHEMA_VERSION,
};
use chrono::{Duration, TimeZone, Utc};
use support::browser::Browser;
use support::*;

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("screenshots")
}

/// A finished session of 500 messages over six points, some of them hostile (in plain and in
/// formatted bodies), some replies.
fn big_transcript() -> Transcript {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap();
    let hostile = hostile::corpus();
    // Formatted bodies as a hostile client might send them: drawn by the page, never run.
    let formatted = hostile::formatted_corpus();
    let points: Vec<PointRecord> = (1..=6)
        .map(|n| PointRecord {
            number: n,
            text: format!("Discussion point number {n}: what does your library do?"),
            posted_at: Some(start + Duration::minutes(2 + 10 * (i64::from(n) - 1))),
        })
        .collect();
    let posts = points
        .iter()
        .map(|p| PostRecord {
            kind: "point".into(),
            point: Some(p.number),
            room: "matrix:!room:example.org".into(),
            platform_message_id: format!("$q{}", p.number),
            posted_at: p.posted_at.unwrap(),
        })
        .collect();
    let messages = (0..500)
        .map(|i: usize| {
            let point = (i / 84) as u32 + 1;
            let body = if i % 25 == 7 {
                hostile[i % hostile.len()].1.clone()
            } else {
                format!("A{point}: answer number {i}, with a few words about libraries and people.")
            };
            MessageRecord {
                platform: "matrix".into(),
                room: "!room:example.org".into(),
                platform_message_id: format!("$m{i:04}"),
                author: Author {
                    id: format!("@person{}:example.org", i % 37),
                    name: format!("Person {}", i % 37),
                    avatar_url: None,
                },
                platform_label: Some("Matrix".into()),
                permalink: Some(format!(
                    "https://matrix.to/#/!room%3Aexample.org/%24m{i:04}"
                )),
                body,
                formatted_body: (i % 25 == 11).then(|| formatted[i % formatted.len()].1.clone()),
                sent_at: start + Duration::minutes(3) + Duration::seconds(i as i64 * 7),
                point: Some(point.min(6)),
                also_answers: Vec::new(),
                reply_to: (i % 10 == 3).then(|| format!("$m{:04}", i - 1)),
                edits: Vec::new(),
                edited_at: None,
                attachments: Vec::new(),
                reactions: Vec::new(),
                withheld: false,
                hidden: false,
            }
        })
        .collect();
    Transcript {
        schema_version: SCHEMA_VERSION,
        chat: ChatRecord {
            slug: "interlibnet".into(),
            title: "Libraries and social media".into(),
            hashtag: "#interlibnet".into(),
            description: "A fortnightly chat for library people.".into(),
            time_zone: "Europe/London".into(),
        },
        session: SessionRecord {
            uid: "0123456789abcdef0123456789abcdef".into(),
            state: "ended".into(),
            scheduled_start: start,
            started_at: Some(start),
            ended_at: Some(start + Duration::minutes(62)),
            rooms: vec!["matrix:!room:example.org".into()],
            link: None,
            host: None,
        },
        intro: Some("Welcome!".into()),
        points,
        wrap_up: Some("Thank you all.".into()),
        posts,
        messages,
        notes: Vec::new(),
        highlights: Vec::new(),
    }
}

#[tokio::test]
async fn a_500_message_transcript_loads_cleanly_in_chromium() {
    let scratch = Scratch::new();
    let db = scratch.db_url();
    let json = scratch.write("big.json", &to_json(&big_transcript()));
    let output = scratch.output(&["import", json.to_str().unwrap(), "--db", &db]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let page = scratch.path("big.html");
    let output = scratch.output(&[
        "export",
        stdout.trim(),
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
        "--db",
        &db,
    ]);
    assert!(output.status.success(), "{}", text(&output).1);

    let browser = Browser::start();
    let url = format!("file://{}", page.display());
    let report = browser
        .visit(&url, &screenshots().join("transcript-500.png"))
        .await;
    assert!(
        report.errors.is_empty(),
        "console errors: {:#?}",
        report.errors
    );
    let elsewhere: Vec<&String> = report
        .requests
        .iter()
        .filter(|r| **r != url && !r.starts_with("data:"))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "requests beyond the page: {elsewhere:?}"
    );
    assert_eq!(report.requests.first(), Some(&url), "{:?}", report.requests);
}

/// The checks above can fail: a page that reaches elsewhere and logs an error is caught.
#[tokio::test]
async fn the_browser_check_sees_foreign_requests_and_console_errors() {
    let scratch = Scratch::new();
    let page = scratch.write(
        "bad.html",
        "<!doctype html><title>bad</title><img src=\"http://127.0.0.1:9/pixel.png\">\
         <script>console.error('deliberate')</script>",
    );
    let browser = Browser::start();
    let url = format!("file://{}", page.display());
    let report = browser.visit(&url, &scratch.path("bad.png")).await;
    assert!(
        report
            .requests
            .iter()
            .any(|r| r.starts_with("http://127.0.0.1:9/")),
        "{:?}",
        report.requests
    );
    assert!(
        report.errors.iter().any(|e| e.contains("deliberate")),
        "{:?}",
        report.errors
    );
}

/// The archive index and the session page, served by `hashchat serve`: no console errors and
/// no request beyond the server's own origin.
#[tokio::test]
async fn the_archive_index_and_session_page_load_cleanly_from_the_server() {
    let scratch = Scratch::new();
    let config = scratch.write_config();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/chats/interlibnet.toml"
    ))
    .unwrap();
    scratch.write("chats/interlibnet.toml", &example);
    let json = scratch.write("big.json", &to_json(&big_transcript()));
    let output = scratch.output(&[
        "import",
        json.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output).1);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let mut server = scratch.spawn(
        &[
            "serve",
            "--listen",
            &listen,
            "--config",
            config.to_str().unwrap(),
        ],
        "serve.log",
    );
    wait_for(
        std::time::Duration::from_secs(30),
        "the server to answer",
        || std::net::TcpStream::connect(&listen).is_ok(),
    );

    let browser = Browser::start();
    for (path, shot) in [
        ("/", "archive-index.png"),
        (
            "/s/0123456789abcdef0123456789abcdef",
            "archive-session-500.png",
        ),
    ] {
        let url = format!("{origin}{path}");
        let report = browser.visit(&url, &screenshots().join(shot)).await;
        assert!(
            report.errors.is_empty(),
            "{path}: console errors: {:#?}",
            report.errors
        );
        let elsewhere: Vec<&String> = report
            .requests
            .iter()
            .filter(|r| !r.starts_with(&format!("{origin}/")) && !r.starts_with("data:"))
            .collect();
        assert!(
            elsewhere.is_empty(),
            "{path}: requests beyond the origin: {elsewhere:?}"
        );
        assert_eq!(report.requests.first(), Some(&url));
    }
    let _ = server.kill();
    let _ = server.wait();
}
