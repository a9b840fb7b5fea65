//! The `/_fake` control API that the binary offers for trying a bot by hand.

use std::time::Duration;

use discord_fake::FakeDiscord;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request to the fake; returns (status, JSON body or Null).
async fn call(fake: &FakeDiscord, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let host = fake.base_url().strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![];
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text[9..12].parse().unwrap();
    let (head, payload) = text.split_once("\r\n\r\n").unwrap();
    // Responses may be chunked; the JSON bodies here are small: take the JSON part.
    let json_part = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        payload.lines().nth(1).unwrap_or("").to_string()
    } else {
        payload.to_string()
    };
    (
        status,
        serde_json::from_str(&json_part).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn control_api_posts_as_humans_and_reports_messages_and_requests() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let (st, info) = call(&fake, "GET", "/_fake/info", None).await;
    assert_eq!(st, 200);
    assert_eq!(info["token"], fake.token());
    assert_eq!(info["gateway_url"], fake.gateway_url());

    let (st, m) = call(
        &fake,
        "POST",
        "/_fake/messages",
        Some(json!({"channel_id": d.channel, "author_id": d.alice, "content": "hi"})),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(m["content"], "hi");
    let id = m["id"].as_str().unwrap().to_string();
    let (st, _) = call(
        &fake,
        "PATCH",
        &format!("/_fake/messages/{}/{id}", d.channel),
        Some(json!({"content": "hi!"})),
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = call(
        &fake,
        "POST",
        "/_fake/reactions",
        Some(json!({"channel_id": d.channel, "message_id": id, "user_id": d.bob, "emoji": "🎉"})),
    )
    .await;
    assert_eq!(st, 204);
    let (_, list) = call(
        &fake,
        "GET",
        &format!("/_fake/channels/{}/messages", d.channel),
        None,
    )
    .await;
    assert_eq!(list[0]["content"], "hi!");
    assert_eq!(list[0]["reactions"][0]["count"], 1);

    // A command the bot has not registered is a clear error, not a hang.
    let (st, e) = call(
        &fake,
        "POST",
        "/_fake/commands",
        Some(json!({"user_id": d.alice, "channel_id": d.channel, "command": "/chat start"})),
    )
    .await;
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().contains("chat"));

    let (st, _) = call(
        &fake,
        "POST",
        "/_fake/faults",
        Some(json!({"rate_limit": {"pattern": "GET /users/@me", "count": 1}})),
    )
    .await;
    assert_eq!(st, 204);
    let (_, reqs) = call(&fake, "GET", "/_fake/requests", None).await;
    assert_eq!(
        reqs.as_array().unwrap().len(),
        0,
        "control calls are not bot requests"
    );
    let _ = Duration::ZERO;
}
