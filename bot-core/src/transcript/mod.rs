//! A session's transcript: the versioned document every format is rendered from.
//!
//! [`Transcript`] is both the in-memory view the renderers (HTML, Markdown, plain) read and,
//! serialised as it stands, the JSON export described by `docs/transcript.schema.json`. It holds
//! no database ids, only identities that survive a move to another instance (the session's
//! `uid`, platform message ids), so an export imported elsewhere exports to the same bytes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::model::SessionLink;

mod build;
pub mod json;
pub mod time;

pub use build::{build, TranscriptError};
pub use json::{from_json, to_json, ImportError, Problem};

/// The schema versions [`json::from_json`] reads.
pub const ACCEPTED_SCHEMA_VERSIONS: &[u32] = &[1, SCHEMA_VERSION];

/// The version of the JSON document. Bump it on any change to the shape below, and keep
/// reading the old versions. 2 added [`SessionRecord::host`], [`MessageRecord::also_answers`]
/// and [`NoteRecord::by_name`], all optional, so a version 1 document reads as it is.
pub const SCHEMA_VERSION: u32 = 2;

/// The text shown instead of a message whose author opted out of transcripts.
pub const WITHHELD: &str = "withheld at the author's request";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transcript {
    pub schema_version: u32,
    pub chat: ChatRecord,
    pub session: SessionRecord,
    /// Posted when the session started, if it did.
    pub intro: Option<String>,
    pub points: Vec<PointRecord>,
    /// Posted at the end, if the session got there.
    pub wrap_up: Option<String>,
    /// What the bot posted, per room: lets replies to a point, and permalinks, resolve.
    pub posts: Vec<PostRecord>,
    /// Every message not deleted, oldest first (by time sent, then platform id).
    pub messages: Vec<MessageRecord>,
    /// Curator notes, oldest first.
    pub notes: Vec<NoteRecord>,
    /// Messages a moderator highlighted.
    pub highlights: Vec<Highlight>,
}

/// The chat as it was when the session ran (a later edit of the chat file does not rewrite
/// history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRecord {
    pub slug: String,
    pub title: String,
    /// With its `#`.
    pub hashtag: String,
    pub description: String,
    /// IANA name: times are shown in this zone.
    pub time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRecord {
    /// Stable across instances; the session's URL and identity in imports.
    pub uid: String,
    /// `scheduled`, `announced`, `running`, `paused`, `ended`, `cancelled` or `missed`.
    pub state: String,
    #[serde(with = "time")]
    pub scheduled_start: DateTime<Utc>,
    #[serde(with = "time::option", default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "time::option", default)]
    pub ended_at: Option<DateTime<Utc>>,
    /// `platform:id` of each room, in the chat's order.
    pub rooms: Vec<String>,
    /// Where it took place, when its platform gave it a place of its own (a Discord thread);
    /// absent otherwise, and in documents from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<SessionLink>,
    /// Who started it by command; absent when the schedule did (and before version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostRecord>,
}

