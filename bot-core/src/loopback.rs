//! The loopback adapter: an in-process "platform" for the demo and the tests.
//!
//! It implements the same [`Adapter`] interface as Discord and Matrix. Posts and replies are
//! kept in memory and announced on a broadcast channel; optionally every post is appended to a
//! JSON-lines file, which plays the part of the platform's own record, so a post retried after a
//! crash is recognised by its idempotency key and not shown twice.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::adapter::{
    Adapter, AdapterError, CommandInvocation, Inbound, Post, RelayPost, RelayedCopy, Reply,
};
use crate::ids::{Platform, RoomRef, UserRef};
use crate::model::{IncomingMessage, PostContent};

/// Something the bot said on the loopback platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LoopbackEvent {
    Post {
        room: String,
        platform_msg_id: String,
        idempotency_key: String,
        content: PostContent,
    },
    Reply {
        room: String,
        to: String,
        text: String,
        private: bool,
    },
    /// A participant's message copied in from another room of its session; a reaction there
    /// has `body` "reacted 👍".
    Relay {
        room: String,
        platform_msg_id: String,
        idempotency_key: String,
        author: String,
        from: String,
        body: String,
        in_reply_to: Option<String>,
        /// Each attachment as `name (N bytes)`, or `name (no copy)` when there was none.
        files: Vec<String>,
    },
    /// A copy edited to its original's new text.
    RelayEdit {
        room: String,
        copy: String,
        body: String,
    },
    /// A copy deleted with its original.
    RelayDelete { room: String, copy: String },
}

pub struct LoopbackAdapter {
    state: Mutex<State>,
    events: broadcast::Sender<LoopbackEvent>,
    next_id: AtomicU64,
    log: Option<PathBuf>,
}

#[derive(Default)]
struct State {
    /// idempotency key → platform message id of the post made with it.
    posted: HashMap<String, String>,
    history: Vec<LoopbackEvent>,
}

