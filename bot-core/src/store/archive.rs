//! The archive's index: started sessions, newest first, filtered and paged in SQL.
//!
//! A reader asks for the sessions of some chats that started in a window of time. A chat's
//! days are in its own time zone, which only the chat files know, so the caller turns its
//! day filter into instants, in [`ArchiveWindow`]s of chats that share them; the database does
//! the rest: the filter, the order, the count and the page. The messages are counted for the
//! page's sessions only.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::codec::{col, parse_room, to_ms};
use super::{Context, Result, Store};
use crate::ids::RoomRef;
use crate::model::{SessionId, SessionSummary};

/// The sessions of `chat_slugs` that started at or after `from` and before `until` (either end
/// open).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveWindow {
    pub chat_slugs: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One page of the index and how many sessions match in all.
#[derive(Debug, Clone)]
pub struct ArchivePage {
    pub total: u64,
    pub sessions: Vec<SessionSummary>,
}

/// The SQL condition for `windows` (over alias `s`) with its arguments, numbered from `$1`.
/// `chat_column` is how the chat is named: `s.chat_slug`, or on SQLite `+s.chat_slug` (see
/// [`Store::archive_page`]).
fn window_condition(windows: &[ArchiveWindow], chat_column: &str) -> (String, Vec<Arg>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    let next = |args: &mut Vec<Arg>, arg: Arg| {
        args.push(arg);
        format!("${}", args.len())
    };
    for w in windows.iter().filter(|w| !w.chat_slugs.is_empty()) {
        if !sql.is_empty() {
            sql.push_str(" OR ");
        }
        let _ = write!(sql, "({chat_column} IN (");
        for (i, slug) in w.chat_slugs.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&next(&mut args, Arg::Text(slug.clone())));
        }
        sql.push(')');
        if let Some(from) = w.from {
            let _ = write!(
                sql,
                " AND s.started_at >= {}",
                next(&mut args, Arg::Int(to_ms(from)))
            );
        }
        if let Some(until) = w.until {
            let _ = write!(
                sql,
                " AND s.started_at < {}",
                next(&mut args, Arg::Int(to_ms(until)))
            );
        }
        sql.push(')');
    }
    (sql, args)
}

#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    args: &[Arg],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for a in args {
        q = match a {
            Arg::Text(t) => q.bind(t.clone()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q
}

impl Store {
    /// Started sessions in any of `windows`, newest start first (then highest number), skipping
    /// `offset` and returning at most `limit`, with the count of all that match. No window (or
    /// only windows without chats) matches nothing.
    pub async fn archive_page(
        &self,
        windows: &[ArchiveWindow],
        offset: u64,
        limit: u64,
    ) -> Result<ArchivePage> {
        let (cond, args) = window_condition(windows, "s.chat_slug");
        if cond.is_empty() {
            return Ok(ArchivePage {
                total: 0,
                sessions: Vec::new(),
            });
        }
        let filter = format!("s.started_at IS NOT NULL AND ({cond})");
        // SQLite, given the chats as a list, reads them through the chat index and sorts every
        // match for the page (9 ms for page 160 of 9,000 sessions); told not to (`+`, its way
        // of saying "not through an index"), it walks the start index newest first and stops
        // at the page (2 ms). The count is best through the chat index, which covers it.
        let page_filter = match self.backend() {
            super::Backend::Sqlite => format!(
                "s.started_at IS NOT NULL AND ({})",
                window_condition(windows, "+s.chat_slug").0
            ),
            super::Backend::Postgres => filter.clone(),
        };
        let mut conn = self.conn().await?;

        let count_sql = format!("SELECT COUNT(*) AS n FROM sessions s WHERE {filter}");
        let row = bind_all(sqlx::query(AssertSqlSafe(count_sql)), &args)
            .fetch_one(&mut *conn)
            .await
            .ctx("counting archived sessions")?;
        let total: i64 = col(&row, "n")?;

        let n = args.len();
        // The page is chosen first and its messages counted after: counted in the same query
        // level, PostgreSQL counts the messages of every row the OFFSET skips.
        let page_sql = format!(
            "SELECT {cols}, (SELECT COUNT(*) FROM messages m \
             WHERE m.session_id = s.id AND m.deleted_at IS NULL) AS message_count \
             FROM (SELECT * FROM sessions s WHERE {page_filter} \
                   ORDER BY s.started_at DESC, s.id DESC LIMIT ${} OFFSET ${}) s \
             ORDER BY s.started_at DESC, s.id DESC",
            n + 1,
            n + 2,
            cols = super::sessions::SESSION_COLS,
        );
        let rows = bind_all(sqlx::query(AssertSqlSafe(page_sql)), &args)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await
            .ctx("reading a page of archived sessions")?;
        if rows.is_empty() {
            return Ok(ArchivePage {
                total: total.max(0) as u64,
                sessions: Vec::new(),
            });
        }

        let ids: Vec<SessionId> = rows.iter().map(|r| col(r, "id")).collect::<Result<_>>()?;
        let mut rooms_sql = String::from(
            "SELECT r.session_id, r.room FROM session_rooms r WHERE r.session_id IN (",
        );
        for i in 0..ids.len() {
            if i > 0 {
                rooms_sql.push_str(", ");
            }
            let _ = write!(rooms_sql, "${}", i + 1);
        }
        rooms_sql.push_str(") ORDER BY r.session_id, r.position");
        let mut rq = sqlx::query(AssertSqlSafe(rooms_sql));
        for id in &ids {
            rq = rq.bind(*id);
        }
        let room_rows = rq
            .fetch_all(&mut *conn)
            .await
            .ctx("reading archived sessions' rooms")?;
        let mut rooms: HashMap<SessionId, Vec<RoomRef>> = HashMap::new();
        for r in &room_rows {
            let sid: SessionId = col(r, "session_id")?;
            let text: String = col(r, "room")?;
            rooms.entry(sid).or_default().push(parse_room(&text)?);
        }

        let sessions = rows
            .iter()
            .map(|row| {
                let id: SessionId = col(row, "id")?;
                Ok(SessionSummary {
                    session: super::sessions::decode_session(
                        row,
                        rooms.remove(&id).unwrap_or_default(),
                    )?,
                    message_count: col(row, "message_count")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(ArchivePage {
            total: total.max(0) as u64,
            sessions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_become_one_condition_numbered_in_order() {
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        let (sql, args) = window_condition(
            &[
                ArchiveWindow {
                    chat_slugs: vec!["a".into(), "b".into()],
                    from: at("2025-01-01T00:00:00Z"),
                    until: None,
                },
                ArchiveWindow::default(),
                ArchiveWindow {
                    chat_slugs: vec!["c".into()],
                    from: None,
                    until: at("2025-02-01T00:00:00Z"),
                },
            ],
            "s.chat_slug",
        );
        assert_eq!(
            sql,
            "(s.chat_slug IN ($1, $2) AND s.started_at >= $3) OR \
             (s.chat_slug IN ($4) AND s.started_at < $5)"
        );
        assert_eq!(args.len(), 5);
        assert!(window_condition(&[ArchiveWindow::default()], "s.chat_slug")
            .0
            .is_empty());
        let (sql, _) = window_condition(
            &[ArchiveWindow {
                chat_slugs: vec!["a".into()],
                ..ArchiveWindow::default()
            }],
            "+s.chat_slug",
        );
        assert_eq!(sql, "(+s.chat_slug IN ($1))");
    }
}
