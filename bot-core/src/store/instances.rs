//! The instances running on this database: each `hashchat run` registers, beats every few
//! seconds with how its platforms are, and says when it stops, so `hashchat status` (from any
//! machine) shows them all. Every time here is the database's clock, never an instance's, so
//! instances whose clocks disagree still agree on who was heard from when.

use chrono::{DateTime, Utc};

use super::codec::{col, col_opt_time, col_time};
use super::{Backend, Context, Result, Store};

/// Milliseconds since 1970 on the database's clock, as SQL.
pub(crate) fn db_now_ms(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// What an instance says of itself when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstance {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
}

/// An instance as the database last heard of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// Its platforms, as it last reported them (JSON, written by the instance).
    pub platforms_json: String,
    /// Since its last heartbeat, by the database's clock when this was read.
    pub silent_ms: i64,
}

/// Instances stopped, or silent (killed), for a week are forgotten.
const FORGET_AFTER_MS: i64 = 7 * 24 * 3600 * 1000;

impl Store {
    pub async fn register_instance(&self, new: &NewInstance) -> Result<()> {
        let now = db_now_ms(self.backend());
        let mut conn = self.conn().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM instances WHERE COALESCE(stopped_at, heartbeat_at) < {now} - $1"
        )))
        .bind(FORGET_AFTER_MS)
        .execute(&mut *conn)
        .await
        .ctx("forgetting instances gone a week")?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO instances (id, host, pid, version, started_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, {now}, {now})"
        )))
        .bind(new.id.as_str())
        .bind(new.host.as_str())
        .bind(i64::from(new.pid))
        .bind(new.version.as_str())
        .execute(&mut *conn)
        .await
        .ctx("registering this instance")?;
        Ok(())
    }

    /// The instance is alive; its platforms are as `platforms_json` says.
    pub async fn instance_heartbeat(&self, id: &str, platforms_json: &str) -> Result<()> {
        let now = db_now_ms(self.backend());
        let mut conn = self.conn().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE instances SET heartbeat_at = {now}, platforms_json = $2 WHERE id = $1"
        )))
        .bind(id)
        .bind(platforms_json)
        .execute(&mut *conn)
        .await
        .ctx("recording this instance's heartbeat")?;
        Ok(())
    }

    pub async fn instance_stopped(&self, id: &str) -> Result<()> {
        let now = db_now_ms(self.backend());
        let mut conn = self.conn().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE instances SET stopped_at = {now} WHERE id = $1"
        )))
        .bind(id)
        .execute(&mut *conn)
        .await
        .ctx("recording that this instance stopped")?;
        Ok(())
    }

    /// Every instance remembered, the most recently started first.
    pub async fn instances(&self) -> Result<Vec<InstanceRecord>> {
        let now = db_now_ms(self.backend());
        let mut conn = self.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, host, pid, version, started_at, heartbeat_at, stopped_at, platforms_json, \
             {now} - heartbeat_at AS silent_ms FROM instances ORDER BY started_at DESC, id"
        )))
        .fetch_all(&mut *conn)
        .await
        .ctx("listing instances")?;
        rows.iter()
            .map(|r| {
                Ok(InstanceRecord {
                    id: col(r, "id")?,
                    host: col(r, "host")?,
                    pid: col(r, "pid")?,
                    version: col(r, "version")?,
                    started_at: col_time(r, "started_at")?,
                    heartbeat_at: col_time(r, "heartbeat_at")?,
                    stopped_at: col_opt_time(r, "stopped_at")?,
                    platforms_json: col(r, "platforms_json")?,
                    silent_ms: col(r, "silent_ms")?,
                })
            })
            .collect()
    }
}
