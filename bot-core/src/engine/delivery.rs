//! Delivering the outbox: posts enqueued by steps, carried out through the adapters.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::join_all;

use super::{lock, Engine, EngineError};
use crate::adapter::{AdapterError, Post, PostSession};
use crate::chat::Chat;
use crate::ids::RoomRef;
use crate::model::{OutboxPost, PendingRelay, SessionId};

impl Engine {
    /// Posts everything pending: the steps, then the relayed copies, room by room.
    ///
    /// Each room is a lane of its own and the lanes run at once, so one slow or unreachable
    /// platform does not hold up the others' posts within a pass. Order within a room is kept:
    /// once a post to a room fails, later posts of that session to that room wait for the
    /// retry, and a relay that fails holds back the room's later relays. A post whose platform
    /// has no adapter in this process stays pending (another instance, or a later start with
    /// that adapter configured, delivers it).
    pub(super) async fn deliver_outbox(&self) -> Result<(), EngineError> {
        let _delivering = self.inner.delivering.lock().await;
        let mut lanes: BTreeMap<RoomRef, Lane> = BTreeMap::new();
        for post in self.inner.store.pending_posts().await? {
            lanes.entry(post.room.clone()).or_default().posts.push(post);
        }
        for relay in self.inner.store.pending_relays().await? {
            lanes
                .entry(relay.target.clone())
                .or_default()
                .relays
                .push(relay);
        }
        let mut contexts: HashMap<SessionId, Option<PostContext>> = HashMap::new();
        for lane in lanes.values() {
            let sessions = lane.posts.iter().map(|p| p.session_id);
            for id in sessions.chain(lane.relays.iter().map(|r| r.session_id)) {
                if let Entry::Vacant(slot) = contexts.entry(id) {
                    slot.insert(self.post_context(id).await?);
                }
            }
        }
        let outcomes = join_all(
            lanes
                .into_iter()
                .map(|(room, lane)| self.deliver_lane(room, lane, &contexts)),
        )
        .await;
        let mut retry_needed = false;
        for outcome in outcomes {
            retry_needed |= outcome?;
        }
        *lock(&self.inner.retry_at) =
            retry_needed.then(|| self.now() + self.inner.settings.retry_delay);
        Ok(())
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
            match adapter.post(&post).await {
                Ok(platform_id) => {
                    let now = self.now();
                    self.inner
                        .store
                        .mark_posted(entry.session_id, entry.step, &entry.room, &platform_id, now)
                        .await?;
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
            let post = Self::relay_post(
                &relay,
                in_reply_to,
                context.options_for(&room),
                context.session,
            );
            match adapter.relay(&post).await {
                Ok(copy) => {
                    self.inner
                        .store
                        .mark_relayed(relay.id, &copy, self.now())
                        .await?;
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
    async fn post_context(&self, id: SessionId) -> Result<Option<PostContext>, EngineError> {
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
struct PostContext {
    session: PostSession,
    chat: Option<Arc<Chat>>,
}

impl PostContext {
    fn options_for(&self, room: &RoomRef) -> Option<serde_json::Value> {
        self.chat
            .as_ref()
            .and_then(|c| c.options_for(room.platform))
            .cloned()
    }
}

/// One room's pending posts and relays, each in order.
#[derive(Default)]
struct Lane {
    posts: Vec<OutboxPost>,
    relays: Vec<PendingRelay>,
}
