//! Relaying: each participant message in one room of a running session is copied into every
//! other room of the session, through the relay outbox (`Store::enqueue_relays`), so a crash
//! or a platform's second delivery never relays a message twice and a platform that is away
//! gets its copies later, in order.

use super::{archive::Archived, Engine, EngineError};
use crate::adapter::Reaction;
use crate::adapter::{RelayFile, RelayPost};
use crate::chat::CaptureHashtag;
use crate::ids::RoomRef;
use crate::model::{Attachment, IncomingMessage, NewRelay, PendingRelay, RelayContent, SessionId};

impl Engine {
    /// Queues the copies of `message` that its session's other rooms are to get. Runs for a
    /// message archived now and for one the archive already had (the platform delivered it
    /// again after a crash that came between archiving and queueing): queueing is idempotent.
    pub(super) async fn relay_message(
        &self,
        message: &IncomingMessage,
        archived: Archived,
    ) -> Result<(), EngineError> {
        let session = match archived {
            Archived::Stored { session, .. } | Archived::Duplicate { session } => session,
            Archived::NoSession => return Ok(()),
        };
        let room = RoomRef::new(message.platform, message.room.clone());
        // Only while the session is live: a message read back after the session ended is
        // archived, but the conversation it belonged to is over.
        let Some(live) = self.live_sessions().into_iter().find(|l| l.id == session) else {
            return Ok(());
        };
        let Some(chat) = self.chat(&live.chat_slug) else {
            return Ok(());
        };
        // Gathered from outside the chat's rooms by its hashtag: relayed only if the chat asks.
        if !chat.rooms.contains(&room) && chat.capture_hashtag != CaptureHashtag::Relay {
            return Ok(());
        }
        let content = RelayContent {
            author_name: message.author_name.clone(),
            avatar_url: message.avatar_url.clone(),
            origin_platform: message.platform,
            origin_label: message
                .platform_label
                .clone()
                .unwrap_or_else(|| message.platform.as_str().to_owned()),
            body: message.body.clone(),
            formatted_body: message.formatted_body.clone(),
            reply_to: message.reply_to.clone(),
            reacted_with: None,
            attachments: message.attachments.clone(),
        };
        self.enqueue_copies(
            &chat.rooms,
            &room,
            session,
            &message.platform_msg_id,
            content,
        )
        .await
    }

    /// Tells the session's other rooms that someone reacted to a message there: a short line
    /// answering the message (or its copy) in each, made and taken back through the relay
    /// outbox like a message's copies. `room` is where the reaction was made.
    pub(super) async fn relay_reaction(
        &self,
        reaction: &Reaction,
        room: &RoomRef,
        session: SessionId,
    ) -> Result<(), EngineError> {
        let Some(live) = self.live_sessions().into_iter().find(|l| l.id == session) else {
            return Ok(());
        };
        let Some(chat) = self.chat(&live.chat_slug) else {
            return Ok(());
        };
        if !chat.rooms.contains(room) {
            return Ok(());
        }
        let content = RelayContent {
            author_name: reaction.author_name.clone(),
            avatar_url: None,
            origin_platform: reaction.platform,
            origin_label: reaction
                .platform_label
                .clone()
                .unwrap_or_else(|| reaction.platform.as_str().to_owned()),
            body: reaction.key.clone(),
            formatted_body: None,
            reply_to: Some(reaction.target_msg_id.clone()),
            reacted_with: Some(reaction.key.clone()),
            attachments: Vec::new(),
        };
        self.enqueue_copies(
            &chat.rooms,
            room,
            session,
            &reaction.platform_reaction_id,
            content,
        )
        .await
    }

    /// Queues `content` (the original `origin_msg_id`, written in `from`) for every room of
    /// `rooms` but `from`.
    async fn enqueue_copies(
        &self,
        rooms: &[RoomRef],
        from: &RoomRef,
        session: SessionId,
        origin_msg_id: &str,
        content: RelayContent,
    ) -> Result<(), EngineError> {
        let relays: Vec<NewRelay> = rooms
            .iter()
            .filter(|target| *target != from)
            .map(|target| NewRelay {
                session_id: session,
                origin_msg_id: origin_msg_id.to_owned(),
                target: target.clone(),
                content: content.clone(),
            })
            .collect();
        if relays.is_empty() {
            return Ok(());
        }
        if self.inner.store.enqueue_relays(&relays, self.now()).await? > 0 {
            tracing::debug!(
                origin = origin_msg_id,
                copies = relays.len(),
                "copies queued"
            );
            self.deliver_soon();
        }
        Ok(())
    }

    /// An archived message was edited: its copies are to show its text as the archive now
    /// has it (an edit that arrived out of order changes nothing there, so nothing here).
    pub(super) async fn relay_edit(
        &self,
        platform: crate::ids::Platform,
        platform_msg_id: &str,
    ) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let Some(current) = store.find_message(platform, platform_msg_id).await? else {
            return Ok(());
        };
        let to_edit = store
            .relay_edit(
                platform,
                platform_msg_id,
                &current.message.body,
                current.message.formatted_body.as_deref(),
            )
            .await?;
        if to_edit > 0 {
            self.deliver_soon();
        }
        Ok(())
    }

    /// The message in `relay`'s room that its copy answers: the original's parent if it was
    /// written there, else the parent's copy there; `None` when the parent has no place there.
    pub(super) async fn reply_target(
        &self,
        relay: &PendingRelay,
    ) -> Result<Option<String>, EngineError> {
        let Some(parent) = &relay.content.reply_to else {
            return Ok(None);
        };
        let store = &self.inner.store;
        let origin = relay.content.origin_platform;
        // The parent may itself be a copy the bot made in the original's room.
        let (parent_platform, parent_id) = match store.original_of_copy(origin, parent).await? {
            Some(copy) => (copy.origin_platform, copy.origin_msg_id),
            None => (origin, parent.clone()),
        };
        if parent_platform == relay.target.platform {
            if let Some(found) = store.find_message(parent_platform, &parent_id).await? {
                if found.message.room == relay.target.id {
                    return Ok(Some(parent_id));
                }
            }
        }
        Ok(store
            .copy_in(parent_platform, &parent_id, &relay.target)
            .await?)
    }

    pub(super) async fn relay_post(
        &self,
        relay: &PendingRelay,
        in_reply_to: Option<String>,
        options: Option<serde_json::Value>,
        session: crate::adapter::PostSession,
    ) -> Result<RelayPost, EngineError> {
        Ok(RelayPost {
            room: relay.target.clone(),
            idempotency_key: relay.idempotency_key(),
            content: relay.content.clone(),
            in_reply_to,
            options,
            session,
            files: self.relay_files(&relay.content.attachments).await?,
        })
    }

    /// Each attachment with the media store's copy of it, when there is one.
    async fn relay_files(&self, attachments: &[Attachment]) -> Result<Vec<RelayFile>, EngineError> {
        let copier = self.media_copier();
        let mut files = Vec::with_capacity(attachments.len());
        for a in attachments {
            let copy = match &copier {
                Some(copier) => copier.local_copy(&a.url).await?,
                None => None,
            };
            let content_type = copy
                .as_ref()
                .and_then(|(_, t)| t.clone())
                .or_else(|| a.content_type.clone());
            files.push(RelayFile {
                name: a.name.clone(),
                content_type,
                bytes: copy.map(|(bytes, _)| std::sync::Arc::new(bytes)),
            });
        }
        Ok(files)
    }
}
