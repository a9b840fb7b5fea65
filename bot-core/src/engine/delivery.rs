//! Delivering the outbox: posts enqueued by steps, carried out through the adapters.

use crate::metrics::{Outcome, PostKind};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{lock, Engine, EngineError};
use crate::adapter::{AdapterError, Post, PostSession, RelayedCopy};
use crate::chat::Chat;
use crate::ids::RoomRef;
use crate::model::{OutboxPost, PendingRelay, SessionId};
use crate::store::{ChangeKind, RelayChange};

impl Engine {
    /// Sets delivery going in every room with something pending: the steps, then the relayed
    /// copies, then changes to copies.
    ///
    /// Each room is a lane of its own, a task that delivers that room's work in order and
    /// goes round again while more arrives, so a slow or unreachable platform never holds up
    /// another room, the scheduler, or a platform's events (a command delivers its posts at
    /// once without waiting for any room). Order within a room is kept: once a post to a room
    /// fails, later posts of that session to that room wait for the retry, and a relay that
    /// fails holds back the room's later relays. A post whose platform has no adapter in this
    /// process stays pending (another instance, or a later start with that adapter configured,
    /// delivers it). With [`EngineSettings::wait_for_delivery`] it returns once the lanes it
    /// started are done.
    ///
    /// [`EngineSettings::wait_for_delivery`]: super::EngineSettings::wait_for_delivery
    pub(super) async fn deliver_outbox(&self) -> Result<(), EngineError> {
        let rooms = self.inner.store.rooms_with_pending_work().await?;
        let now = self.now();
        // Lanes backing off after a failure keep their own time; the scheduler wakes for the
        // earliest.
        let mut retry = None;
        let mut started = Vec::new();
        for room in rooms {
            match self.lane(&room).backing_off_until(now) {
                Some(until) => retry = Some(retry.map_or(until, |r: DateTime<Utc>| r.min(until))),
                None => started.extend(self.start_lane(room)),
            }
        }
        *lock(&self.inner.retry_at) = retry;
        if self.inner.settings.wait_for_delivery {
            for lane in started {
                if let Err(e) = lane.await {
                    tracing::error!(error = %e, "a delivery lane stopped");
                }
            }
        }
        Ok(())
    }

    /// Starts `room`'s lane, or, when it is running, has it go round once more; the task when
    /// one was started.
    fn start_lane(&self, room: RoomRef) -> Option<tokio::task::JoinHandle<()>> {
        let state = self.lane(&room);
        state.again.store(true, Ordering::SeqCst);
        if state.busy.swap(true, Ordering::SeqCst) {
            return None;
        }
        let engine = self.clone();
        Some(tokio::spawn(async move {
            loop {
                state.again.store(false, Ordering::SeqCst);
                let retry = match engine.deliver_room(&room).await {
                    Ok(retry) => retry,
                    Err(e) => {
                        tracing::error!(%room, error = %e, "delivering failed; trying again shortly");
                        true
                    }
                };
                if retry {
                    engine.back_off(&state);
                } else {
                    *lock(&state.backoff_until) = None;
                }
                state.busy.store(false, Ordering::SeqCst);
                // Asked again while finishing: go round, unless another task took the lane.
                if !state.again.load(Ordering::SeqCst) || state.busy.swap(true, Ordering::SeqCst) {
                    break;
                }
            }
        }))
    }

    fn lane(&self, room: &RoomRef) -> Arc<LaneState> {
        lock(&self.inner.lanes)
            .entry(room.clone())
            .or_default()
            .clone()
    }

    /// A lane failed: it is left alone for the retry delay (ticks meanwhile pass it by), and
    /// the scheduler is told to wake then (the earliest ask wins).
    fn back_off(&self, state: &LaneState) {
        let at = self.now() + self.inner.settings.retry_delay;
        *lock(&state.backoff_until) = Some(at);
        let mut retry = lock(&self.inner.retry_at);
        *retry = Some(retry.map_or(at, |earlier| earlier.min(at)));
        drop(retry);
        self.inner.wake.notify_one();
    }

    /// A platform is back: every lane may try again at once.
    pub(super) fn end_backoffs(&self) {
        for state in lock(&self.inner.lanes).values() {
            *lock(&state.backoff_until) = None;
        }
    }

