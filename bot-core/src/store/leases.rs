//! Session leases: which instance owns each running or due session, on the database's clock.
//!
//! The store's half of several instances on one database: claiming the sessions nobody holds
//! (or whose lease expired, taking them with the next fence), renewing what one holds, letting
//! go of it all on a clean stop, and asking whether a lease still holds. The engine does not
//! use them yet; until it does, a second instance on one PostgreSQL database is refused
//! (`src/cli/presence.rs`).

use super::codec::col;
use super::instances::db_now_ms;
use super::{Context, Result, Store};
use crate::model::SessionId;

/// A lease this instance holds: its session and the fence its writes carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lease {
    pub session_id: SessionId,
    pub fence: i64,
}

/// Sessions a lease is for: those the scheduler may still move on.
const LEASABLE: &str = "s.state IN ('scheduled', 'announced', 'running', 'paused') \
     AND s.origin <> 'import'";

fn leases(rows: &[super::Row]) -> Result<Vec<Lease>> {
    let mut out: Vec<Lease> = rows
        .iter()
        .map(|r| {
            Ok(Lease {
                session_id: col(r, "session_id")?,
                fence: col(r, "fence")?,
            })
        })
        .collect::<Result<_>>()?;
    out.sort();
    Ok(out)
}

impl Store {
    /// Takes every leasable session that has no lease, or whose lease has expired (its own
    /// included), for `ttl_ms` from now; returns the leases taken. A taken-over lease gets the
    /// next fence.
    pub async fn claim_session_leases(&self, instance: &str, ttl_ms: i64) -> Result<Vec<Lease>> {
        let now = db_now_ms(self.backend());
        let mut tx = self.begin_write().await?;
        let fresh = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO session_leases (session_id, instance_id, fence, expires_at) \
             SELECT s.id, $1, 1, {now} + $2 FROM sessions s WHERE {LEASABLE} \
             AND NOT EXISTS (SELECT 1 FROM session_leases l WHERE l.session_id = s.id) \
             ON CONFLICT (session_id) DO NOTHING RETURNING session_id, fence"
        )))
        .bind(instance)
        .bind(ttl_ms)
        .fetch_all(&mut *tx)
        .await
        .ctx("claiming sessions nobody holds")?;
        // On PostgreSQL the expired rows are locked in one order and those another claim
        // holds are skipped (`FOR UPDATE SKIP LOCKED`): racing claims neither wait for nor
        // deadlock on each other. SQLite has one writer at a time already (`begin_write`).
        let lock = match self.backend() {
            super::Backend::Postgres => " ORDER BY l.session_id FOR UPDATE OF l SKIP LOCKED",
            super::Backend::Sqlite => "",
        };
        let taken = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE session_leases SET instance_id = $1, fence = fence + 1, \
             expires_at = {now} + $2 WHERE session_id IN (\
               SELECT l.session_id FROM session_leases l JOIN sessions s ON s.id = l.session_id \
               WHERE l.expires_at < {now} AND {LEASABLE}{lock}) \
             AND expires_at < {now} \
             RETURNING session_id, fence"
        )))
        .bind(instance)
        .bind(ttl_ms)
        .fetch_all(&mut *tx)
        .await
        .ctx("taking over expired leases")?;
        tx.commit().await.ctx("committing lease claims")?;
        let mut all = leases(&fresh)?;
        all.extend(leases(&taken)?);
        all.sort();
        Ok(all)
    }

    /// Extends every unexpired lease `instance` holds by `ttl_ms` from now; returns them. A
    /// lease held before and missing here is lost: expired, and perhaps taken by another.
    pub async fn renew_session_leases(&self, instance: &str, ttl_ms: i64) -> Result<Vec<Lease>> {
        let now = db_now_ms(self.backend());
        let mut conn = self.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE session_leases SET expires_at = {now} + $2 \
             WHERE instance_id = $1 AND expires_at >= {now} RETURNING session_id, fence"
        )))
        .bind(instance)
        .bind(ttl_ms)
        .fetch_all(&mut *conn)
        .await
        .ctx("renewing leases")?;
        leases(&rows)
    }

    /// Lets go of every lease `instance` holds (a clean stop): others may claim them at once.
    /// The rows stay, expired, so the next holder's fence is higher than any this one wrote
    /// with; deleted, a fresh claim would start again at fence 1.
    pub async fn release_session_leases(&self, instance: &str) -> Result<u64> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE session_leases SET expires_at = 0 WHERE instance_id = $1")
            .bind(instance)
            .execute(&mut *conn)
            .await
            .ctx("releasing leases")?;
        Ok(done.rows_affected())
    }

    /// Whether `instance` still holds `lease` (same fence, not expired) by the database's clock.
    pub async fn lease_holds(&self, instance: &str, lease: Lease) -> Result<bool> {
        let now = db_now_ms(self.backend());
        let mut conn = self.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM session_leases WHERE session_id = $1 \
             AND instance_id = $2 AND fence = $3 AND expires_at >= {now}"
        )))
        .bind(lease.session_id)
        .bind(instance)
        .bind(lease.fence)
        .fetch_one(&mut *conn)
        .await
        .ctx("checking a lease")?;
        Ok(col::<i64>(&row, "n")? > 0)
    }
}
