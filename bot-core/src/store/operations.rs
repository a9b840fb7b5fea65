//! The store's part of what operators watch: sessions by state, and what waits in the outbox.
//! Read at each `/metrics` scrape and by `hashchat status`, so every instance reports the one
//! database.

use chrono::{DateTime, Utc};

use super::codec::{col, col_opt_time, col_parse};
use super::{Context, Result, Store};
use crate::model::SessionState;

/// Posts waiting in one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waiting {
    pub count: i64,
    /// When the oldest was queued.
    pub oldest: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationsSnapshot {
    /// Every state some session is in, with how many are.
    pub sessions_by_state: Vec<(SessionState, i64)>,
    /// Steps not yet posted (the outbox).
    pub steps: Waiting,
    /// Relayed copies, and their edits and deletions, not yet made.
    pub relays: Waiting,
}

impl Store {
    pub async fn operations_snapshot(&self) -> Result<OperationsSnapshot> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM sessions GROUP BY state")
            .fetch_all(&mut *conn)
            .await
            .ctx("counting sessions by state")?;
        let sessions_by_state = rows
            .iter()
            .map(|r| Ok((col_parse(r, "state")?, col(r, "n")?)))
            .collect::<Result<_>>()?;
        let mut waiting = Vec::new();
        for sql in [
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE status = 'pending'",
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM relays WHERE status = 'pending'",
        ] {
            let row = sqlx::query(sql)
                .fetch_one(&mut *conn)
                .await
                .ctx("counting pending posts")?;
            waiting.push(Waiting {
                count: col(&row, "n")?,
                oldest: col_opt_time(&row, "oldest")?,
            });
        }
        let relays = waiting.pop().unwrap_or_default();
        let steps = waiting.pop().unwrap_or_default();
        Ok(OperationsSnapshot {
            sessions_by_state,
            steps,
            relays,
        })
    }
}
