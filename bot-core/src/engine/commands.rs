//! Carrying out commands: who may, and what happens.

use std::sync::Arc;

use chrono::Duration;

use super::steps::{planned_session, Trigger};
use super::{Engine, EngineError};
use crate::adapter::{CommandInvocation, Reply};
use crate::chat::{resolve_local, Chat, Visibility};
use crate::command::{self, Command, When};
use crate::model::{CommandKey, NewSession, Session, SessionOrigin, SessionState, SessionUpdate};
use crate::plan::{Step, INTRO_STEP};
use crate::render::count;
use crate::render::plain::format_local;
use crate::store::Mark;

/// How soon a scheduled occurrence must be for `start` to begin it rather than a new session.
const START_ADOPTS_WITHIN: Duration = Duration::hours(2);

/// A command's outcome: the reply text, whether only the asker should see it, and whether it
/// may have queued posts (a refusal changed nothing, so the outbox need not be read).
pub(super) struct Answer {
    pub(super) text: String,
    pub(super) private: bool,
    pub(super) may_have_queued: bool,
}

pub(super) fn ok(text: impl Into<String>) -> Answer {
    Answer {
        text: text.into(),
        private: false,
        may_have_queued: true,
    }
}

pub(super) fn refuse(text: impl Into<String>) -> Answer {
    Answer {
        text: text.into(),
        private: true,
        may_have_queued: false,
    }
}

impl Engine {
    /// Parses and carries out a command, then replies through the invoker's adapter.
    ///
    /// A command survives the process dying while it runs (see [`CommandKey`]): its effect is
    /// idempotent (recorded with it, so a second reading only confirms), its claim follows the
    /// effect with the reply it got, and the reply is marked sent once it is. Read again after
    /// a crash, a command acts at most once and is answered.
    pub(super) async fn run_command(
        &self,
        invocation: CommandInvocation,
    ) -> Result<(), EngineError> {
        let key = invocation.key();
        if let Some(key) = &key {
            if let Some(claim) = self.inner.store.command_claim(key).await? {
                match claim.reply {
                    Some(text) if !claim.replied => {
                        tracing::info!(room = %invocation.room, message = %key.platform_msg_id, "answering a command claimed before a restart");
                        self.deliver_outbox().await?;
                        self.send_reply(&invocation, key, text, claim.reply_private)
                            .await?;
                    }
                    _ => {
                        tracing::debug!(room = %invocation.room, message = %key.platform_msg_id, "command already handled");
                    }
                }
                return Ok(());
            }
        }
        if let Some(delay) = self.inner.settings.command_delay {
            tokio::time::sleep(delay).await;
        }
        let answer = self.answer(&invocation).await?;
        if self.inner.settings.hold_before_claiming_commands {
            tracing::warn!(room = %invocation.room, "held before claiming a command");
            std::future::pending::<()>().await;
        }
        if let Some(key) = &key {
            if !self
                .inner
                .store
                .claim_command(key, &answer.text, answer.private)
                .await?
            {
                tracing::debug!(room = %invocation.room, message = %key.platform_msg_id, "command claimed meanwhile by another reading");
                return Ok(());
            }
        }
        // A moderator who says `next` expects the point now, not at the scheduler's next turn.
        if answer.may_have_queued {
            self.deliver_outbox().await?;
        }
        match &key {
            Some(key) => {
                self.send_reply(&invocation, key, answer.text, answer.private)
                    .await?
            }
            None => {
                self.reply_through_adapter(&invocation, answer.text, answer.private)
                    .await;
            }
        }
        Ok(())
    }

    /// Replies to a claimed command and, once the reply is out, marks it answered.
    async fn send_reply(
        &self,
        invocation: &CommandInvocation,
        key: &CommandKey,
        text: String,
        private: bool,
    ) -> Result<(), EngineError> {
        if self.reply_through_adapter(invocation, text, private).await {
            self.inner.store.mark_command_replied(key).await?;
        }
        Ok(())
    }

