//! `/r/{room}/events`: the room live, as server-sent events.
//!
//! A page asks from the last event it has (`Last-Event-ID`, which the browser sends by itself
//! when it reconnects, or `?after=` from the page). The stream subscribes to the room before it
//! reads the store, then sends what the store holds after that number and then what arrives
//! live. Numbers have no gaps, so an event that arrives ahead of one still missing (two
//! appends finishing in the other order, or a page too slow for the live backlog) sends the
//! stream back to the store for what lies between: nothing is missed and nothing is sent
//! twice. Events meant for one person go only to their pages.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::broadcast;

use super::account::Viewer;
use super::event::RoomEvent;
use super::{Live, RoomHub};
use crate::page::{internal, not_found, plain};
use crate::WebState;

/// Events read from the store at a time while catching up.
const CATCH_UP_BATCH: i64 = 500;

#[derive(Deserialize)]
pub struct After {
    #[serde(default)]
    after: Option<String>,
}

/// The event number to follow from: `Last-Event-ID` first (a reconnect), then `?after=`.
fn start_after(headers: &HeaderMap, query: &After) -> Result<Option<i64>, ()> {
    let given = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.after.clone());
    match given {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or(()),
    }
}

pub async fn events(
    State(state): State<WebState>,
    Path(room): Path<String>,
    Query(query): Query<After>,
    address: super::actions::ClientAddress,
    headers: HeaderMap,
) -> Response {
    let Some(hub) = state.room.clone() else {
        return not_found();
    };
    let Some(chat) = hub.inner().chat_of(&room) else {
        return not_found();
    };
    let Ok(after) = start_after(&headers, &query) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "bad request: `after` (or Last-Event-ID) is an event number",
        );
    };
    let viewer = match Viewer::of(&hub.inner().store, &headers).await {
        Ok(viewer) => viewer,
        Err(e) => return internal(e),
    };
    match hub.inner().may_read(&room, &chat, viewer.as_ref()).await {
        Ok(true) => {}
        Ok(false) => {
            return plain(
                StatusCode::FORBIDDEN,
                "Join the room with its passphrase first.",
            )
        }
        Err(e) => return internal(e),
    }
    let Some(stream_slot) = StreamSlot::take(&hub, address.0) else {
        return plain(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many pages of this room are open from your address; close some and reload.",
        );
    };
    // Subscribed before the store is read: whatever is appended from here on is either in
    // what the store returns or arrives live.
    let live = hub.subscribe(&room);
    let last = match after {
        Some(after) => after,
        None => match hub.inner().store.local_room_head(&room).await {
            Ok(head) => head,
            Err(e) => return internal(e),
        },
    };
    let follow = Follow {
        hub,
        room,
        me: viewer.map(|v| v.account.user_id),
        last,
        live,
        pending: VecDeque::new(),
        behind: true,
        _slot: stream_slot,
    };
    let stream = futures_util::stream::unfold(follow, |mut follow| async move {
        let event = follow.next().await?;
        Some((Ok::<Event, Infallible>(event), follow))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response()
}

/// One page following one room.
struct Follow {
    hub: RoomHub,
    room: String,
    me: Option<String>,
    /// The last event number this page has, sent or skipped as not for it.
    last: i64,
    live: broadcast::Receiver<Arc<Live>>,
    /// Read from the store, to send before anything else.
    pending: VecDeque<Event>,
    /// Whether the store may hold events after `last` that the page has not had.
    behind: bool,
    _slot: StreamSlot,
}

/// One of an address's live streams, given back when the stream ends.
struct StreamSlot {
    hub: RoomHub,
    address: String,
}

impl StreamSlot {
    fn take(hub: &RoomHub, address: String) -> Option<StreamSlot> {
        let mut open = hub
            .inner()
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let count = open.entry(address.clone()).or_insert(0);
        if *count >= hub.inner().limits.max_streams_per_address {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            hub: hub.clone(),
            address,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .hub
            .inner()
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

impl Follow {
    fn for_me(&self, audience: Option<&str>) -> bool {
        audience.is_none_or(|a| self.me.as_deref() == Some(a))
    }

    /// The next event to send; `None` when the room's channel is gone (the server stops).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.behind {
                self.catch_up().await;
                continue;
            }
            match self.live.recv().await {
                Ok(live) => {
                    if live.seq <= self.last {
                        continue;
                    }
                    if live.seq > self.last + 1 {
                        self.behind = true;
                        continue;
                    }
                    self.last = live.seq;
                    if self.for_me(live.audience.as_deref()) {
                        return Some(Event::default().id(live.seq.to_string()).data(&live.data));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => self.behind = true,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Reads what the store holds after `last`, a batch at a time; on a store failure waits a
    /// moment and tries again (the page keeps its place).
    async fn catch_up(&mut self) {
        let inner = self.hub.inner();
        let stored = match inner
            .store
            .local_events_after(&self.room, self.last, CATCH_UP_BATCH)
            .await
        {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %e, room = %self.room, "a live page could not catch up; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
        };
        self.behind = stored.len() as i64 == CATCH_UP_BATCH;
        for row in stored {
            self.last = row.seq;
            if !self.for_me(row.audience.as_deref()) {
                continue;
            }
            let Some(event) = RoomEvent::from_json(&row.body) else {
                continue;
            };
            let frame = inner.frame(&self.room, row.seq, &event, row.at).await;
            let data = serde_json::to_string(&frame).expect("a frame always serialises");
            self.pending
                .push_back(Event::default().id(row.seq.to_string()).data(data));
        }
    }
}
