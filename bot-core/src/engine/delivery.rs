//! Delivering the outbox: posts enqueued by steps, carried out through the adapters.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{lock, Engine, EngineError};
use crate::adapter::{AdapterError, Post, PostSession};
use crate::chat::Chat;
use crate::ids::RoomRef;
use crate::model::{OutboxPost, SessionId};

impl Engine {
    /// Posts everything pending, oldest first.
    ///
    /// Order within a room is kept: once a post to a room fails, later posts of that session to
    /// that room wait for the retry. A post whose platform has no adapter in this process stays
    /// pending (another instance, or a later start with that adapter configured, delivers it).
    pub(super) async fn deliver_outbox(&self) -> Result<(), EngineError> {
        let _delivering = self.inner.delivering.lock().await;
        let pending = self.inner.store.pending_posts().await?;
        let mut blocked: HashSet<(SessionId, RoomRef)> = HashSet::new();
        let mut retry_needed = false;
        let mut contexts: HashMap<SessionId, Option<PostContext>> = HashMap::new();
        for entry in pending {
            let lane = (entry.session_id, entry.room.clone());
            if blocked.contains(&lane) {
                continue;
            }
            let Some(adapter) = self.adapter(entry.room.platform) else {
                blocked.insert(lane);
                continue;
            };
            let context = match contexts.get(&entry.session_id) {
                Some(c) => c.clone(),
                None => {
                    let c = self.post_context(entry.session_id).await?;
                    contexts.insert(entry.session_id, c.clone());
                    c
                }
            };
            let Some(context) = context else {
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
                options: context
                    .chat
                    .as_ref()
                    .and_then(|c| c.options_for(entry.room.platform))
                    .cloned(),
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
                        blocked.insert(lane);
                        retry_needed = true;
                    }
                }
                Err(AdapterError::Unreachable(reason)) => {
                    tracing::warn!(session = entry.session_id, step = entry.step, room = %entry.room, %reason, "platform unreachable; the post waits");
                    blocked.insert(lane);
                    retry_needed = true;
                }
                Err(AdapterError::Permanent(reason)) => {
                    tracing::error!(session = entry.session_id, step = entry.step, room = %entry.room, %reason, "post failed for good");
                    self.record_failure(&entry, &reason, true).await?;
                }
            }
        }
        *lock(&self.inner.retry_at) =
            retry_needed.then(|| self.now() + self.inner.settings.retry_delay);
        Ok(())
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