    /// Whether the reply went out.
    async fn reply_through_adapter(
        &self,
        invocation: &CommandInvocation,
        text: String,
        private: bool,
    ) -> bool {
        let reply = Reply {
            room: invocation.room.clone(),
            to: invocation.user.clone(),
            in_reply_to: invocation.platform_msg_id.clone(),
            text,
            private,
        };
        match self.adapter(invocation.room.platform) {
            Some(adapter) => match adapter.reply(&reply).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(room = %invocation.room, error = %e, "could not reply to a command");
                    false
                }
            },
            None => {
                tracing::warn!(room = %invocation.room, "no adapter to reply through");
                false
            }
        }
    }

    /// The reply a command gets; public so tests and the demo can use it without an adapter.
    pub async fn command_reply(
        &self,
        invocation: &CommandInvocation,
    ) -> Result<String, EngineError> {
        Ok(self.answer(invocation).await?.text)
    }

    async fn answer(&self, inv: &CommandInvocation) -> Result<Answer, EngineError> {
        let command = match command::parse(&inv.text) {
            Ok(command) => command,
            Err(e) => return Ok(refuse(e.to_string())),
        };
        if let Some(key) = inv.key() {
            if let Some(session) = self.store().session_changed_by(&key).await? {
                return self.finish_replayed(&key, &command, session).await;
            }
        }
        match command {
            Command::Help { topic } => {
                let text = command::help(topic.as_deref());
                let prefix = self
                    .adapter(inv.room.platform)
                    .and_then(|adapter| adapter.command_prefix());
                Ok(ok(match (prefix, topic) {
                    (Some(prefix), None) => {
                        format!(
                            "Type each command after `{prefix}`, e.g. `{prefix} upcoming`.\n{text}"
                        )
                    }
                    _ => text,
                }))
            }
            Command::Start { chat } => self.cmd_start(inv, &chat).await,
            Command::Stop | Command::Pause | Command::Resume | Command::Next => {
                self.cmd_in_session(inv, &command).await
            }
            Command::Schedule { chat, when } => self.cmd_schedule(inv, &chat, when).await,
            Command::Cancel { session } => self.cmd_cancel(inv, session).await,
            Command::Upcoming => self.cmd_upcoming().await,
            Command::Join { chat } => self.cmd_rsvp(inv, &chat, true).await,
            Command::Leave { chat } => self.cmd_rsvp(inv, &chat, false).await,
            Command::Transcript { session } => self.cmd_transcript(inv, session).await,
            Command::Note { text } => self.cmd_note(inv, &text).await,
            Command::Highlight { message } => {
                self.cmd_mark(inv, Mark::Highlight, true, message.as_deref())
                    .await
            }
            Command::Hide { message } => {
                self.cmd_mark(inv, Mark::Hidden, true, message.as_deref())
                    .await
            }
            Command::Unhide { message } => {
                self.cmd_mark(inv, Mark::Hidden, false, message.as_deref())
                    .await
            }
            Command::OptOut => self.cmd_opt(&inv.user, true).await,
            Command::OptIn => self.cmd_opt(&inv.user, false).await,
            Command::Purge => self.cmd_purge(inv).await,
        }
    }

    fn known_chat(&self, slug: &str) -> Result<Arc<Chat>, Answer> {
        self.chat(slug).ok_or_else(|| {
            let names: Vec<String> = self.chats().iter().map(|c| c.slug.clone()).collect();
            refuse(format!(
                "There is no chat `{slug}`. Chats here: {}.",
                names.join(", ")
            ))
        })
    }

    /// Listed in the chat file, or a moderator by the platform's word in one of the chat's own
    /// rooms: being an admin somewhere else the bot is gives no say over this chat.
    pub(super) fn may_moderate(inv: &CommandInvocation, chat: &Chat) -> bool {
        (inv.platform_moderator && chat.rooms.contains(&inv.room)) || chat.is_moderator(&inv.user)
    }

    fn not_moderator(what: &str, chat: &Chat) -> Answer {
        refuse(format!("Only moderators of {} can {what}.", chat.hashtag))
    }

    async fn cmd_start(&self, inv: &CommandInvocation, slug: &str) -> Result<Answer, EngineError> {
        let chat = match self.known_chat(slug) {
            Ok(chat) => chat,
            Err(answer) => return Ok(answer),
        };
        if !Self::may_moderate(inv, &chat) {
            return Ok(Self::not_moderator("start it", &chat));
        }
        let key = inv.key();
        // Checking, creating and starting happen under one lock, so two moderators typing
        // `start` at once start one session.
        let writing = self.inner.session_writes.lock().await;
        if let Some(running) = chat.rooms.iter().find_map(|r| self.live_session_in(r)) {
            return Ok(refuse(format!(
                "{} is already running (session {running}); `stop` it first.",
                chat.hashtag
            )));
        }
        let now = self.now();
        let store = self.store();
        let soon =
            store.upcoming_sessions(1000).await?.into_iter().find(|s| {
                s.chat_slug == chat.slug && s.scheduled_start <= now + START_ADOPTS_WITHIN
            });
        let id = match soon {
            Some(session) => {
                let mut update = SessionUpdate::from_session(&session).by(key.as_ref());
                update.next_step = INTRO_STEP;
                update.next_due_at = Some(now);
                store.update_session(session.id, &update).await?;
                session.id
            }
            None => {
                store
                    .create_session(&NewSession {
                        chat_slug: chat.slug.clone(),
                        origin: SessionOrigin::Command,
                        state: SessionState::Scheduled,
                        scheduled_start: now,
                        next_step: INTRO_STEP,
                        next_due_at: Some(now),
                        rooms: chat.rooms.clone(),
                        command: key.clone(),
                    })
                    .await?
            }
        };
        store
            .set_session_host(id, &inv.user, &inv.display_name)
            .await?;
        let (_, follow_ups) = self
            .advance_many_locked(&[id], Trigger::Now, key.as_ref(), &writing)
            .await?;
        drop(writing);
        self.schedule_next_occurrences(follow_ups).await?;
        Ok(ok(started(&chat, id)))
    }

    async fn cmd_in_session(
        &self,
        inv: &CommandInvocation,
        command: &Command,
    ) -> Result<Answer, EngineError> {
        let Some(id) = self.live_session_in(&inv.room) else {
            return Ok(refuse(format!(
                "No session is running in this room, so there is nothing to {}. `upcoming` lists what is planned.",
                command.name()
            )));
        };
        let Some(session) = self.store().get_session(id).await? else {
            return Ok(refuse("That session is no longer in the archive."));
        };
        let Some(chat) = self.chat(&session.chat_slug) else {
            return Ok(refuse("That session's chat is no longer configured."));
        };
        if !Self::may_moderate(inv, &chat) {
            return Ok(Self::not_moderator(
                &format!("{} the session", command.name()),
                &chat,
            ));
        }
        let key = inv.key();
        if matches!(command, Command::Next) {
            let was_paused = session.state == SessionState::Paused;
            let emitted = self.advance(id, Trigger::Now, key.as_ref()).await?;
            let resumed = if was_paused {
                "; the session runs again"
            } else {
                ""
            };
            return Ok(ok(format!(
                "Moved on ({}){resumed}.",
                describe(&emitted, &chat)
            )));
        }
        // The scheduler may have moved the session on since it was read: read it again under
        // the lock, and act on what it is now.
        let writing = self.inner.session_writes.lock().await;
        let Some(session) = self
            .store()
            .get_session(id)
            .await?
            .filter(|s| s.state.is_live())
        else {
            return Ok(refuse("That session has just ended."));
        };
        let now = self.now();
        match command {
            Command::Pause => {
                if session.state == SessionState::Paused {
                    return Ok(refuse(
                        "The session is already paused; `resume` continues it.",
                    ));
                }
                let mut update = SessionUpdate::from_session(&session).by(key.as_ref());
                update.state = SessionState::Paused;
                update.paused_remaining_ms = session
                    .next_due_at
                    .map(|due| (due - now).num_milliseconds().max(0));
                update.next_due_at = None;
                self.store().update_session(id, &update).await?;
                self.reload_and_track(id).await?;
                Ok(ok(paused(&chat)))
            }
            Command::Resume => {
                if session.state != SessionState::Paused {
                    return Ok(refuse("The session is not paused."));
                }
                let remaining = Duration::milliseconds(session.paused_remaining_ms.unwrap_or(0));
                let mut update = SessionUpdate::from_session(&session).by(key.as_ref());
                update.state = SessionState::Running;
                update.paused_remaining_ms = None;
                update.next_due_at = Some(now + remaining);
                self.store().update_session(id, &update).await?;
                self.reload_and_track(id).await?;
                Ok(ok(resumed(&chat)))
            }
            Command::Stop => {
                let mut update = SessionUpdate::from_session(&session).by(key.as_ref());
                update.state = SessionState::Running;
                update.next_step = Step::WrapUp.index(&chat);
                update.next_due_at = Some(now);
                self.store().update_session(id, &update).await?;
                let (_, follow_ups) = self
                    .advance_many_locked(&[id], Trigger::Now, key.as_ref(), &writing)
                    .await?;
                drop(writing);
                self.schedule_next_occurrences(follow_ups).await?;
                Ok(ok(stopped(&chat)))
            }
            _ => unreachable!("only session commands are routed here"),
        }
    }

    async fn cmd_schedule(
        &self,
        inv: &CommandInvocation,
        slug: &str,
        when: When,
    ) -> Result<Answer, EngineError> {
        let chat = match self.known_chat(slug) {
            Ok(chat) => chat,
            Err(answer) => return Ok(answer),
        };
        if !Self::may_moderate(inv, &chat) {
            return Ok(Self::not_moderator("schedule it", &chat));
        }
        let now = self.now();
        let start = match when {
            When::Local(local) => resolve_local(chat.zone, local),
            When::In(delay) => now + delay,
        };
        if start <= now {
            return Ok(refuse(format!(
                "{} is in the past; give a future time such as `in 30m` or `2026-12-01 19:00`.",
                format_local(start, chat.zone)
            )));
        }
        let mut new = planned_session(&chat, start, SessionOrigin::Command);
        new.command = inv.key();
        let id = self.store().create_session(&new).await?;
        self.reload_and_track(id).await?;
        Ok(ok(scheduled(&chat, id, start)))
    }

    async fn cmd_cancel(&self, inv: &CommandInvocation, id: i64) -> Result<Answer, EngineError> {
        let Some(session) = self.store().get_session(id).await? else {
            return Ok(refuse(format!(
                "There is no session {id}; `upcoming` lists the planned ones."
            )));
        };
        let Some(chat) = self.chat(&session.chat_slug) else {
            return Ok(refuse("That session's chat is no longer configured."));
        };
        if !Self::may_moderate(inv, &chat) {
            return Ok(Self::not_moderator("cancel its sessions", &chat));
        }
        if !session.state.is_upcoming() {
            return Ok(refuse(format!(
                "Session {id} is {}; only a session that has not started can be cancelled (`stop` ends a running one).",
                session.state
            )));
        }
        {
            let _writing = self.inner.session_writes.lock().await;
            let Some(session) = self
                .store()
                .get_session(id)
                .await?
                .filter(|s| s.state.is_upcoming())
            else {
                return Ok(refuse(format!(
                    "Session {id} has just started; `stop` ends it."
                )));
            };
            let mut update = SessionUpdate::from_session(&session).by(inv.key().as_ref());
            update.state = SessionState::Cancelled;
            update.next_due_at = None;
            self.store().update_session(id, &update).await?;
            self.reload_and_track(id).await?;
        }
        if session.origin == SessionOrigin::Recurrence {
            self.ensure_next_occurrence(&chat).await?;
        }
        Ok(ok(cancelled(&chat, &session)))
    }

    async fn cmd_upcoming(&self) -> Result<Answer, EngineError> {
        let sessions = self.store().upcoming_sessions(10).await?;
        if sessions.is_empty() {
            return Ok(ok("Nothing is scheduled."));
        }
        let lines: Vec<String> = sessions.iter().map(|s| self.describe_session(s)).collect();
        Ok(ok(format!("Upcoming:\n{}", lines.join("\n"))))
    }

    fn describe_session(&self, session: &Session) -> String {
        match self.chat(&session.chat_slug) {
            Some(chat) => format!(
                "• session {}: {} ({}), {}",
                session.id,
                chat.title,
                chat.hashtag,
                format_local(session.scheduled_start, chat.zone)
            ),
            None => format!(
                "• session {}: {} at {}",
                session.id, session.chat_slug, session.scheduled_start
            ),
        }
    }

    async fn cmd_rsvp(
        &self,
        inv: &CommandInvocation,
        slug: &str,
        joining: bool,
    ) -> Result<Answer, EngineError> {
        let chat = match self.known_chat(slug) {
            Ok(chat) => chat,
            Err(answer) => return Ok(answer),
        };
        let text = if joining {
            let added = self.store().add_rsvp(&chat.slug, &inv.user).await?;
            if added {
                format!(
                    "You're in for {}: you'll be mentioned in its reminders. `leave {}` undoes it.",
                    chat.hashtag, chat.slug
                )
            } else {
                format!("You had already joined {}.", chat.hashtag)
            }
        } else if self.store().remove_rsvp(&chat.slug, &inv.user).await? {
            format!("You've left {}; no more reminder mentions.", chat.hashtag)
        } else {
            format!("You had not joined {}.", chat.hashtag)
        };
        Ok(Answer {
            text,
            private: true,
            may_have_queued: false,
        })
    }

    async fn cmd_transcript(
        &self,
        inv: &CommandInvocation,
        id: Option<i64>,
    ) -> Result<Answer, EngineError> {
        let id = match id.or_else(|| self.live_session_in(&inv.room)) {
            Some(id) => id,
            None => {
                let latest = self.store().list_sessions().await?.into_iter().find(|s| {
                    s.session.rooms.contains(&inv.room) && s.session.started_at.is_some()
                });
                match latest {
                    Some(summary) => summary.session.id,
                    None => return Ok(refuse(
                        "No session has run in this room yet; `transcript <session>` names one.",
                    )),
                }
            }
        };
        let session = self.store().get_session(id).await?.filter(|session| {
            // A private chat's sessions are not described outside its rooms, except to its
            // moderators.
            session.rooms.contains(&inv.room)
                || self.chat(&session.chat_slug).is_some_and(|chat| {
                    chat.visibility != Visibility::Private || Self::may_moderate(inv, &chat)
                })
        });
        let Some(session) = session else {
            return Ok(refuse(format!("There is no session {id}.")));
        };
        let count_archived = self.store().message_count(id).await?;
        let chat = self.chat(&session.chat_slug);
        let when = chat
            .as_ref()
            .map(|c| format_local(session.scheduled_start, c.zone))
            .unwrap_or_else(|| session.scheduled_start.to_rfc3339());
        let archived = count(count_archived.max(0) as u64, "message", "messages");
        let page = chat
            .as_ref()
            .filter(|_| session.started_at.is_some())
            .and_then(|c| self.transcript_url(c, &session.uid));
        let read_it = match page {
            Some(url) => format!("Read it at {url}"),
            None => format!("On the bot's host, `hashchat transcript {id}` prints it."),
        };
        Ok(ok(format!(
            "Session {id} ({}, {when}, {}): {archived} archived. {read_it}",
            session.chat_slug, session.state
        )))
    }
}

