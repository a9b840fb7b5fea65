//! The durable things the store keeps: sessions, archived messages, posts in the outbox.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{Platform, RoomRef, UserRef};

pub type SessionId = i64;
pub type MessageId = i64;

/// Where a session is in its life.
///
/// scheduled → announced (reminder posted) → running (intro, then Q1..Qn) ⇄ paused → ended.
/// A scheduled session can be cancelled; one whose start passed while nobody was running the
/// bot is marked missed rather than started hours late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    Scheduled,
    Announced,
    Running,
    Paused,
    Ended,
    Cancelled,
    Missed,
}

impl SessionState {
    pub const ALL: [SessionState; 7] = [
        SessionState::Scheduled,
        SessionState::Announced,
        SessionState::Running,
        SessionState::Paused,
        SessionState::Ended,
        SessionState::Cancelled,
        SessionState::Missed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Scheduled => "scheduled",
            SessionState::Announced => "announced",
            SessionState::Running => "running",
            SessionState::Paused => "paused",
            SessionState::Ended => "ended",
            SessionState::Cancelled => "cancelled",
            SessionState::Missed => "missed",
        }
    }

    /// Not yet started: waiting for its reminder or its intro.
    pub fn is_upcoming(self) -> bool {
        matches!(self, SessionState::Scheduled | SessionState::Announced)
    }

    /// Started and not ended: messages in its rooms belong to it.
    pub fn is_live(self) -> bool {
        matches!(self, SessionState::Running | SessionState::Paused)
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            SessionState::Ended | SessionState::Cancelled | SessionState::Missed
        )
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown session state `{0}`")]
pub struct UnknownState(pub String);

impl FromStr for SessionState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// Why a session exists: materialised from the chat's recurrence, or asked for by a moderator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionOrigin {
    Recurrence,
    Command,
    /// Read from a transcript exported elsewhere (`hashchat import`); never scheduled.
    Import,
}

impl SessionOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionOrigin::Recurrence => "recurrence",
            SessionOrigin::Command => "command",
            SessionOrigin::Import => "import",
        }
    }
}

impl FromStr for SessionOrigin {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "recurrence" => Ok(SessionOrigin::Recurrence),
            "command" => Ok(SessionOrigin::Command),
            "import" => Ok(SessionOrigin::Import),
            other => Err(UnknownState(other.to_owned())),
        }
    }
}

/// Where a session took place when its platform gave it a place of its own: "Discord thread"
/// and its `https://` link. Recorded by the adapter that made the place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionLink {
    /// What the link is, as people know it: `Discord thread`.
    pub label: String,
    /// An `http(s)://` URL.
    pub url: String,
}

/// One run of a chat, as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: SessionId,
    /// Random and stable (32 hex digits for sessions created here): the session's identity
    /// in transcripts, imports and URLs, which survives a move to another instance.
    pub uid: String,
    pub chat_slug: String,
    pub state: SessionState,
    pub origin: SessionOrigin,
    /// When the intro is (or was) due.
    pub scheduled_start: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The next step to emit (see [`crate::plan::Step`]).
    pub next_step: u32,
    /// When that step falls due; `None` while paused or once ended.
    pub next_due_at: Option<DateTime<Utc>>,
    /// While paused: how long was left until the next step when the pause began.
    pub paused_remaining_ms: Option<i64>,
    /// The discussion point on screen (1-based), once the first point has been posted.
    pub current_point: Option<u32>,
    /// The rooms the session runs in, in the chat's order.
    pub rooms: Vec<RoomRef>,
}

impl Session {
    /// The session as it is once `update` is applied.
    pub fn updated(&self, update: &SessionUpdate) -> Session {
        Session {
            state: update.state,
            next_step: update.next_step,
            next_due_at: update.next_due_at,
            paused_remaining_ms: update.paused_remaining_ms,
            current_point: update.current_point,
            started_at: update.started_at,
            ended_at: update.ended_at,
            ..self.clone()
        }
    }
}

/// A new session to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub chat_slug: String,
    pub origin: SessionOrigin,
    pub state: SessionState,
    pub scheduled_start: DateTime<Utc>,
    pub next_step: u32,
    pub next_due_at: Option<DateTime<Utc>>,
    pub rooms: Vec<RoomRef>,
    /// The command that creates it, recorded in the same transaction (see [`CommandKey`]).
    pub command: Option<CommandKey>,
}

