//! The real Synapse homeserver the Matrix tests run against is there and behaves: users are
//! registered with the shared secret, a room is created (room version 12 by default), a
//! message sent with a transaction id is stored once even when the send is retried.

mod support;

use serde_json::json;
use support::synapse::Homeserver;

#[tokio::test]
async fn synapse_registers_users_and_keeps_a_retried_send_once() {
    let server = Homeserver::from_env();
    let unique = format!(
        "{}{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let alice = server.register(&format!("alice{unique}"), false).await;
    let bob = server.register(&format!("bob{unique}"), false).await;
    assert!(alice.user_id.starts_with("@alice") && alice.user_id.ends_with(":localhost"));

    let created = server
        .post_json(
            &format!("{}/_matrix/client/v3/createRoom", server.url),
            Some(&alice.access_token),
            &json!({ "preset": "private_chat", "invite": [bob.user_id] }),
        )
        .await;
    let room = created["room_id"].as_str().expect("a room id").to_owned();
    let encoded_room = room.replace('!', "%21").replace(':', "%3A");
    server
        .post_json(
            &format!("{}/_matrix/client/v3/rooms/{encoded_room}/join", server.url),
            Some(&bob.access_token),
            &json!({}),
        )
        .await;

    let send = format!(
        "{}/_matrix/client/v3/rooms/{encoded_room}/send/m.room.message/hc-txn-1",
        server.url
    );
    let body = json!({ "msgtype": "m.text", "body": "A1 hello from the peer test" });
    let first = server.put_json(&send, &alice.access_token, &body).await;
    let retried = server.put_json(&send, &alice.access_token, &body).await;
    assert_eq!(
        first["event_id"], retried["event_id"],
        "the same transaction id is one event"
    );

    let messages = server
        .get_json(
            &format!(
                "{}/_matrix/client/v3/rooms/{encoded_room}/messages?dir=b&limit=50",
                server.url
            ),
            Some(&bob.access_token),
        )
        .await;
    let texts: Vec<&str> = messages["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    assert_eq!(
        texts,
        vec!["A1 hello from the peer test"],
        "bob sees the message exactly once"
    );
}