impl Engine {
    /// A command read again after the process died while it ran, which had already acted (its
    /// change to `session` is in the store): finishes what the change began, if the crash came
    /// in between, and confirms as the first reading would have.
    async fn finish_replayed(
        &self,
        key: &CommandKey,
        command: &Command,
        session: Session,
    ) -> Result<Answer, EngineError> {
        tracing::info!(session = session.id, message = %key.platform_msg_id, command = command.name(), "command read again after a restart: it already acted");
        let Some(chat) = self.chat(&session.chat_slug) else {
            return Ok(refuse("That session's chat is no longer configured."));
        };
        let unfinished_step = match command {
            Command::Start { .. } => session.state.is_upcoming() && session.next_step == INTRO_STEP,
            Command::Stop => {
                session.state.is_live() && session.next_step == Step::WrapUp.index(&chat)
            }
            _ => false,
        };
        if unfinished_step {
            let writing = self.inner.session_writes.lock().await;
            let (_, follow_ups) = self
                .advance_many_locked(&[session.id], Trigger::Now, Some(key), &writing)
                .await?;
            drop(writing);
            self.schedule_next_occurrences(follow_ups).await?;
        }
        let session = self
            .store()
            .get_session(session.id)
            .await?
            .unwrap_or(session);
        let text = match command {
            Command::Start { .. } => started(&chat, session.id),
            Command::Stop => stopped(&chat),
            Command::Pause => paused(&chat),
            Command::Resume => resumed(&chat),
            Command::Next => {
                let position = match session.current_point {
                    _ if session.state.is_finished() => {
                        "that was the last point; wrap-up posted".to_owned()
                    }
                    Some(n) => format!("Q{n} of {} is up", chat.points.len()),
                    None => "intro posted".to_owned(),
                };
                format!("Moved on ({position}).")
            }
            Command::Schedule { .. } => scheduled(&chat, session.id, session.scheduled_start),
            Command::Cancel { .. } => cancelled(&chat, &session),
            Command::Note { .. } => format!("Note added to session {}'s transcript.", session.id),
            other => format!("Done: {}.", other.name()),
        };
        Ok(ok(text))
    }
}

