//! The boundary between the engine and a platform.
//!
//! An adapter translates, nothing more: platform events become [`Inbound`] values handed to the
//! engine, and the engine's posts and replies are carried out through [`Adapter`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{Platform, RoomRef, UserRef};
use crate::model::{CommandKey, IncomingMessage, PostContent};

/// Something that happened on a platform, normalised.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Message(IncomingMessage),
    Edited(MessageEdited),
    Deleted(MessageDeleted),
    Reacted(Reaction),
    Command(CommandInvocation),
}

/// Someone reacted to a message (a Matrix annotation). Taking it back arrives as a
/// [`MessageDeleted`] of the reaction's own id.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    pub platform: Platform,
    /// The reaction's own id on the platform.
    pub platform_reaction_id: String,
    /// The message reacted to.
    pub target_msg_id: String,
    /// The room it was made in, in the platform's own form.
    pub room: String,
    pub author_id: String,
    /// Their name as the room shows it, for the line that tells the session's other rooms.
    pub author_name: String,
    /// The platform's name as people know it (`Matrix`), for that line.
    pub platform_label: Option<String>,
    /// What they reacted with: usually an emoji.
    pub key: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageEdited {
    pub platform: Platform,
    pub platform_msg_id: String,
    /// Who sent the edit, where the platform lets anyone send one (Matrix): an edit by anyone
    /// but the message's author is ignored. `None` where the platform itself guarantees it.
    pub editor_id: Option<String>,
    pub body: String,
    pub formatted_body: Option<String>,
    pub edited_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageDeleted {
    pub platform: Platform,
    pub platform_msg_id: String,
    pub deleted_at: DateTime<Utc>,
}

/// Someone ran a command: `/chat start interlibnet` on Discord, `!chat start interlibnet` on
/// Matrix. `text` is everything after the command prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandInvocation {
    pub room: RoomRef,
    pub user: UserRef,
    pub display_name: String,
    /// The platform's own word on moderation (a Discord role or Manage Events, a Matrix power
    /// level); chat files can name further moderators.
    pub platform_moderator: bool,
    pub text: String,
    /// The platform id of the message that carried the command, to reply to it.
    pub platform_msg_id: Option<String>,
    /// The platform id of the message the command was sent as a reply to: `hide`,
    /// `highlight` and `note` act on it.
    pub reply_to: Option<String>,
}

impl CommandInvocation {
    /// The command's identity, when its platform gives the event one (see [`CommandKey`]).
    pub fn key(&self) -> Option<CommandKey> {
        self.platform_msg_id.as_ref().map(|id| CommandKey {
            platform: self.room.platform,
            platform_msg_id: id.clone(),
        })
    }
}

/// What the engine asks an adapter to post for a session step.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub room: RoomRef,
    /// Stable across retries: the platform must show a post with the same key once.
    pub idempotency_key: String,
    pub content: PostContent,
    /// The chat's options for the room's platform (its table in the chat file, as the
    /// platform's own rules read it: [`PlatformRules::read_chat_section`]); `None` when the
    /// file has no such table or the chat is no longer configured.
    ///
    /// [`PlatformRules::read_chat_section`]: crate::platforms::PlatformRules::read_chat_section
    pub options: Option<serde_json::Value>,
    /// The session the step belongs to.
    pub session: PostSession,
}

/// What an adapter may need of a post's session: to name a place for it (a Discord thread)
/// and to key what it keeps about it.
#[derive(Debug, Clone, PartialEq)]
pub struct PostSession {
    /// Stable across retries, restarts and instances (see [`Session::uid`]).
    ///
    /// [`Session::uid`]: crate::model::Session::uid
    pub uid: String,
    /// The number people type in commands (`/chat stop 12`).
    pub number: Option<i64>,
    /// The chat's title (its slug when the chat is no longer configured).
    pub chat_title: String,
    /// When the session started, else when it is due to.
    pub starts_at: DateTime<Utc>,
    /// The chat's time zone, in which people read that time.
    pub time_zone: chrono_tz::Tz,
}

