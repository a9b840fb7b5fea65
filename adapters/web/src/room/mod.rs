//! The browser room: a live room page for each chat with a `web:` room, for people who cannot
//! or will not use Discord or Matrix.
//!
//! The room is a platform like the others: [`RoomHub::adapter`] is registered with the engine,
//! which posts the session's steps and relays every other room's messages into it, and what
//! people write here is handed to the engine as any platform's messages are. hashchat hosts the
//! room itself, so its record is the store's local room log: every event numbered 1, 2, 3… per
//! room, with no gaps, so a page that reconnects resumes from the last number it saw and misses
//! nothing, and an event written twice (a retried form post, a retried relay) is kept once by
//! its key.
//!
//! Routes ([`routes`]): `/r` (the rooms), `/r/{room}` and `/r/{room}/calendar.ics` ([`page`]), its `join`, `say`, `react`,
//! `command`, `block` and `rsvp` forms ([`actions`]), `upload` when files are taken
//! ([`upload`]), `/r/{room}/events` (server-sent events,
//! [`live`]), `/signin` ([`signin`]), `/room.js` (the room's one script).
//!
//! Safety ([`account`], [`limits`]): a browser is known by an HttpOnly SameSite=Strict cookie
//! whose token the store keeps only hashed; every form carries a token derived from it and is
//! refused from another origin; message length and per-participant and per-address rates are
//! limited; a name is one person's in a room while they are around.

pub mod account;
pub mod actions;
pub mod adapter;
pub mod event;
pub mod limits;
pub mod live;
pub mod page;
pub mod signin;
pub mod upload;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use axum::Router;
use bot_core::chat::Chat;
use bot_core::engine::Engine;
use bot_core::ids::{Platform, RoomRef};
use bot_core::model::SessionId;
use bot_core::store::{NewLocalEvent, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

pub use account::ModeratorSecret;
pub use limits::Limits;

use event::RoomEvent;

/// How many live events a slow page may fall behind before it reads the rest from the store.
const LIVE_BACKLOG: usize = 256;

/// The room's one script, served as `/room.js`.
pub const SCRIPT: &str = include_str!("room.js");

/// One event as the live stream sends it (and the page's script reads it).
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    pub seq: i64,
    /// `add` (append `html`), `edit` (the body of `target` becomes `html`), `delete` (remove
    /// `target`).
    pub op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A live event on its way to every page of its room.
#[derive(Debug)]
pub struct Live {
    pub seq: i64,
    /// The one user it is for, else everyone.
    pub audience: Option<String>,
    /// The frame as JSON, made once for every page.
    pub data: String,
}

/// Everything the room's routes and its adapter share.
#[derive(Clone)]
pub struct RoomHub {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) store: Store,
    pub(crate) limits: Limits,
    pub(crate) limiter: limits::RateLimiter,
    pub(crate) secret: ModeratorSecret,
    /// Cookies say `Secure` when the archive is reached over https.
    pub(crate) secure_cookies: bool,
    /// Where attached files go, when the room takes them.
    pub(crate) uploads: Option<upload::Uploads>,
    /// Whether requests come through a reverse proxy that names the client in
    /// `X-Forwarded-For` (see `actions::ClientAddress`).
    pub(crate) behind_proxy: bool,
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<Live>>>>,
    /// Held from an event's append to its send, per room, so events reach the channel in
    /// number order and no page goes to the store for a gap that is only a race.
    in_order: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Live streams open per address.
    pub(crate) streams: Mutex<HashMap<String, usize>>,
    uids: Mutex<HashMap<SessionId, String>>,
}