/// The changes a step makes to its session, applied together with the posts it enqueues.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionUpdate {
    pub state: SessionState,
    pub next_step: u32,
    pub next_due_at: Option<DateTime<Utc>>,
    pub paused_remaining_ms: Option<i64>,
    pub current_point: Option<u32>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The command making this change, recorded in the same transaction (see [`CommandKey`]).
    pub command: Option<CommandKey>,
}

impl SessionUpdate {
    /// The session as it stands, to be changed field by field.
    pub fn from_session(session: &Session) -> Self {
        SessionUpdate {
            state: session.state,
            next_step: session.next_step,
            next_due_at: session.next_due_at,
            paused_remaining_ms: session.paused_remaining_ms,
            current_point: session.current_point,
            started_at: session.started_at,
            ended_at: session.ended_at,
            command: None,
        }
    }

    /// The same change, made by `command`.
    pub fn by(mut self, command: Option<&CommandKey>) -> Self {
        self.command = command.cloned();
        self
    }
}

/// The platform event that carried a command (a Matrix event id, a Discord interaction or
/// message id).
///
/// A command must neither be lost nor act twice when the process dies while it runs and the
/// platform hands the event over again. So whatever a command changes in the store is written
/// together with its key (`command_effects`, in the change's own transaction): read again, the
/// command finds it already acted and only confirms. Its claim (`handled_commands`, with the
/// reply it got) is written after the effect, and marked answered once the reply is sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandKey {
    pub platform: Platform,
    pub platform_msg_id: String,
}

/// One step to emit: the session's update and the posts it enqueues (see
/// `Store::emit_steps`).
#[derive(Debug, Clone, PartialEq)]
pub struct StepEmission {
    pub session_id: SessionId,
    /// Emitted only if the session's `next_step` is still this.
    pub expected_next_step: u32,
    pub update: SessionUpdate,
    /// `Some(p)`: record in the timeline that the step put point `p` (or none) on screen.
    pub timeline_point: Option<Option<u32>>,
    pub posts: Vec<NewPost>,
    /// The chat as it stands, kept with the session (set by the intro; an existing snapshot
    /// is left alone).
    pub snapshot: Option<ChatSnapshot>,
}

/// The chat as it was when a session began: what its transcript shows, whatever happens to
/// the chat file afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSnapshot {
    pub slug: String,
    pub title: String,
    /// With its `#`.
    pub hashtag: String,
    pub description: String,
    /// IANA name.
    pub time_zone: String,
    pub intro: String,
    pub wrap_up: String,
    /// The point texts, Q1 first.
    pub points: Vec<String>,
}

impl ChatSnapshot {
    pub fn of(chat: &crate::chat::Chat) -> ChatSnapshot {
        ChatSnapshot {
            slug: chat.slug.clone(),
            title: chat.title.clone(),
            hashtag: chat.hashtag.clone(),
            description: chat.description.clone(),
            time_zone: chat.zone.name().to_owned(),
            intro: chat.intro.clone(),
            wrap_up: chat.wrap_up.clone(),
            points: chat.points.iter().map(|p| p.text.clone()).collect(),
        }
    }
}

/// A file or image that came with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub url: String,
    pub name: String,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
}

/// A message as it arrived from a platform, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMessage {
    pub platform: Platform,
    pub room: String,
    pub platform_msg_id: String,
    pub author_id: String,
    pub author_name: String,
    pub avatar_url: Option<String>,
    pub body: String,
    pub formatted_body: Option<String>,
    pub sent_at: DateTime<Utc>,
    /// The platform id of the message this one replies to.
    pub reply_to: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The platform's name as people know it (`Matrix`), from the adapter that captured it.
    pub platform_label: Option<String>,
    /// A link to the message on its platform, where it has one; the adapter builds it (the
    /// core knows no platform's links).
    pub permalink: Option<String>,
}

impl IncomingMessage {
    pub fn author(&self) -> UserRef {
        UserRef::new(self.platform, self.author_id.clone())
    }
}

/// A message on its way into the archive: which session and point it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedMessage {
    pub session_id: SessionId,
    pub point: Option<u32>,
    pub message: IncomingMessage,
}

