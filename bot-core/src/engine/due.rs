//! Which session falls due next.
//!
//! One ordered index for every session with a due step, instead of a timer per session: the
//! scheduler sleeps until the earliest entry and is woken when the index changes.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::model::SessionId;

#[derive(Debug, Default)]
pub struct DueIndex {
    by_time: BTreeSet<(DateTime<Utc>, SessionId)>,
    by_session: HashMap<SessionId, DateTime<Utc>>,
}

impl DueIndex {
    /// Sets (or with `None` clears) when `session` next falls due.
    pub fn set(&mut self, session: SessionId, due: Option<DateTime<Utc>>) {
        if let Some(old) = self.by_session.remove(&session) {
            self.by_time.remove(&(old, session));
        }
        if let Some(due) = due {
            self.by_time.insert((due, session));
            self.by_session.insert(session, due);
        }
    }

    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.by_time.first().map(|(due, _)| *due)
    }

    /// Removes and returns every session due at or before `now`, earliest first.
    pub fn take_due(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, SessionId)> {
        let mut due = Vec::new();
        while let Some(&(at, session)) = self.by_time.first() {
            if at > now {
                break;
            }
            self.by_time.pop_first();
            self.by_session.remove(&session);
            due.push((at, session));
        }
        due
    }

    pub fn len(&self) -> usize {
        self.by_session.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.by_session.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, minute, 0).unwrap()
    }

    #[test]
    fn takes_due_sessions_in_time_order_and_leaves_later_ones() {
        let mut index = DueIndex::default();
        index.set(3, Some(at(30)));
        index.set(1, Some(at(10)));
        index.set(2, Some(at(20)));
        assert_eq!(index.take_due(at(20)), vec![(at(10), 1), (at(20), 2)]);
        assert_eq!(index.earliest(), Some(at(30)));
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn rescheduling_a_session_replaces_its_old_due_time() {
        let mut index = DueIndex::default();
        index.set(1, Some(at(10)));
        index.set(1, Some(at(40)));
        assert!(index.take_due(at(30)).is_empty());
        index.set(1, None);
        assert!(index.is_empty());
        assert_eq!(index.earliest(), None);
    }
}