impl LoopbackAdapter {
    pub fn new() -> Arc<Self> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(LoopbackAdapter {
            state: Mutex::new(State::default()),
            events,
            next_id: AtomicU64::new(1),
            log: None,
        })
    }

    /// A loopback platform whose record of posts lives in `path` (JSON lines), read back now so
    /// posts made by an earlier process are known.
    pub fn with_log(path: PathBuf) -> std::io::Result<Arc<Self>> {
        let (events, _) = broadcast::channel(1024);
        let mut state = State::default();
        let mut highest = 0;
        match std::fs::File::open(&path) {
            Ok(file) => {
                for line in std::io::BufReader::new(file).lines() {
                    let line = line?;
                    // A line cut short by a crash mid-write is not a post that happened.
                    let Ok(event) = serde_json::from_str::<LoopbackEvent>(&line) else {
                        continue;
                    };
                    if let LoopbackEvent::Post {
                        platform_msg_id,
                        idempotency_key,
                        ..
                    } = &event
                    {
                        if let Some(n) = platform_msg_id
                            .strip_prefix("lb-")
                            .and_then(|n| n.parse::<u64>().ok())
                        {
                            highest = highest.max(n);
                        }
                        state
                            .posted
                            .insert(idempotency_key.clone(), platform_msg_id.clone());
                    }
                    state.history.push(event);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Arc::new(LoopbackAdapter {
            state: Mutex::new(state),
            events,
            next_id: AtomicU64::new(highest + 1),
            log: Some(path),
        }))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LoopbackEvent> {
        self.events.subscribe()
    }

    /// Everything said so far, in order.
    pub fn history(&self) -> Vec<LoopbackEvent> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .history
            .clone()
    }

    /// A fresh platform message id for a participant's message.
    pub fn next_message_id(&self) -> String {
        format!("lb-{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// A participant's message, as the loopback platform would deliver it.
    pub fn message(
        &self,
        room: &str,
        author: &str,
        name: &str,
        body: &str,
        sent_at: DateTime<Utc>,
        reply_to: Option<String>,
    ) -> IncomingMessage {
        IncomingMessage {
            platform: Platform::Loopback,
            room: room.to_owned(),
            platform_msg_id: self.next_message_id(),
            author_id: author.to_owned(),
            author_name: name.to_owned(),
            avatar_url: None,
            body: body.to_owned(),
            formatted_body: None,
            sent_at,
            reply_to,
            attachments: Vec::new(),
            platform_label: Some("Loopback".to_owned()),
            permalink: None,
        }
    }

    /// A participant's command sent as a reply to the message `reply_to`.
    pub fn command_replying(room: &str, user: &str, text: &str, reply_to: &str) -> Inbound {
        match Self::command(room, user, text) {
            Inbound::Command(mut invocation) => {
                invocation.reply_to = Some(reply_to.to_owned());
                Inbound::Command(invocation)
            }
            other => other,
        }
    }

    /// A participant's command (the loopback platform has no roles of its own).
    pub fn command(room: &str, user: &str, text: &str) -> Inbound {
        Inbound::Command(CommandInvocation {
            room: RoomRef::new(Platform::Loopback, room),
            user: UserRef::new(Platform::Loopback, user),
            display_name: user.to_owned(),
            platform_moderator: false,
            text: text.to_owned(),
            platform_msg_id: None,
            reply_to: None,
        })
    }

    /// Records the message `event` makes (given its new id) unless one was made with `key`
    /// before, as a platform that deduplicates by idempotency key does; the message's id.
    fn once(
        &self,
        key: &str,
        event: impl FnOnce(String) -> LoopbackEvent,
    ) -> Result<String, AdapterError> {
        let made = |s: &Self| {
            s.state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .posted
                .get(key)
                .cloned()
        };
        if let Some(existing) = made(self) {
            return Ok(existing);
        }
        let platform_msg_id = self.next_message_id();
        self.record(event(platform_msg_id.clone()))?;
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .posted
            .insert(key.to_owned(), platform_msg_id.clone());
        Ok(platform_msg_id)
    }

    fn record(&self, event: LoopbackEvent) -> Result<(), AdapterError> {
        if let Some(path) = &self.log {
            let mut line = serde_json::to_string(&event)
                .map_err(|e| AdapterError::Permanent(e.to_string()))?;
            line.push('\n');
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| AdapterError::Temporary(format!("loopback log: {e}")))?;
            file.write_all(line.as_bytes())
                .and_then(|_| file.sync_data())
                .map_err(|e| AdapterError::Temporary(format!("loopback log: {e}")))?;
        }
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .history
            .push(event.clone());
        // Nobody listening is fine: the history keeps it.
        let _ = self.events.send(event);
        Ok(())
    }
}

#[async_trait]
impl Adapter for LoopbackAdapter {
    fn platform(&self) -> Platform {
        Platform::Loopback
    }

    async fn post(&self, post: &Post) -> Result<String, AdapterError> {
        self.once(&post.idempotency_key, |platform_msg_id| {
            LoopbackEvent::Post {
                room: post.room.id.clone(),
                platform_msg_id,
                idempotency_key: post.idempotency_key.clone(),
                content: post.content.clone(),
            }
        })
    }

    async fn relay(&self, relay: &RelayPost) -> Result<String, AdapterError> {
        self.once(&relay.idempotency_key, |platform_msg_id| {
            LoopbackEvent::Relay {
                room: relay.room.id.clone(),
                platform_msg_id,
                idempotency_key: relay.idempotency_key.clone(),
                author: relay.content.author_name.clone(),
                from: relay.content.origin_label.clone(),
                body: match &relay.content.reacted_with {
                    Some(key) => format!("reacted {key}"),
                    None => relay.content.body.clone(),
                },
                in_reply_to: relay.in_reply_to.clone(),
                files: relay
                    .files
                    .iter()
                    .map(|f| match &f.bytes {
                        Some(bytes) => format!("{} ({} bytes)", f.name, bytes.len()),
                        None => format!("{} (no copy)", f.name),
                    })
                    .collect(),
            }
        })
    }

    async fn edit_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        self.record(LoopbackEvent::RelayEdit {
            room: copy.room.id.clone(),
            copy: copy.copy_msg_id.clone(),
            body: copy.content.body.clone(),
        })
    }

    async fn delete_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        self.record(LoopbackEvent::RelayDelete {
            room: copy.room.id.clone(),
            copy: copy.copy_msg_id.clone(),
        })
    }

    async fn reply(&self, reply: &Reply) -> Result<(), AdapterError> {
        self.record(LoopbackEvent::Reply {
            room: reply.room.id.clone(),
            to: reply.to.id.clone(),
            text: reply.text.clone(),
            private: reply.private,
        })
    }
}
