//! Archiving what people say during a session, and which point it answers.

use super::delivery::InFlight;
use super::{attribution::answer_prefix, Engine, EngineError};
use crate::adapter::{MessageDeleted, MessageEdited, Reaction};
use crate::chat::CaptureHashtag;
use crate::ids::{Platform, RoomRef};
use crate::model::{ArchivedMessage, IncomingMessage, SessionId};
use crate::plan::Step;

/// Whether `body` carries `hashtag` (with its `#`) as a tag of its own, in any case: not as
/// the start of a longer tag (`#interlibnetwork`) or inside a word.
pub(crate) fn carries_hashtag(body: &str, hashtag: &str) -> bool {
    let (body, tag) = (body.to_lowercase(), hashtag.to_lowercase());
    if tag.len() < 2 {
        return false;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '#';
    body.match_indices(&tag).any(|(at, _)| {
        let before_ok = body[..at].chars().next_back().is_none_or(|c| !word(c));
        let after_ok = body[at + tag.len()..]
            .chars()
            .next()
            .is_none_or(|c| !word(c));
        before_ok && after_ok
    })
}

/// How far a platform's timestamp on a message may run ahead of the time the bot recorded a
/// post as made (the post is recorded once the platform has answered, and clocks differ).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(2);

/// What became of an incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archived {
    /// Stored in `session`, under `point` (None: before Q1).
    Stored {
        session: SessionId,
        point: Option<u32>,
    },
    /// Already in the archive (the platform delivered it twice).
    Duplicate { session: SessionId },
    /// No session is running in its room: nothing is kept.
    NoSession,
}

impl Engine {
    /// Archives a message if a session is live in its room (or was when the message was sent),
    /// or, in a room that is not the chat's, if it carries the hashtag of a live session's chat
    /// that gathers it (`capture_hashtag`). It is attributed to a point: an `A<n>` prefix naming
    /// a real point wins; else a reply inherits its parent's point; else the point that was on
    /// screen when it was sent.
    pub async fn archive_message(
        &self,
        mut message: IncomingMessage,
    ) -> Result<Archived, EngineError> {
        storable_message(&mut message);
        let room = RoomRef::new(message.platform, message.room.clone());
        let live = match self.live_in(&room) {
            Some(live) => live,
            // Read late (after a restart or an outage): the session running when it was sent.
            None => match self
                .inner
                .store
                .session_in_room_at(&room, message.sent_at)
                .await?
            {
                Some((id, chat_slug)) => super::LiveSession {
                    id,
                    chat_slug: chat_slug.into(),
                },
                None => match self
                    .gathered_by_hashtag(&room, &message.body, message.sent_at)
                    .await?
                {
                    Some(live) => live,
                    None => return Ok(Archived::NoSession),
                },
            },
        };
        let session_id = live.id;
        if let Some(parent) = &message.reply_to {
            if !self.knows(message.platform, parent).await? {
                // Perhaps the point or copy it answers is still being recorded.
                self.settle(&room, None).await;
            }
        }
        let point = self
            .attribute(session_id, &live.chat_slug, &message)
            .await?;
        let media: Vec<String> = message
            .avatar_url
            .iter()
            .chain(message.attachments.iter().map(|a| &a.url))
            .cloned()
            .collect();
        let platform = message.platform;
        let inserted = self
            .inner
            .store
            .append_messages(&[ArchivedMessage {
                session_id,
                point,
                message,
            }])
            .await?;
        self.inner.metrics.archived(platform, inserted);
        if inserted > 0 {
            if let Some(copier) = self.media_copier() {
                // Platform links expire: copy now, in the background, never holding up ingest.
                for url in &media {
                    copier.enqueue(url);
                }
            }
        }
        Ok(if inserted == 0 {
            Archived::Duplicate {
                session: session_id,
            }
        } else {
            Archived::Stored {
                session: session_id,
                point,
            }
        })
    }