    /// Everything `room` has pending, delivered in order; whether some must be tried again.
    async fn deliver_room(&self, room: &RoomRef) -> Result<bool, EngineError> {
        let store = &self.inner.store;
        let lane = Lane {
            posts: store.pending_posts_in(room).await?,
            relays: store.pending_relays_in(room).await?,
            changes: store.pending_relay_changes_in(room).await?,
        };
        let mut contexts: HashMap<SessionId, Option<PostContext>> = HashMap::new();
        let sessions = lane.posts.iter().map(|p| p.session_id);
        let relays = lane.relays.iter().map(|r| r.session_id);
        let changes = lane.changes.iter().map(|c| c.session_id);
        for id in sessions.chain(relays).chain(changes) {
            if let Entry::Vacant(slot) = contexts.entry(id) {
                slot.insert(self.post_context(id).await?);
            }
        }
        self.deliver_lane(room.clone(), lane, &contexts).await
    }

    /// Delivers one room's pending posts, then its relays, in order; whether some must be
    /// tried again later.
    async fn deliver_lane(
        &self,
        room: RoomRef,
        lane: Lane,
        contexts: &HashMap<SessionId, Option<PostContext>>,
    ) -> Result<bool, EngineError> {
        let Some(adapter) = self.adapter(room.platform) else {
            return Ok(false);
        };
        let state = self.lane(&room);
        let mut blocked: HashSet<SessionId> = HashSet::new();
        let mut retry_needed = false;
        for entry in lane.posts {
            if blocked.contains(&entry.session_id) {
                continue;
            }
            let Some(context) = contexts.get(&entry.session_id).cloned().flatten() else {
                // The outbox row's session is gone (purged): nothing to post it for.
                tracing::warn!(
                    session = entry.session_id,
                    step = entry.step,
                    "post of a session that no longer exists dropped"
                );
                self.record_failure(&entry, "the session no longer exists", true)
                    .await?;
                continue;
            };
            let post = Post {
                room: entry.room.clone(),
                idempotency_key: entry.idempotency_key(),
                content: entry.content.clone(),
                options: context.options_for(&room),
                session: context.session,
            };
            let sending = state.sending(InFlight::Post);
            let began = std::time::Instant::now();
            let posted = adapter.post(&post).await;
            self.inner.metrics.posted(
                PostKind::Step,
                room.platform,
                outcome_of(&posted),
                began.elapsed(),
            );
            match posted {
                Ok(platform_id) => {
                    let now = self.now();
                    let platform_at = adapter
                        .sent_at_of(&platform_id)
                        .map(|wall| self.platform_time(wall));
                    self.inner
                        .store
                        .mark_posted(
                            entry.session_id,
                            entry.step,
                            &entry.room,
                            &platform_id,
                            now,
                            platform_at,
                        )
                        .await?;
                    drop(sending);
                }
                Err(AdapterError::Temporary(reason)) => {
                    let give_up = entry.attempts + 1 >= self.inner.settings.max_post_attempts;
                    tracing::warn!(session = entry.session_id, step = entry.step, room = %entry.room, %reason, give_up, "post failed");
                    self.record_failure(&entry, &reason, give_up).await?;
                    if !give_up {
                        blocked.insert(entry.session_id);
                        retry_needed = true;
                    }
                }
                Err(AdapterError::Unreachable(reason)) => {
                    tracing::warn!(session = entry.session_id, step = entry.step, room = %entry.room, %reason, "platform unreachable; the post waits");
                    blocked.insert(entry.session_id);
                    retry_needed = true;
                }
                Err(AdapterError::Permanent(reason)) => {
                    tracing::error!(session = entry.session_id, step = entry.step, room = %entry.room, %reason, "post failed for good");
                    self.record_failure(&entry, &reason, true).await?;
                }
            }
        }
        for relay in lane.relays {
            let Some(context) = contexts.get(&relay.session_id).cloned().flatten() else {
                self.inner
                    .store
                    .mark_relay_failed(relay.id, "the session no longer exists", true)
                    .await?;
                continue;
            };
            let in_reply_to = self.reply_target(&relay).await?;
            let post = self
                .relay_post(
                    &relay,
                    in_reply_to,
                    context.options_for(&room),
                    context.session,
                )
                .await?;
            let sending = state.sending(InFlight::Copy);
            tracing::debug!(relay = relay.id, %room, "relaying a copy");
            let began = std::time::Instant::now();
            let relayed = adapter.relay(&post).await;
            self.inner.metrics.posted(
                PostKind::Relay,
                room.platform,
                outcome_of(&relayed),
                began.elapsed(),
            );
            match relayed {
                Ok(copy) => {
                    if self.inner.settings.hold_before_recording_copies {
                        tracing::warn!(relay = relay.id, %room, "held before recording a copy");
                        std::future::pending::<()>().await;
                    }
                    let changed_meanwhile = self
                        .inner
                        .store
                        .mark_relayed(relay.id, &copy, self.now(), &relay.content)
                        .await?;
                    drop(sending);
                    if let Err(e) = adapter.relay_recorded(&post).await {
                        tracing::warn!(relay = relay.id, %room, error = %e, "an adapter could not tidy up after a recorded copy");
                    }
                    if changed_meanwhile {
                        // Edited or deleted while the copy was being made: the lane goes
                        // round again to bring the copy up to date.
                        self.deliver_soon();
                    }
                }
                Err(AdapterError::Temporary(reason)) => {
                    let give_up = relay.attempts + 1 >= self.inner.settings.max_post_attempts;
                    tracing::warn!(relay = relay.id, %room, %reason, give_up, "relay failed");
                    self.inner
                        .store
                        .mark_relay_failed(relay.id, &reason, give_up)
                        .await?;
                    if !give_up {
                        return Ok(true);
                    }
                }
                Err(AdapterError::Unreachable(reason)) => {
                    tracing::warn!(relay = relay.id, %room, %reason, "platform unreachable; the relay waits");
                    return Ok(true);
                }
                Err(AdapterError::Permanent(reason)) => {
                    tracing::error!(relay = relay.id, %room, %reason, "relay failed for good");
                    self.inner
                        .store
                        .mark_relay_failed(relay.id, &reason, true)
                        .await?;
                }
            }
        }
        for change in lane.changes {
            let Some(context) = contexts.get(&change.session_id).cloned().flatten() else {
                continue;
            };
            let copy = RelayedCopy {
                room: change.target.clone(),
                copy_msg_id: change.copy_msg_id.clone(),
                // Distinct per change: Synapse answers a reused transaction id with the event
                // it made first, whatever the request.
                idempotency_key: match change.kind {
                    ChangeKind::Edit => format!("hc-re-{}-{}", change.id, change.edit_seq),
                    ChangeKind::Delete => format!("hc-rd-{}", change.id),
                },
                content: change.content.clone(),
                options: context.options_for(&room),
                session: context.session,
            };
            tracing::debug!(relay = change.id, %room, kind = ?change.kind, "bringing a copy up to date");
            let done = match change.kind {
                ChangeKind::Edit => adapter.edit_relay(&copy).await,
                ChangeKind::Delete => adapter.delete_relay(&copy).await,
            };
            match done {
                Ok(()) => self.inner.store.mark_relay_change_done(&change).await?,
                Err(AdapterError::Temporary(reason) | AdapterError::Unreachable(reason)) => {
                    tracing::warn!(relay = change.id, %room, %reason, "a copy not brought up to date yet; trying again");
                    return Ok(true);
                }
                Err(AdapterError::Permanent(reason)) => {
                    // The copy stays as it was (gone, or no longer ours to change).
                    tracing::warn!(relay = change.id, %room, %reason, "a copy could not be brought up to date");
                    self.inner.store.mark_relay_change_done(&change).await?;
                }
            }
        }
        Ok(retry_needed)
    }

