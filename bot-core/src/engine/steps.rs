//! Emitting a session's steps: the session state machine.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Engine, EngineError};
use crate::chat::Chat;
use crate::model::{
    ChatSnapshot, CommandKey, NewPost, NewSession, PostContent, PostKind, Session, SessionId,
    SessionOrigin, SessionState, SessionUpdate, StepEmission,
};
use crate::plan::{Step, INTRO_STEP, REMINDER_STEP};
use crate::render::plain::format_local;

/// A session of `chat` planned to start at `start`: its reminder first when the chat has one.
pub(super) fn planned_session(
    chat: &Chat,
    start: DateTime<Utc>,
    origin: SessionOrigin,
) -> NewSession {
    let (next_step, next_due_at) = if chat.reminder_minutes > 0 {
        let reminder_at = start - chrono::Duration::minutes(i64::from(chat.reminder_minutes));
        (REMINDER_STEP, reminder_at)
    } else {
        (INTRO_STEP, start)
    };
    NewSession {
        chat_slug: chat.slug.clone(),
        origin,
        state: SessionState::Scheduled,
        scheduled_start: start,
        next_step,
        next_due_at: Some(next_due_at),
        rooms: chat.rooms.clone(),
        command: None,
    }
}

/// Why a step is being emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trigger {
    /// Its due time came: later steps keep the timetable.
    Due,
    /// A moderator asked for it now (`start`, `next`, `stop`): later steps count from now.
    Now,
}

/// What emitting one step did.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Emitted {
    Step(Step),
    /// The reminder was dropped because the session's start had already passed.
    StaleReminder,
    /// The start passed too long ago while the bot was away.
    Missed,
    /// Nothing: the session had finished, is paused, or someone else emitted the step first.
    Nothing,
}

impl Engine {
    /// Emits the next step of `session_id`, updates the indexes, and puts the chat's next
    /// occurrence on the calendar if this one began.
    pub(super) async fn advance(
        &self,
        session_id: SessionId,
        trigger: Trigger,
        command: Option<&CommandKey>,
    ) -> Result<Emitted, EngineError> {
        let writing = self.inner.session_writes.lock().await;
        let (mut outcomes, follow_ups) = self
            .advance_many_locked(&[session_id], trigger, command, &writing)
            .await?;
        drop(writing);
        self.schedule_next_occurrences(follow_ups).await?;
        Ok(outcomes.pop().unwrap_or(Emitted::Nothing))
    }

    /// Emits the next step of each session in ONE store transaction (a burst of sessions due
    /// at the same instant costs one commit), and updates the indexes. Returns what each did, in
    /// order, and the recurring chats whose next occurrence is to be scheduled: the caller does
    /// that after delivering the posts, so the burst's posts go out first.
    pub(super) async fn advance_many(
        &self,
        session_ids: &[SessionId],
        trigger: Trigger,
    ) -> Result<(Vec<Emitted>, Vec<Arc<Chat>>), EngineError> {
        let writing = self.inner.session_writes.lock().await;
        self.advance_many_locked(session_ids, trigger, None, &writing)
            .await
    }

    /// [`Engine::advance_many`] for a caller that already holds the session-write lock (a
    /// command that checks, creates and starts a session as one step); `command`, the command
    /// moving the sessions on, if one is, is recorded with each step (see [`CommandKey`]).
    pub(super) async fn advance_many_locked(
        &self,
        session_ids: &[SessionId],
        trigger: Trigger,
        command: Option<&CommandKey>,
        _writing: &tokio::sync::MutexGuard<'_, ()>,
    ) -> Result<(Vec<Emitted>, Vec<Arc<Chat>>), EngineError> {
        let mut outcomes = vec![Emitted::Nothing; session_ids.len()];
        let mut planned = Vec::new();
        let mut emissions = Vec::new();
        let now = self.now();
        for (index, &id) in session_ids.iter().enumerate() {
            let Some(session) = self.inner.store.get_session(id).await? else {
                continue;
            };
            if session.state.is_finished()
                || (session.state == SessionState::Paused && trigger == Trigger::Due)
            {
                self.track(&session);
                continue;
            }
            let Some(chat) = self.chat(&session.chat_slug) else {
                tracing::warn!(session = session.id, chat = %session.chat_slug, "chat no longer configured; cancelling its session");
                self.finish_without_posting(&session, SessionState::Cancelled, now)
                    .await?;
                continue;
            };
            let Some(step) = Step::from_index(&chat, session.next_step) else {
                // A step past the wrap-up: the chat lost points since the session began.
                self.finish_without_posting(&session, SessionState::Ended, now)
                    .await?;
                continue;
            };
            let (emitted, update, posts, timeline_point) =
                self.plan_step(&chat, &session, step, trigger, now).await?;
            let update = update.by(command);
            // The intro keeps the chat as it stands with the session, in the same transaction:
            // the transcript no longer depends on the chat file.
            let snapshot =
                matches!(emitted, Emitted::Step(Step::Intro)).then(|| ChatSnapshot::of(&chat));
            emissions.push(StepEmission {
                session_id: session.id,
                expected_next_step: session.next_step,
                update,
                timeline_point,
                posts,
                snapshot,
            });
            planned.push((index, session, chat, emitted));
        }

        let applied = self.inner.store.emit_steps(&emissions, now).await?;
        let mut follow_ups: Vec<Arc<Chat>> = Vec::new();
        for ((index, session, chat, emitted), (applied, emission)) in
            planned.into_iter().zip(applied.into_iter().zip(&emissions))
        {
            if !applied {
                // Someone else moved it on (another instance): believe the store.
                self.reload_and_track(session.id).await?;
                continue;
            }
            let fresh = session.updated(&emission.update);
            self.track(&fresh);
            tracing::info!(session = fresh.id, chat = %chat.slug, step = ?emitted, state = %fresh.state, "step emitted");
            if matches!(emitted, Emitted::Step(Step::Intro) | Emitted::Missed)
                && chat.schedule.is_some()
                && !follow_ups.iter().any(|c| c.slug == chat.slug)
            {
                // The occurrence has begun (or passed unheld): the next one goes on the calendar.
                follow_ups.push(chat);
            }
            outcomes[index] = emitted;
        }
        Ok((outcomes, follow_ups))
    }