impl RoomHub {
    pub fn new(
        engine: Engine,
        limits: Limits,
        secret: ModeratorSecret,
        secure_cookies: bool,
    ) -> Self {
        RoomHub {
            inner: Arc::new(Inner {
                store: engine.store().clone(),
                engine,
                limiter: limits::RateLimiter::default(),
                limits,
                secret,
                secure_cookies,
                uploads: None,
                behind_proxy: false,
                channels: Mutex::new(HashMap::new()),
                in_order: Mutex::new(HashMap::new()),
                streams: Mutex::new(HashMap::new()),
                uids: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// From now on the room takes files of up to `max_bytes`, into `media`. Called before the
    /// hub is shared (handed to the server or the engine).
    pub fn with_uploads(mut self, media: bot_core::media::MediaStore, max_bytes: u64) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("uploads are set before the hub is shared")
            .uploads = Some(upload::Uploads { media, max_bytes });
        self
    }

    /// From now on a request's address, for the per-address limits, is the one the reverse
    /// proxy in front names last in `X-Forwarded-For`. Only for a server that nothing but the
    /// proxy can reach. Called before the hub is shared.
    pub fn behind_proxy(mut self) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("set before the hub is shared")
            .behind_proxy = true;
        self
    }

    /// The web platform's adapter, to register with the engine.
    pub fn adapter(&self) -> Arc<dyn bot_core::adapter::Adapter> {
        Arc::new(adapter::WebAdapter(self.inner.clone()))
    }

    /// Live events of `room` from now on.
    pub fn subscribe(&self, room: &str) -> broadcast::Receiver<Arc<Live>> {
        self.inner.channel(room).subscribe()
    }

    /// How many pages follow `room` live now.
    pub fn followers(&self, room: &str) -> usize {
        self.inner.channel(room).receiver_count()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

/// The web room's id in a chat's rooms, when `room` is a valid room name.
pub fn room_ref(room: &str) -> RoomRef {
    RoomRef::new(Platform::Web, room)
}

impl Inner {
    fn channel(&self, room: &str) -> broadcast::Sender<Arc<Live>> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .entry(room.to_owned())
            .or_insert_with(|| broadcast::channel(LIVE_BACKLOG).0)
            .clone()
    }

    /// The configured chat that has `web:{room}` among its rooms.
    pub(crate) fn chat_of(&self, room: &str) -> Option<Arc<Chat>> {
        let room = room_ref(room);
        self.engine
            .chats()
            .into_iter()
            .find(|chat| chat.rooms.contains(&room))
    }

    /// Whether `viewer` may read `room` (`chat`'s): anyone may, but a passphrase room only
    /// who joined it (and is marked seen now).
    pub(crate) async fn may_read(
        &self,
        room: &str,
        chat: &Chat,
        viewer: Option<&account::Viewer>,
    ) -> Result<bool, StoreError> {
        if crate::rules::chat_options(chat).passphrase.is_none() {
            return Ok(true);
        }
        let Some(viewer) = viewer else {
            return Ok(false);
        };
        Ok(self
            .store
            .touch_local_member(room, &viewer.account.user_id, self.engine.now())
            .await?
            .is_some())
    }

    /// The uid of the session running or paused in `room`, if any.
    pub(crate) async fn live_uid(&self, room: &str) -> Result<Option<String>, StoreError> {
        let Some(id) = self.engine.live_session_in(&room_ref(room)) else {
            return Ok(None);
        };
        if let Some(uid) = self.uids.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(Some(uid.clone()));
        }
        let Some(session) = self.store.get_session(id).await? else {
            return Ok(None);
        };
        self.uids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, session.uid.clone());
        Ok(Some(session.uid))
    }

    /// Appends `event` to `room`'s log and, when it is new, sends it to every page following
    /// the room. Its number, and whether it is new.
    pub(crate) async fn append(
        &self,
        room: &str,
        event: &RoomEvent,
        session_uid: Option<&str>,
        audience: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<(i64, bool), StoreError> {
        let order = self
            .in_order
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(room.to_owned())
            .or_default()
            .clone();
        // The store numbers the room's events one writer at a time anyway (the head's row
        // lock, SQLite's one writer), so holding this across the append costs no throughput.
        let _in_order = order.lock().await;
        let at = self.engine.now();
        let body = event.to_json();
        let (seq, fresh) = self
            .store
            .append_local_event(NewLocalEvent {
                room,
                kind: event.kind(),
                session_uid,
                audience,
                body: &body,
                idempotency_key,
                at,
            })
            .await?;
        if fresh {
            let frame = self.frame(room, seq, event, at).await;
            let data = serde_json::to_string(&frame).expect("a frame always serialises");
            // No page following the room is not an error.
            let _ = self.channel(room).send(Arc::new(Live {
                seq,
                audience: audience.map(str::to_owned),
                data,
            }));
        }
        Ok((seq, fresh))
    }

    /// How `event` (number `seq` of `room`) is sent to pages.
    pub(crate) async fn frame(
        &self,
        room: &str,
        seq: i64,
        event: &RoomEvent,
        at: DateTime<Utc>,
    ) -> Frame {
        match event {
            RoomEvent::Edit {
                target,
                body,
                formatted_body,
            } => Frame {
                seq,
                op: "edit",
                target: Some(*target),
                html: Some(event::body_html(body, formatted_body.as_deref())),
            },
            RoomEvent::Delete { target } => Frame {
                seq,
                op: "delete",
                target: Some(*target),
                html: None,
            },
            _ => {
                let parent = self.parent_author(room, event).await;
                let zone = self.chat_of(room).map_or(chrono_tz::UTC, |c| c.zone);
                Frame {
                    seq,
                    op: "add",
                    target: None,
                    html: event::render(seq, event, at, zone, parent.as_deref()),
                }
            }
        }
    }

    /// Who wrote the message `event` answers or reacts to, when it is in the room's log.
    async fn parent_author(&self, room: &str, event: &RoomEvent) -> Option<String> {
        let target = match event {
            RoomEvent::Message { reply_to, .. } => (*reply_to)?,
            RoomEvent::Reaction { target, .. } => (*target)?,
            _ => return None,
        };
        let stored = self.store.local_event(room, target).await.ok()??;
        match RoomEvent::from_json(&stored.body)? {
            RoomEvent::Message { author, .. } => Some(author),
            RoomEvent::Post { label, .. } => Some(label),
            _ => None,
        }
    }
}

/// The room's routes, to merge into the archive's router.
pub fn routes() -> Router<crate::WebState> {
    Router::new()
        .route("/r", get(page::rooms))
        .route("/r/{room}", get(page::room))
        .route("/r/{room}/events", get(live::events))
        .route("/r/{room}/calendar.ics", get(page::calendar))
        .route("/r/{room}/join", post(actions::join))
        .route("/r/{room}/say", post(actions::say))
        .route("/r/{room}/react", post(actions::react))
        .route("/r/{room}/command", post(actions::command))
        .route("/r/{room}/block", post(actions::block))
        .route("/r/{room}/rsvp", post(actions::rsvp))
        .route(
            "/r/{room}/upload",
            post(upload::upload).layer(axum::extract::DefaultBodyLimit::max(upload::MAX_BODY)),
        )
        .route("/signin", get(signin::form).post(signin::sign_in))
        .route("/room.js", get(page::script))
        .layer(axum::extract::DefaultBodyLimit::max(
            actions::MAX_FORM_BYTES,
        ))
}