    /// The live session whose chat gathers `body` by its hashtag, from `room`, which is not
    /// one of that chat's rooms (the oldest such session when several would).
    /// The session whose hashtag gathers a message written in `room` (not one of its chat's)
    /// at `sent_at`: the oldest running then whose chat captures its hashtag and that the
    /// message carries. From the store, not the live index, so a message read late (after a
    /// restart) is gathered by the session it was written during, and one written before the
    /// session began is not.
    async fn gathered_by_hashtag(
        &self,
        room: &RoomRef,
        body: &str,
        sent_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<super::LiveSession>, EngineError> {
        // Most messages carry no chat's hashtag: they cost no query.
        let capturing = |slug: &str| {
            self.chat(slug).is_some_and(|chat| {
                chat.capture_hashtag != CaptureHashtag::Off
                    && !chat.rooms.contains(room)
                    && carries_hashtag(body, &chat.hashtag)
            })
        };
        if !body.contains('#') || !self.chats().iter().any(|c| capturing(&c.slug)) {
            return Ok(None);
        }
        let running = self.inner.store.sessions_running_at(sent_at).await?;
        Ok(running
            .into_iter()
            .find(|(_, slug)| capturing(slug))
            .map(|(id, slug)| super::LiveSession {
                id,
                chat_slug: slug.into(),
            }))
    }

    async fn attribute(
        &self,
        session_id: SessionId,
        chat_slug: &str,
        message: &IncomingMessage,
    ) -> Result<Option<u32>, EngineError> {
        let store = &self.inner.store;
        let chat = self.chat(chat_slug);
        let point_count = chat.as_ref().map_or(0, |c| c.points.len() as u32);

        if let Some(n) = answer_prefix(&message.body).filter(|n| *n <= point_count) {
            return Ok(Some(n));
        }
        if let Some(parent) = &message.reply_to {
            let mut parent_message = store.find_message(message.platform, parent).await?;
            if parent_message.is_none() {
                // A reply to the bot's copy answers the original.
                if let Some(copy) = store.original_of_copy(message.platform, parent).await? {
                    parent_message = store
                        .find_message(copy.origin_platform, &copy.origin_msg_id)
                        .await?;
                }
            }
            if let Some(parent) = parent_message {
                if parent.session_id == session_id && parent.point.is_some() {
                    return Ok(parent.point);
                }
            }
            if let (Some(post), Some(chat)) = (
                store
                    .find_post_by_platform_id(message.platform, parent)
                    .await?,
                &chat,
            ) {
                if post.session_id == session_id {
                    if let Some(point) = Step::from_index(chat, post.step).and_then(Step::point) {
                        return Ok(Some(point));
                    }
                }
            }
        }
        let room = RoomRef::new(message.platform, message.room.clone());
        if chat.as_ref().is_some_and(|c| !c.rooms.contains(&room)) {
            // Gathered by the hashtag from elsewhere: the session's own timeline.
            return Ok(store.point_at(session_id, message.sent_at).await?);
        }
        // What that room had been shown, not what the scheduler had emitted: while a platform
        // is away its room still sees the last point that reached it. A point on its way may
        // already be on screen there.
        self.settle(&room, Some(InFlight::Post)).await;
        Ok(store
            .point_on_screen_in(session_id, &room, message.sent_at, CLOCK_SKEW)
            .await?)
    }

    pub(super) async fn archive_edit(&self, mut edit: MessageEdited) -> Result<(), EngineError> {
        storable(&mut edit.body);
        if let Some(formatted) = &mut edit.formatted_body {
            storable(formatted);
        }
        let archived = self
            .inner
            .store
            .record_edit(
                edit.platform,
                &edit.platform_msg_id,
                edit.editor_id.as_deref(),
                &edit.body,
                edit.formatted_body.as_deref(),
                edit.edited_at,
            )
            .await?;
        if archived {
            self.relay_edit(edit.platform, &edit.platform_msg_id)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn archive_deletion(
        &self,
        deletion: MessageDeleted,
    ) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let was_message = store
            .record_deletion(
                deletion.platform,
                &deletion.platform_msg_id,
                deletion.deleted_at,
            )
            .await?;
        if !was_message {
            // On Matrix, taking a reaction back is deleting (redacting) it.
            store
                .remove_reaction(deletion.platform, &deletion.platform_msg_id)
                .await?;
        }
        let copies = store
            .relay_delete(deletion.platform, &deletion.platform_msg_id)
            .await?;
        tracing::debug!(message = %deletion.platform_msg_id, copies, "deletion archived");
        if copies > 0 {
            self.deliver_soon();
        }
        Ok(())
    }

    /// Keeps a reaction to an archived message, also when it was made on the bot's copy of it
    /// in another room (the reaction counts on the original), and tells the session's other
    /// rooms; a reaction to anything else is not kept.
    pub(super) async fn archive_reaction(&self, mut reaction: Reaction) -> Result<(), EngineError> {
        storable(&mut reaction.key);
        storable(&mut reaction.author_id);
        storable(&mut reaction.author_name);
        storable(&mut reaction.room);
        let store = &self.inner.store;
        if !self
            .knows(reaction.platform, &reaction.target_msg_id)
            .await?
        {
            // Perhaps the copy reacted to is still being recorded.
            let room = RoomRef::new(reaction.platform, reaction.room.clone());
            self.settle(&room, Some(InFlight::Copy)).await;
        }
        let copy = store
            .original_of_copy(reaction.platform, &reaction.target_msg_id)
            .await?;
        let (target_platform, target_id) = match &copy {
            Some(c) => (c.origin_platform, c.origin_msg_id.clone()),
            None => (reaction.platform, reaction.target_msg_id.clone()),
        };
        store
            .add_reaction(
                reaction.platform,
                &reaction.platform_reaction_id,
                target_platform,
                &target_id,
                &reaction.author_id,
                &reaction.key,
                reaction.at,
            )
            .await?;
        let Some(original) = store.find_message(target_platform, &target_id).await? else {
            return Ok(());
        };
        let room = match copy {
            Some(c) => c.copy_room,
            None => RoomRef::new(target_platform, original.message.room.clone()),
        };
        self.relay_reaction(&reaction, &room, original.session_id)
            .await
    }

    /// Whether `id` on `platform` is a message the archive holds, a post the bot made, or a
    /// copy it relayed.
    async fn knows(&self, platform: Platform, id: &str) -> Result<bool, EngineError> {
        let store = &self.inner.store;
        Ok(store.find_message(platform, id).await?.is_some()
            || store
                .find_post_by_platform_id(platform, id)
                .await?
                .is_some()
            || store.original_of_copy(platform, id).await?.is_some())
    }
}

/// Makes every text of a message storable on both backends: PostgreSQL refuses NUL characters
/// in text, and a message refused by the store would be lost. NUL becomes U+FFFD, as a
/// lossy decoder shows bytes it cannot read; nothing else is touched.
fn storable_message(message: &mut IncomingMessage) {
    for text in [
        &mut message.body,
        &mut message.author_name,
        &mut message.author_id,
        &mut message.platform_msg_id,
        &mut message.room,
    ] {
        storable(text);
    }
    for text in [
        &mut message.formatted_body,
        &mut message.avatar_url,
        &mut message.reply_to,
    ]
    .into_iter()
    .flatten()
    {
        storable(text);
    }
    for attachment in &mut message.attachments {
        storable(&mut attachment.url);
        storable(&mut attachment.name);
    }
}

fn storable(text: &mut String) {
    if text.contains('\0') {
        *text = text.replace('\0', "\u{FFFD}");
    }
}

#[cfg(test)]
mod tests {
    use super::{carries_hashtag, storable};

    #[test]
    fn nul_characters_become_replacement_characters() {
        let mut text = "A1 before\0after".to_owned();
        storable(&mut text);
        assert_eq!(text, "A1 before\u{FFFD}after");
        let mut plain = "untouched \u{202e} text".to_owned();
        storable(&mut plain);
        assert_eq!(plain, "untouched \u{202e} text");
    }

    #[test]
    fn a_hashtag_is_found_as_a_tag_of_its_own_in_any_case() {
        assert!(carries_hashtag("great chat #interlibnet!", "#interlibnet"));
        assert!(carries_hashtag("#InterLibNet A1 yes", "#interlibnet"));
        assert!(carries_hashtag("(#interlibnet)", "#interlibnet"));
        assert!(!carries_hashtag("#interlibnetwork", "#interlibnet"));
        assert!(!carries_hashtag("x#interlibnet", "#interlibnet"));
        assert!(!carries_hashtag("##interlibnet_2", "#interlibnet"));
        assert!(!carries_hashtag("interlibnet", "#interlibnet"));
        assert!(!carries_hashtag("anything", "#"));
    }
}