/// Who started a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostRecord {
    /// `platform:user`.
    pub id: String,
    /// Their display name when they started it.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointRecord {
    /// 1-based: Q1 is number 1.
    pub number: u32,
    pub text: String,
    /// When it was put on screen; `None` if the session ended before it.
    #[serde(with = "time::option", default)]
    pub posted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostRecord {
    /// `reminder`, `intro`, `point` or `wrap_up`.
    pub kind: String,
    /// The point, for `point` posts.
    pub point: Option<u32>,
    /// `platform:id`.
    pub room: String,
    pub platform_message_id: String,
    #[serde(with = "time")]
    pub posted_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRecord {
    /// `discord`, `matrix`, `web` or `loopback`.
    pub platform: String,
    /// The room's id on its platform (without the platform prefix).
    pub room: String,
    pub platform_message_id: String,
    pub author: Author,
    /// The current text, or [`WITHHELD`] when the author opted out.
    pub body: String,
    /// The platform's name as people know it (`Matrix`), recorded when the message was
    /// captured; absent in documents from before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_label: Option<String>,
    /// A link (`https://…`) to the message on its platform, recorded when it was captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
    /// The platform's formatted version (Matrix HTML), if any; dropped when withheld.
    pub formatted_body: Option<String>,
    #[serde(with = "time")]
    pub sent_at: DateTime<Utc>,
    /// The discussion point it answers; `None` before Q1.
    pub point: Option<u32>,
    /// Further points it answers with tags of their own (`A1 … A6 …`), in order; it is shown
    /// under each of them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_answers: Vec<u32>,
    /// The platform id of the message (or bot post) it replies to.
    pub reply_to: Option<String>,
    /// Earlier texts, oldest first; empty when withheld.
    pub edits: Vec<EditRecord>,
    /// When the current text was written, if it was edited.
    #[serde(with = "time::option", default)]
    pub edited_at: Option<DateTime<Utc>>,
    pub attachments: Vec<AttachmentRecord>,
    /// How people reacted (Matrix reactions), by key; absent when nobody did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionRecord>,
    /// The author opted out: text, edits and attachments are withheld.
    pub withheld: bool,
    /// A moderator hid it from the transcript; kept in the document so it can be unhidden.
    pub hidden: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    /// The platform's id for the person.
    pub id: String,
    pub name: String,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditRecord {
    /// The text as it was before this edit.
    pub body: String,
    pub formatted_body: Option<String>,
    /// When it was replaced.
    #[serde(with = "time")]
    pub replaced_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactionRecord {
    /// What people reacted with: usually an emoji.
    pub key: String,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRecord {
    pub url: String,
    pub name: String,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRecord {
    pub text: String,
    /// Shown at the end of this point's section (or before Q1 when `None`) …
    pub point: Option<u32>,
    /// … or right after this message (`platform:platform_message_id`), when given.
    pub after_message: Option<String>,
    /// Who wrote it (`platform:user`).
    pub by: String,
    /// Their display name when they wrote it (absent before version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_name: Option<String>,
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
}

impl NoteRecord {
    /// Whom the note is credited to: the curator's name, else their id.
    pub fn credit(&self) -> &str {
        self.by_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(&self.by)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Highlight {
    /// `platform:platform_message_id`.
    pub message: String,
    pub by: String,
    #[serde(with = "time")]
    pub at: DateTime<Utc>,
}

impl MessageRecord {
    /// The message's anchor in HTML and its key in notes and highlights:
    /// `platform:platform_message_id`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.platform, self.platform_message_id)
    }

    /// Shown in a transcript: not hidden by a moderator.
    pub fn is_shown(&self) -> bool {
        !self.hidden
    }

    /// Whether it is shown under `point`: its own, or one it also answers.
    pub fn answers(&self, point: u32) -> bool {
        self.point == Some(point) || self.also_answers.contains(&point)
    }
}

impl Transcript {
    /// Distinct authors whose messages are shown.
    pub fn participant_count(&self) -> usize {
        let mut authors: Vec<(&str, &str)> = self
            .messages
            .iter()
            .filter(|m| m.is_shown())
            .map(|m| (m.platform.as_str(), m.author.id.as_str()))
            .collect();
        authors.sort_unstable();
        authors.dedup();
        authors.len()
    }

    /// The messages shown under point `point` (`None`: the introduction), oldest first: those
    /// filed under it and those that answer it too.
    pub fn shown_under(&self, point: Option<u32>) -> impl Iterator<Item = &MessageRecord> {
        self.shown_messages().filter(move |m| match point {
            Some(n) => m.answers(n),
            None => m.point.is_none(),
        })
    }

    /// What a reader is told about a message shown under `under`, in the same words in every
    /// format: that it also answers other points, or, where it is shown again, which point it
    /// is filed under; and that it was written before the point it answers was posted (so times
    /// that run backwards don't puzzle).
    pub fn answer_marks(&self, m: &MessageRecord, under: Option<u32>) -> Vec<String> {
        let mut marks = Vec::new();
        match under {
            Some(n) if m.point != Some(n) => marks.push(format!(
                "answers Q{n} too (filed under {})",
                m.point
                    .map_or_else(|| "the introduction".to_owned(), |p| format!("Q{p}"))
            )),
            _ if !m.also_answers.is_empty() => {
                let also: Vec<String> = m.also_answers.iter().map(|p| format!("Q{p}")).collect();
                marks.push(format!("also answers {}", also.join(", ")));
            }
            _ => {}
        }
        let posted = under.and_then(|n| {
            self.points
                .iter()
                .find(|p| p.number == n)
                .and_then(|p| p.posted_at)
        });
        if let (Some(n), Some(at)) = (under, posted) {
            if m.sent_at < at {
                marks.push(format!("answered before Q{n} was posted"));
            }
        }
        marks
    }

    /// What a reply to the bot's post `platform_message_id` answers, as the text formats name
    /// it: `Q2`, `the intro`, `the wrap-up`; `None` if the bot made no such post.
    pub fn post_replied_to(&self, platform_message_id: &str) -> Option<String> {
        let post = self
            .posts
            .iter()
            .find(|p| p.platform_message_id == platform_message_id)?;
        Some(match post.point {
            Some(n) => format!("Q{n}"),
            None => format!("the {}", post.kind.replace('_', "-")),
        })
    }

    /// Whether the shown messages come from more than one platform: only then does each
    /// message say where it was written.
    pub fn spans_platforms(&self) -> bool {
        self.platforms().len() > 1
    }

    /// Messages shown in the transcript.
    pub fn shown_messages(&self) -> impl Iterator<Item = &MessageRecord> {
        self.messages.iter().filter(|m| m.is_shown())
    }

    /// The platforms the shown messages came from, sorted.
    pub fn platforms(&self) -> Vec<&str> {
        let mut platforms: Vec<&str> = self.shown_messages().map(|m| m.platform.as_str()).collect();
        platforms.sort_unstable();
        platforms.dedup();
        platforms
    }
}