/// An earlier text of an edited message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEdit {
    pub body: String,
    pub formatted_body: Option<String>,
    pub edited_at: DateTime<Utc>,
}

/// A message read back from the archive.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: MessageId,
    pub session_id: SessionId,
    pub point: Option<u32>,
    pub message: IncomingMessage,
    /// Earlier versions, oldest first; `message.body` is the current text.
    pub edits: Vec<MessageEdit>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// What a step posts, independent of platform: adapters choose the formatting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostContent {
    pub kind: PostKind,
    /// The chat's hashtag, with its `#`.
    pub hashtag: String,
    pub text: String,
    /// People to mention (RSVPs in a reminder).
    #[serde(default)]
    pub mentions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PostKind {
    Reminder,
    Intro,
    Point {
        number: u32,
    },
    WrapUp,
    /// Not a step: the bot telling a session's rooms something about itself (a platform away
    /// and back). Sent as it happens, never kept in the outbox or the transcript.
    Notice,
}

/// The state of one post in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    Pending,
    Posted,
    /// Gave up after repeated failures; kept for the record.
    Failed,
}

impl PostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Pending => "pending",
            PostStatus::Posted => "posted",
            PostStatus::Failed => "failed",
        }
    }
}

impl FromStr for PostStatus {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(PostStatus::Pending),
            "posted" => Ok(PostStatus::Posted),
            "failed" => Ok(PostStatus::Failed),
            other => Err(UnknownState(other.to_owned())),
        }
    }
}

/// A post to make, keyed by (session, step, room) so it is made exactly once.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPost {
    pub room: RoomRef,
    pub content: PostContent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxPost {
    pub session_id: SessionId,
    pub step: u32,
    pub room: RoomRef,
    pub content: PostContent,
    pub status: PostStatus,
    pub attempts: u32,
    pub platform_msg_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub posted_at: Option<DateTime<Utc>>,
}

impl OutboxPost {
    /// The key adapters hand the platform (Matrix transaction id, Discord nonce) so a retried
    /// post is never shown twice.
    pub fn idempotency_key(&self) -> String {
        format!("hc-{}-{}-{}", self.session_id, self.step, self.room)
    }
}

/// What a relayed copy says: who wrote the original, where, and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayContent {
    pub author_name: String,
    pub avatar_url: Option<String>,
    /// Where the original was written, and the platform's name as people know it.
    pub origin_platform: Platform,
    pub origin_label: String,
    pub body: String,
    pub formatted_body: Option<String>,
    /// The original's parent as its own platform knows it, when the original is a reply. For
    /// a reaction, the message reacted to.
    pub reply_to: Option<String>,
    /// Set when the original is a reaction, not a message: what the author reacted with. The
    /// copy is then a short line answering the message reacted to (`body` is the key again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reacted_with: Option<String>,
    /// The original's files, as its platform links them; the copy carries the media store's
    /// copy of each (see [`RelayPost::files`](crate::adapter::RelayPost::files)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A copy to make: `origin_msg_id` (on `origin_platform`) into `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRelay {
    pub session_id: SessionId,
    pub origin_msg_id: String,
    pub target: RoomRef,
    pub content: RelayContent,
}

/// A copy still to make, as the relay outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRelay {
    /// Its place in the outbox: copies into one room are made in this order.
    pub id: i64,
    pub session_id: SessionId,
    pub origin_msg_id: String,
    pub target: RoomRef,
    pub content: RelayContent,
    pub attempts: u32,
    /// 0 for the first copy; one more each time a copy a moderator's `hide` deleted is made
    /// again by `unhide`.
    pub round: u32,
}

impl PendingRelay {
    /// The key adapters hand the platform (Matrix transaction id, Discord nonce): one copy per
    /// original, room and round however often it is tried.
    pub fn idempotency_key(&self) -> String {
        let key = format!(
            "hc-r-{}-{}-{}",
            self.content.origin_platform.as_str(),
            self.origin_msg_id,
            self.target
        );
        match self.round {
            0 => key,
            n => format!("{key}-{n}"),
        }
    }
}

/// One session with how many messages it archived, for listings.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub session: Session,
    pub message_count: i64,
}