fn started(chat: &Chat, id: i64) -> String {
    format!(
        "Started {} ({}), session {id}: intro now, Q1 in {}.",
        chat.title,
        chat.hashtag,
        count(u64::from(chat.intro_minutes), "minute", "minutes")
    )
}

fn stopped(chat: &Chat) -> String {
    format!(
        "{} stopped; the wrap-up is posted and the session archived.",
        chat.hashtag
    )
}

fn paused(chat: &Chat) -> String {
    format!(
        "{} paused. `resume` carries on where it stopped.",
        chat.hashtag
    )
}

fn resumed(chat: &Chat) -> String {
    format!("{} resumed.", chat.hashtag)
}

fn scheduled(chat: &Chat, id: i64, start: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "Scheduled {} ({}) as session {id}: {}.",
        chat.title,
        chat.hashtag,
        format_local(start, chat.zone)
    )
}

fn cancelled(chat: &Chat, session: &Session) -> String {
    format!(
        "Cancelled session {} of {} ({}).",
        session.id,
        chat.hashtag,
        format_local(session.scheduled_start, chat.zone)
    )
}

fn describe(emitted: &super::steps::Emitted, chat: &Chat) -> String {
    use super::steps::Emitted;
    match emitted {
        Emitted::Step(Step::Point(n)) => format!("Q{n} of {} is up", chat.points.len()),
        Emitted::Step(Step::WrapUp) => "that was the last point; wrap-up posted".to_owned(),
        Emitted::Step(Step::Intro) => "intro posted".to_owned(),
        Emitted::Step(Step::Reminder) => "reminder posted".to_owned(),
        _ => "nothing left to post".to_owned(),
    }
}
