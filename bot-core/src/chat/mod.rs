//! Chat definitions: what a themed chat is, read and checked from its TOML file.

mod load;
mod locate;
mod schedule;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::ids::{Platform, RoomRef, UserRef};

pub use load::{
    load_chat_dir, load_chat_file, parse_chat, ChatError, LocatedError, CHAT_KEYS,
    DEFAULT_INTRO_MINUTES, DEFAULT_MINUTES_BETWEEN_POINTS, DEFAULT_REMINDER_MINUTES,
    MAX_TEXT_CHARS, MAX_TITLE_CHARS,
};
pub(crate) use locate::{parse_document, read_text};
pub use locate::{Node, Reader, Spanned};
pub use schedule::{parse_start, parse_until, resolve_local, Repeat, Schedule};

/// One themed chat, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Chat {
    /// Short stable name used in commands (`/chat start interlibnet`) and URLs.
    pub slug: String,
    pub title: String,
    /// With its leading `#`.
    pub hashtag: String,
    pub description: String,
    /// Posted when the session starts, before Q1.
    pub intro: String,
    /// Posted after the last point.
    pub wrap_up: String,
    pub points: Vec<Point>,
    /// Minutes from one point to the next, unless a point says otherwise.
    pub minutes_between_points: u32,
    /// Minutes from the intro to Q1.
    pub intro_minutes: u32,
    /// How long before the start the reminder is posted; 0 posts none.
    pub reminder_minutes: u32,
    /// The chat's own IANA time zone: schedules are evaluated and times shown in it.
    pub zone: Tz,
    pub schedule: Option<Schedule>,
    pub rooms: Vec<RoomRef>,
    pub moderators: Vec<UserRef>,
    /// Who may read its transcripts on the web.
    pub visibility: Visibility,
    /// What becomes of a message carrying the chat's hashtag in a room that is not the chat's,
    /// while a session runs.
    pub capture_hashtag: CaptureHashtag,
    /// Each platform's options for this chat (`[discord]` in the file), as that platform's
    /// adapter read and checked them; handed back to it with every post. Only platforms whose
    /// table the file has are here.
    pub platform_options: BTreeMap<Platform, serde_json::Value>,
    /// The file it was read from, for messages about it.
    pub source: PathBuf,
}

/// `capture_hashtag` in a chat file: what the hashtag does, as it did on Twitter, for messages
/// in the other rooms the bot is in (rooms no chat names are never posted to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaptureHashtag {
    /// Archived with the running session, attributed like any other message.
    #[default]
    Archive,
    /// Archived, and relayed into the session's rooms.
    Relay,
    /// Not gathered.
    Off,
}

impl CaptureHashtag {
    pub fn parse(s: &str) -> Option<CaptureHashtag> {
        match s {
            "archive" => Some(CaptureHashtag::Archive),
            "relay" => Some(CaptureHashtag::Relay),
            "off" => Some(CaptureHashtag::Off),
            _ => None,
        }
    }
}

/// Who may read a chat's transcripts on the archive's web pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Listed in the archive and served.
    #[default]
    Public,
    /// Served to anyone with the link, never listed or searchable.
    Unlisted,
    /// Never served; only `hashchat export` on the host reads it.
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
        }
    }

    pub fn parse(text: &str) -> Option<Visibility> {
        [
            Visibility::Public,
            Visibility::Unlisted,
            Visibility::Private,
        ]
        .into_iter()
        .find(|v| v.as_str() == text)
    }
}

/// A numbered discussion point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub text: String,
    /// Minutes until the next point, when it differs from the chat's default.
    pub minutes: Option<u32>,
}

impl Chat {
    /// Minutes that point `number` (1-based) stays on screen.
    pub fn point_minutes(&self, number: u32) -> u32 {
        self.points
            .get(number.saturating_sub(1) as usize)
            .and_then(|p| p.minutes)
            .unwrap_or(self.minutes_between_points)
    }

    /// The chat's options for `platform` (its table in the chat file), if the file has them.
    pub fn options_for(&self, platform: Platform) -> Option<&serde_json::Value> {
        self.platform_options.get(&platform)
    }

    pub fn is_moderator(&self, user: &UserRef) -> bool {
        self.moderators.contains(user)
    }

    /// The next scheduled start at or after `at`; `None` when unscheduled or finished.
    pub fn next_start_at_or_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.as_ref()?.next_at_or_after(self.zone, at)
    }

    /// The schedule in words, e.g. "every 2 weeks on Tuesday at 19:00 (Europe/London), from
    /// 1 December 2026"; `None` when the chat only runs when started by command.
    pub fn describe_schedule(&self) -> Option<String> {
        Some(self.schedule.as_ref()?.describe(self.zone))
    }
}
