//! Curation commands: notes, highlights, hiding, and opting out of transcripts.

use super::commands::{ok as public, refuse as private, Answer};
use super::{Engine, EngineError};
use crate::adapter::CommandInvocation;
use crate::ids::UserRef;
use crate::model::Session;
use crate::store::{CuratorNote, Mark};

impl Engine {
    /// The session a curation command in this room is about: the one running here, else the
    /// latest that ran here.
    async fn curated_session(
        &self,
        inv: &CommandInvocation,
    ) -> Result<Option<Session>, EngineError> {
        if let Some(id) = self.live_session_in(&inv.room) {
            return Ok(self.store().get_session(id).await?);
        }
        Ok(self
            .store()
            .list_sessions()
            .await?
            .into_iter()
            .map(|s| s.session)
            .find(|s| s.rooms.contains(&inv.room) && s.started_at.is_some()))
    }

    /// Moderators of the session's chat, by platform role or by the chat file.
    fn moderates(&self, inv: &CommandInvocation, session: &Session) -> bool {
        self.chat(&session.chat_slug)
            .is_some_and(|chat| Engine::may_moderate(inv, &chat))
    }

    pub(super) async fn cmd_note(
        &self,
        inv: &CommandInvocation,
        text: &str,
    ) -> Result<Answer, EngineError> {
        let Some(session) = self.curated_session(inv).await? else {
            return Ok(private(
                "No session has run in this room, so there is no transcript to add a note to.",
            ));
        };
        if !self.moderates(inv, &session) {
            return Ok(private("Only moderators can add notes to a transcript."));
        }
        let mut point = session.current_point;
        let mut after_message = None;
        if let Some(parent) = &inv.reply_to {
            match self.store().find_message(inv.room.platform, parent).await? {
                Some(message) if message.session_id == session.id => {
                    point = message.point;
                    after_message = Some(format!("{}:{parent}", inv.room.platform));
                }
                _ => {
                    return Ok(private(
                        "The message you replied to is not in this session's transcript.",
                    ))
                }
            }
        }
        self.store()
            .add_note(
                session.id,
                &CuratorNote {
                    point,
                    after_message,
                    text: text.to_owned(),
                    by: inv.user.clone(),
                    by_name: Some(inv.display_name.clone()),
                    at: self.now(),
                },
                inv.key().as_ref(),
            )
            .await?;
        let place = match point {
            Some(n) => format!("under Q{n}"),
            None => "in the introduction".to_owned(),
        };
        Ok(public(format!(
            "Note added to session {}'s transcript, {place}.",
            session.id
        )))
    }

    pub(super) async fn cmd_mark(
        &self,
        inv: &CommandInvocation,
        mark: Mark,
        on: bool,
        message: Option<&str>,
    ) -> Result<Answer, EngineError> {
        let verb = match (mark, on) {
            (Mark::Highlight, _) => "highlight",
            (Mark::Hidden, true) => "hide",
            (Mark::Hidden, false) => "unhide",
        };
        let Some(target) = message.or(inv.reply_to.as_deref()) else {
            return Ok(private(format!(
                "Which message? Send `{verb}` as a reply to it, or give its id: {verb} <message>"
            )));
        };
        // Asked of a copy the bot relayed into this room: the original is meant.
        let original = match self.store().find_message(inv.room.platform, target).await? {
            Some(stored) => Some(stored),
            None => match self
                .store()
                .original_of_copy(inv.room.platform, target)
                .await?
            {
                Some(copy) => {
                    self.store()
                        .find_message(copy.origin_platform, &copy.origin_msg_id)
                        .await?
                }
                None => None,
            },
        };
        let Some(stored) = original else {
            return Ok(private(format!(
                "That message is not in any transcript here, so there is nothing to {verb}."
            )));
        };
        let Some(session) = self.store().get_session(stored.session_id).await? else {
            return Ok(private(
                "That message's session is no longer in the archive.",
            ));
        };
        if !self.moderates(inv, &session) {
            return Ok(private(format!(
                "Only moderators can {verb} messages in a transcript."
            )));
        }
        let (platform, id) = (stored.message.platform, &stored.message.platform_msg_id);
        let changed = self
            .store()
            .set_mark(mark, platform, id, on, &inv.user, self.now())
            .await?
            .unwrap_or(false);
        let mut copies_back = false;
        if mark == Mark::Hidden && changed {
            if on {
                if self.store().relay_delete(platform, id).await? > 0 {
                    // Hidden from the transcript, and gone from the rooms it was relayed into.
                    self.deliver_soon();
                }
            } else if session.state.is_live() && stored.deleted_at.is_none() {
                // Back in the rooms too, while the conversation it belongs to goes on.
                copies_back = self.store().relay_restore(platform, id).await? > 0;
                if copies_back {
                    self.deliver_soon();
                }
            }
        }
        let who = &stored.message.author_name;
        Ok(match (mark, on, changed) {
            (Mark::Highlight, _, true) => public(format!(
                "Highlighted {who}'s message in session {}.",
                session.id
            )),
            (Mark::Highlight, _, false) => private("That message was already highlighted."),
            (Mark::Hidden, true, true) => private(format!(
                "{who}'s message is left out of session {}'s transcript; `unhide` brings it back.",
                session.id
            )),
            (Mark::Hidden, true, false) => private("That message was already hidden."),
            (Mark::Hidden, false, true) => private(format!(
                "{who}'s message is back in session {}'s transcript{}.",
                session.id,
                if copies_back {
                    ", and in the session's other rooms"
                } else {
                    ""
                }
            )),
            (Mark::Hidden, false, false) => private("That message was not hidden."),
        })
    }

    pub(super) async fn cmd_purge(&self, inv: &CommandInvocation) -> Result<Answer, EngineError> {
        let Some(session) = self.curated_session(inv).await? else {
            return Ok(private(
                "No session has run in this room, so there is nothing to purge.",
            ));
        };
        if !self.moderates(inv, &session) {
            return Ok(private("Only moderators can purge the archive."));
        }
        let purged = self
            .store()
            .purge_opted_out(&session.chat_slug, &inv.user, self.now())
            .await?;
        Ok(public(format!(
            "Purged {} of people who opted out from {}'s archive.",
            crate::render::count(purged, "message", "messages"),
            session.chat_slug
        )))
    }

    pub(super) async fn cmd_opt(&self, user: &UserRef, out: bool) -> Result<Answer, EngineError> {
        let changed = self.store().set_opt_out(user, out, self.now()).await?;
        Ok(private(match (out, changed) {
            (true, true) => "Done: your messages read \"withheld at the author's request\" in every transcript, past and future. `optin` undoes it.",
            (true, false) => "You had already opted out; your messages stay withheld.",
            (false, true) => "Done: your messages appear in transcripts again.",
            (false, false) => "You had not opted out.",
        }))
    }
}