    /// Notes a failed attempt at `entry`; `give_up` marks it failed for good.
    async fn record_failure(
        &self,
        entry: &OutboxPost,
        reason: &str,
        give_up: bool,
    ) -> Result<(), EngineError> {
        self.inner
            .store
            .mark_attempt_failed(entry.session_id, entry.step, &entry.room, reason, give_up)
            .await?;
        Ok(())
    }

    /// What the posts of session `id` carry besides their content; `None` when the session
    /// is gone.
    pub(super) async fn post_context(
        &self,
        id: SessionId,
    ) -> Result<Option<PostContext>, EngineError> {
        let Some(session) = self.inner.store.get_session(id).await? else {
            return Ok(None);
        };
        let chat = self.chat(&session.chat_slug);
        Ok(Some(PostContext {
            session: PostSession {
                uid: session.uid.clone(),
                number: Some(session.id),
                chat_title: chat
                    .as_ref()
                    .map_or_else(|| session.chat_slug.clone(), |c| c.title.clone()),
                starts_at: session.started_at.unwrap_or(session.scheduled_start),
                time_zone: chat.as_ref().map_or(chrono_tz::UTC, |c| c.zone),
            },
            chat,
        }))
    }
}

#[derive(Clone)]
pub(super) struct PostContext {
    pub(super) session: PostSession,
    pub(super) chat: Option<Arc<Chat>>,
}