/// A participant's message copied into another room of its session.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayPost {
    pub room: RoomRef,
    /// Stable across retries: the platform must show one copy per key.
    pub idempotency_key: String,
    pub content: crate::model::RelayContent,
    /// The message in this room that the copy answers, when the original was a reply: the
    /// parent itself if it was written here, else the parent's copy here.
    pub in_reply_to: Option<String>,
    /// The chat's options for the room's platform, as for [`Post::options`].
    pub options: Option<serde_json::Value>,
    pub session: PostSession,
    /// The original's attachments, in order, each with the media store's copy of its bytes
    /// when there is one: the adapter uploads those its platform takes (within its size
    /// limit) and names the others in the copy's text, so a file is never silently dropped.
    pub files: Vec<RelayFile>,
}

/// One attachment of a relayed message.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayFile {
    pub name: String,
    pub content_type: Option<String>,
    /// The file, from the media store; `None` when it was not copied (too large, gone, no
    /// media store configured).
    pub bytes: Option<std::sync::Arc<Vec<u8>>>,
}

/// A copy already made, to edit to its original's new text or to delete with it.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayedCopy {
    pub room: RoomRef,
    /// The copy's platform id, as [`Adapter::relay`] returned it.
    pub copy_msg_id: String,
    /// Stable across retries of this one change.
    pub idempotency_key: String,
    /// What the copy should say now.
    pub content: crate::model::RelayContent,
    pub options: Option<serde_json::Value>,
    pub session: PostSession,
}

/// An answer to a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub room: RoomRef,
    pub to: UserRef,
    /// The command message to answer, where the platform has one.
    pub in_reply_to: Option<String>,
    pub text: String,
    /// Refusals and errors go only to the person who asked, where the platform can do that.
    pub private: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// Worth trying again later (network, rate limit, homeserver away).
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// The platform cannot be reached at all (homeserver down, gateway gone): the post waits,
    /// without using up its attempts, until it can be.
    #[error("platform unreachable: {0}")]
    Unreachable(String),
    /// Will not work however often it is tried (no such room, no permission).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    fn platform(&self) -> Platform;

    /// Posts a session step and returns the platform's id for the new message.
    async fn post(&self, post: &Post) -> Result<String, AdapterError>;

    /// When (wall clock) the platform sent its message `platform_msg_id`, where the id says so
    /// (Discord's snowflakes carry their time). What a room was shown is then decided on the
    /// platform's own clock, the one its messages' times come from, with no allowance for skew
    /// between clocks. `None` (the default): the engine uses its own time of the post.
    fn sent_at_of(&self, platform_msg_id: &str) -> Option<DateTime<Utc>> {
        let _ = platform_msg_id;
        None
    }

    async fn reply(&self, reply: &Reply) -> Result<(), AdapterError>;

    /// Posts a copy of a participant's message from another room; the copy's platform id.
    /// Text the copy carries is the participant's: it must never become markup it was not
    /// or ping anyone.
    async fn relay(&self, relay: &RelayPost) -> Result<String, AdapterError> {
        Err(AdapterError::Permanent(format!(
            "{} does not relay messages",
            relay.room.platform.as_str()
        )))
    }

    /// Called once the core has recorded `relay`'s copy: whatever the adapter kept so that a
    /// retry would not post it twice can go. A crash before this leaves it kept, harmlessly.
    async fn relay_recorded(&self, _relay: &RelayPost) -> Result<(), AdapterError> {
        Ok(())
    }

    /// Edits a copy to what its original says now.
    async fn edit_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        Err(AdapterError::Permanent(format!(
            "{} does not edit relayed copies",
            copy.room.platform.as_str()
        )))
    }

    /// Deletes a copy whose original was deleted; a copy already gone is not an error.
    async fn delete_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        Err(AdapterError::Permanent(format!(
            "{} does not delete relayed copies",
            copy.room.platform.as_str()
        )))
    }

    /// What starts a command on this platform (`!chat` on Matrix, `/chat` on Discord), for
    /// the help to say; `None` when commands need no prefix.
    fn command_prefix(&self) -> Option<String> {
        None
    }

    /// The platform's name as people know it (`Matrix`), for notices about it in other rooms.
    fn label(&self) -> String {
        self.platform().as_str().to_owned()
    }
}
