//! The steps of a session and the time between them.
//!
//! A session's steps are numbered: 0 is the reminder, 1 the intro, 2..=n+1 the points Q1..Qn,
//! n+2 the wrap-up. The store keeps the next step to emit; the outbox is keyed by step number, so
//! the numbering is part of the durable format and must not change.

use chrono::Duration;

use crate::chat::Chat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Reminder,
    Intro,
    /// Discussion point, 1-based.
    Point(u32),
    WrapUp,
}

pub const REMINDER_STEP: u32 = 0;
pub const INTRO_STEP: u32 = 1;

impl Step {
    pub fn from_index(chat: &Chat, index: u32) -> Option<Step> {
        let points = chat.points.len() as u32;
        match index {
            0 => Some(Step::Reminder),
            1 => Some(Step::Intro),
            i if i >= 2 && i <= points + 1 => Some(Step::Point(i - 1)),
            i if i == points + 2 => Some(Step::WrapUp),
            _ => None,
        }
    }

    pub fn index(self, chat: &Chat) -> u32 {
        match self {
            Step::Reminder => 0,
            Step::Intro => 1,
            Step::Point(n) => n + 1,
            Step::WrapUp => chat.points.len() as u32 + 2,
        }
    }

    /// How long after this step the next one falls due; `None` after the wrap-up.
    pub fn gap_to_next(self, chat: &Chat) -> Option<Duration> {
        let minutes = match self {
            Step::Reminder => chat.reminder_minutes,
            Step::Intro => chat.intro_minutes,
            Step::Point(n) => chat.point_minutes(n),
            Step::WrapUp => return None,
        };
        Some(Duration::minutes(i64::from(minutes)))
    }

    /// The point on screen once this step is posted.
    pub fn point(self) -> Option<u32> {
        match self {
            Step::Point(n) => Some(n),
            _ => None,
        }
    }
}

/// The whole length of a session from intro to wrap-up.
pub fn session_length(chat: &Chat) -> Duration {
    let points: i64 = (1..=chat.points.len() as u32)
        .map(|n| i64::from(chat.point_minutes(n)))
        .sum();
    Duration::minutes(i64::from(chat.intro_minutes) + points)
}
