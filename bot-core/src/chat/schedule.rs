//! When a chat runs. (Stub: being written.)

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub first: NaiveDateTime,
    pub repeat: Option<Repeat>,
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Days(u32),
    Weeks(u32),
    Months(u32),
}

impl Schedule {
    pub fn next_at_or_after(&self, _zone: Tz, _at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        unimplemented!("being written")
    }
}

pub fn resolve_local(_zone: Tz, _local: NaiveDateTime) -> DateTime<Utc> {
    unimplemented!("being written")
}