impl PostContext {
    pub(super) fn options_for(&self, room: &RoomRef) -> Option<serde_json::Value> {
        self.chat
            .as_ref()
            .and_then(|c| c.options_for(room.platform))
            .cloned()
    }
}

/// Whether a room's lane is running, whether it was asked to go round again meanwhile, until
/// when it backs off after a failure, and whether a post or copy is on its way to the room.
pub(super) struct LaneState {
    busy: AtomicBool,
    again: AtomicBool,
    /// After a failure, no new try before this.
    backoff_until: std::sync::Mutex<Option<DateTime<Utc>>>,
    /// What is on its way, from the moment it is handed to the adapter until the store knows
    /// whether it was made (and, if so, its id and time).
    in_flight: watch::Sender<Sends>,
}

impl Default for LaneState {
    fn default() -> Self {
        LaneState {
            busy: AtomicBool::new(false),
            again: AtomicBool::new(false),
            backoff_until: std::sync::Mutex::new(None),
            in_flight: watch::Sender::new(Sends::default()),
        }
    }
}

impl LaneState {
    fn backing_off_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        lock(&self.backoff_until).filter(|until| *until > now)
    }

    /// Marks `what` as on its way until the guard is dropped (also on an early return or an
    /// error).
    fn sending(&self, what: InFlight) -> Sending<'_> {
        self.in_flight.send_modify(|s| s.now = Some(what));
        Sending(&self.in_flight)
    }
}

/// What a lane may have on its way to its room (one thing at a time: a lane is in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InFlight {
    /// One of the session's steps: a point, the intro, a reminder, the wrap-up.
    Post,
    /// A participant's message (or a reaction's line) copied in from another room.
    Copy,
}

/// What a lane has on its way now, and how many sends it has finished: a send that ends
/// while the next begins is still seen to have ended.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Sends {
    now: Option<InFlight>,
    finished: u64,
}

struct Sending<'a>(&'a watch::Sender<Sends>);

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|s| {
            s.now = None;
            s.finished += 1;
        });
    }
}

/// How long an event waits for a post or copy on its way to the event's room (see
/// [`Engine::settle`]): long enough for any platform that is answering, short enough that an
/// unreachable one does not hold the room's events up for long.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Engine {
    /// Waits while `what` (either kind when `None`) is on its way to `room`, for at most
    /// [`SETTLE_WAIT`].
    ///
    /// People answer what they see, and the platform shows a post before the bot hears back
    /// from it: a message, reply or reaction can reach the bot before the store knows the id
    /// and time of the point now on screen or the copy reacted to. Looking again once that is
    /// recorded files the event under the right point and traces it to the right original.
    pub(super) async fn settle(&self, room: &RoomRef, what: Option<InFlight>) {
        let Some(state) = lock(&self.inner.lanes).get(room).cloned() else {
            return;
        };
        let mut in_flight = state.in_flight.subscribe();
        let at_first = *in_flight.borrow_and_update();
        let awaited = |now: Option<InFlight>| now.is_some() && (what.is_none() || now == what);
        if !awaited(at_first.now) {
            return;
        }
        let done = |s: &Sends| !awaited(s.now) || s.finished > at_first.finished;
        let settled = tokio::time::timeout(SETTLE_WAIT, in_flight.wait_for(done));
        if settled.await.is_err() {
            tracing::debug!(%room, "a post to this room is still on its way; handling the event without it");
        }
    }
}

/// One room's pending posts, relays and changes to copies, each in order.
#[derive(Default)]
struct Lane {
    posts: Vec<OutboxPost>,
    relays: Vec<PendingRelay>,
    changes: Vec<RelayChange>,
}

fn outcome_of<T>(attempt: &Result<T, AdapterError>) -> Outcome {
    match attempt {
        Ok(_) => Outcome::Delivered,
        Err(_) => Outcome::Failed,
    }
}
