//! Putting recurring chats on the calendar, one occurrence ahead.

use super::steps::planned_session;
use super::{Engine, EngineError};
use crate::chat::Chat;
use crate::model::{Session, SessionId, SessionOrigin, SessionState, SessionUpdate};

/// How many taken occurrences (cancelled, running) in a row to step over before giving up.
const MAX_CANCELLED_IN_A_ROW: usize = 64;

impl Engine {
    /// Makes sure every recurring chat has its next occurrence scheduled, given the sessions
    /// the store holds as active (read once at start-up by [`Engine::load`]).
    pub(super) async fn ensure_recurrences(&self, active: &[Session]) -> Result<(), EngineError> {
        let dropped = self.drop_stale_occurrences(active).await?;
        let has_upcoming: std::collections::HashSet<&str> = active
            .iter()
            .filter(|s| {
                s.origin == SessionOrigin::Recurrence
                    && s.state.is_upcoming()
                    && !dropped.contains(&s.id)
            })
            .map(|s| s.chat_slug.as_str())
            .collect();
        for chat in self.chats() {
            if chat.schedule.is_some() && !has_upcoming.contains(chat.slug.as_str()) {
                self.ensure_next_occurrence(&chat).await?;
            }
        }
        Ok(())
    }

    /// Cancels occurrences that the chat's schedule no longer has (its file was edited or
    /// removed while the bot was down), so an edited start time never leaves two sessions.
    /// An occurrence whose reminder is already out is kept: people were told about it.
    /// Returns the sessions it cancelled.
    async fn drop_stale_occurrences(
        &self,
        active: &[Session],
    ) -> Result<Vec<SessionId>, EngineError> {
        let _writing = self.inner.session_writes.lock().await;
        let mut dropped = Vec::new();
        for session in active {
            if session.origin != SessionOrigin::Recurrence
                || session.state != SessionState::Scheduled
            {
                continue;
            }
            let still_planned = self.chat(&session.chat_slug).is_some_and(|chat| {
                chat.schedule.as_ref().is_some_and(|schedule| {
                    schedule.next_at_or_after(chat.zone, session.scheduled_start)
                        == Some(session.scheduled_start)
                })
            });
            if !still_planned {
                tracing::info!(session = session.id, chat = %session.chat_slug, "occurrence no longer in the chat's schedule; cancelling it");
                let mut update = SessionUpdate::from_session(session);
                update.state = SessionState::Cancelled;
                update.next_due_at = None;
                self.inner.store.update_session(session.id, &update).await?;
                self.track(&session.updated(&update));
                dropped.push(session.id);
            }
        }
        Ok(dropped)
    }

    /// Schedules the chat's first occurrence from now on, unless it is already in the store
    /// (creation is idempotent per chat and start time). Occurrences a moderator cancelled, and
    /// the one under way, are stepped over.
    pub(super) async fn ensure_next_occurrence(&self, chat: &Chat) -> Result<(), EngineError> {
        let Some(schedule) = &chat.schedule else {
            return Ok(());
        };
        let mut from = self.now();
        for _ in 0..MAX_CANCELLED_IN_A_ROW {
            let Some(start) = schedule.next_at_or_after(chat.zone, from) else {
                return Ok(());
            };
            let id = self
                .inner
                .store
                .create_session(&planned_session(chat, start, SessionOrigin::Recurrence))
                .await?;
            match self.reload_and_track(id).await? {
                // That occurrence was cancelled, or is the one running now: look further.
                Some(session) if !session.state.is_upcoming() => {
                    from = start + chrono::Duration::seconds(1);
                }
                _ => return Ok(()),
            }
        }
        tracing::warn!(chat = %chat.slug, "many cancelled occurrences in a row; not scheduling further");
        Ok(())
    }
}