    pub(super) async fn schedule_next_occurrences(
        &self,
        chats: Vec<Arc<Chat>>,
    ) -> Result<(), EngineError> {
        for chat in chats {
            self.ensure_next_occurrence(&chat).await?;
        }
        Ok(())
    }

    async fn finish_without_posting(
        &self,
        session: &Session,
        state: SessionState,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let mut update = SessionUpdate::from_session(session);
        update.state = state;
        update.next_due_at = None;
        if state == SessionState::Ended {
            update.ended_at = Some(now);
        }
        self.inner.store.update_session(session.id, &update).await?;
        self.reload_and_track(session.id).await?;
        Ok(())
    }

    async fn plan_step(
        &self,
        chat: &Chat,
        session: &Session,
        step: Step,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> Result<(Emitted, SessionUpdate, Vec<NewPost>, Option<Option<u32>>), EngineError> {
        let mut update = SessionUpdate::from_session(session);
        // Catch-up keeps the timetable (each missed step once, in order); a moderator's
        // action restarts the clock from now.
        let base = match (trigger, session.next_due_at) {
            (Trigger::Due, Some(due)) => due,
            _ => now,
        };
        let next_due = |step: Step| step.gap_to_next(chat).map(|gap| base + gap);

        if step == Step::Reminder && now >= session.scheduled_start {
            update.next_step = INTRO_STEP;
            update.next_due_at = Some(session.scheduled_start);
            return Ok((Emitted::StaleReminder, update, Vec::new(), None));
        }
        if step == Step::Intro
            && trigger == Trigger::Due
            && session.state.is_upcoming()
            && now > session.scheduled_start + self.inner.settings.catch_up_grace
        {
            update.state = SessionState::Missed;
            update.next_due_at = None;
            return Ok((Emitted::Missed, update, Vec::new(), None));
        }

        update.next_step = session.next_step + 1;
        update.next_due_at = next_due(step);
        update.paused_remaining_ms = None;
        let mut mentions = Vec::new();
        let (kind, text) = match step {
            Step::Reminder => {
                update.state = SessionState::Announced;
                update.next_due_at = Some(session.scheduled_start);
                mentions = self
                    .inner
                    .store
                    .rsvps(&chat.slug)
                    .await?
                    .into_iter()
                    .map(|u| u.to_string())
                    .collect();
                let mut text = format!(
                    "Reminder: {} ({}) starts {}. {}",
                    chat.title,
                    chat.hashtag,
                    format_local(session.scheduled_start, chat.zone),
                    chat.description
                );
                if let Some(url) = self.chat_sessions_url(chat) {
                    text.push_str(&format!(" Earlier sessions: {url}"));
                }
                (PostKind::Reminder, text)
            }
            Step::Intro => {
                update.state = SessionState::Running;
                update.started_at = Some(now);
                (PostKind::Intro, chat.intro.clone())
            }
            Step::Point(number) => {
                update.state = SessionState::Running;
                update.current_point = Some(number);
                let text = chat.points[number as usize - 1].text.clone();
                (PostKind::Point { number }, text)
            }
            Step::WrapUp => {
                update.state = SessionState::Ended;
                update.ended_at = Some(now);
                update.next_due_at = None;
                let mut text = chat.wrap_up.clone();
                if let Some(url) = self.transcript_url(chat, &session.uid) {
                    text.push_str(&format!(" The transcript: {url}"));
                }
                (PostKind::WrapUp, text)
            }
        };
        let content = PostContent {
            kind,
            hashtag: chat.hashtag.clone(),
            text,
            mentions,
        };
        let posts = session
            .rooms
            .iter()
            .map(|room| NewPost {
                room: room.clone(),
                content: content.clone(),
            })
            .collect();
        let timeline = match step {
            Step::Reminder => None,
            other => Some(other.point()),
        };
        Ok((Emitted::Step(step), update, posts, timeline))
    }

    pub(super) async fn reload_and_track(
        &self,
        session_id: i64,
    ) -> Result<Option<Session>, EngineError> {
        let session = self.inner.store.get_session(session_id).await?;
        if let Some(session) = &session {
            self.track(session);
        }
        Ok(session)
    }
}
