//! A raw Matrix client for the harnesses (plain HTTP, so its own cost is known and small), and
//! an observer that long-polls `/sync` and says when each event arrived.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::synapse::MatrixUser;

pub struct Client {
    pub url: String,
    pub user: MatrixUser,
    http: reqwest::Client,
    txn: std::sync::atomic::AtomicU64,
}

impl Client {
    pub fn new(url: &str, user: MatrixUser) -> Client {
        Client {
            url: url.to_owned(),
            user,
            http: reqwest::Client::new(),
            txn: Default::default(),
        }
    }

    pub async fn send(&self, room: &str, content: Value) -> String {
        let n = self.txn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let url = format!(
            "{}/_matrix/client/v3/rooms/{room}/send/m.room.message/bench{}-{n}",
            self.url,
            std::process::id()
        );
        let r = self
            .http
            .put(url)
            .bearer_auth(&self.user.access_token)
            .header("content-type", "application/json")
            .body(content.to_string())
            .send()
            .await
            .expect("send");
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        v["event_id"].as_str().expect("an event id").to_owned()
    }

    pub async fn create_room(&self) -> String {
        let created = self
            .post(
                "/_matrix/client/v3/createRoom",
                json!({"preset": "public_chat"}),
            )
            .await;
        created["room_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no room made: {created}"))
            .to_owned()
    }

    pub async fn join(&self, room: &str) {
        self.post(&format!("/_matrix/client/v3/rooms/{room}/join"), json!({}))
            .await;
    }

    /// Every `m.room.message` event of `room`, oldest first, read back through `/messages`
    /// (which, unlike a limited `/sync`, skips nothing).
    pub async fn history(&self, room: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut from: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=1000",
                self.url
            );
            if let Some(f) = &from {
                url.push_str(&format!("&from={}", crate::matrix_client::urlencode(f)));
            }
            let r = self
                .http
                .get(url)
                .bearer_auth(&self.user.access_token)
                .send()
                .await
                .expect("messages");
            let page: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            let done = chunk.is_empty() || page["end"].is_null();
            events.extend(chunk.into_iter().filter(|e| e["type"] == "m.room.message"));
            if done {
                events.reverse();
                return events;
            }
            from = page["end"].as_str().map(str::to_owned);
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.user.access_token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("post");
        serde_json::from_str(&r.text().await.unwrap()).unwrap()
    }

    /// One `/sync`; returns the timeline events of `rooms` and the next token.
    pub async fn sync(&self, since: Option<&str>, rooms: &[String]) -> (Vec<Value>, String) {
        let mut url = format!(
            "{}/_matrix/client/v3/sync?timeout=30000&filter={}",
            self.url,
            urlencode(&json!({"room": {"rooms": rooms, "timeline": {"limit": 50}}, "presence": {"types": []}, "account_data": {"types": []}}).to_string())
        );
        if let Some(s) = since {
            url.push_str("&since=");
            url.push_str(&urlencode(s));
        }
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.user.access_token)
            .send()
            .await
            .expect("sync");
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        let events = rooms
            .iter()
            .filter_map(|room| v["rooms"]["join"][room]["timeline"]["events"].as_array())
            .flatten()
            .cloned()
            .collect();
        (events, v["next_batch"].as_str().unwrap().to_owned())
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The observer: long-polls `/sync` in every room and remembers when the homeserver stamped each
/// event (`origin_server_ts`), so a reply's delay can also be read off the server's own clock,
/// without the observer's leg.
pub struct Observer {
    pub client: Client,
    pub rooms: Vec<String>,
    since: String,
    stamped: HashMap<String, i64>,
}

impl Observer {
    pub async fn new(client: Client, rooms: Vec<String>) -> Observer {
        let (_, since) = client.sync(None, &rooms).await;
        Observer {
            client,
            rooms,
            since,
            stamped: HashMap::new(),
        }
    }

    /// Long-polls until an event matching `found` arrives; returns when it did, and the event.
    pub async fn until(&mut self, found: impl Fn(&Value) -> bool) -> (Instant, Value) {
        loop {
            let (events, next) = self.client.sync(Some(&self.since), &self.rooms).await;
            self.since = next;
            let seen = Instant::now();
            for e in &events {
                if let (Some(id), Some(ts)) =
                    (e["event_id"].as_str(), e["origin_server_ts"].as_i64())
                {
                    self.stamped.insert(id.to_owned(), ts);
                }
            }
            if let Some(e) = events.into_iter().find(&found) {
                return (seen, e);
            }
        }
    }

    /// Milliseconds between the homeserver stamping `earlier` and stamping `later`.
    pub fn stamped_gap(&self, earlier: &str, later: &Value) -> Duration {
        let from = self.stamped[earlier];
        let to = later["origin_server_ts"].as_i64().expect("a stamped event");
        Duration::from_millis(u64::try_from(to - from).expect("the reply after the command"))
    }
}
