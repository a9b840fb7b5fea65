//! What a platform adapter must remember between runs: where it read its event stream up to,
//! and which commands it already carried out.

use chrono::{DateTime, Utc};

use super::codec::{col, to_ms};
use super::{Context, Result, Store};
use crate::ids::{Platform, RoomRef};
use crate::model::{CommandKey, SessionId};

/// A claimed command (see [`CommandKey`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandClaim {
    /// The reply it got; `None` for commands claimed before replies were kept.
    pub reply: Option<String>,
    pub reply_private: bool,
    /// Whether the reply has gone out.
    pub replied: bool,
}

impl Store {
    /// The saved position in `account`'s event stream on `platform`, if any.
    pub async fn sync_cursor(&self, platform: Platform, account: &str) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        let row =
            sqlx::query("SELECT cursor FROM sync_cursors WHERE platform = $1 AND account = $2")
                .bind(platform.as_str())
                .bind(account)
                .fetch_optional(&mut *conn)
                .await
                .ctx("reading a sync cursor")?;
        row.map(|r| col::<String>(&r, "cursor")).transpose()
    }

    /// Saves the position in `account`'s event stream, once everything before it is archived.
    pub async fn set_sync_cursor(
        &self,
        platform: Platform,
        account: &str,
        cursor: &str,
    ) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO sync_cursors (platform, account, cursor, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (platform, account) DO UPDATE SET cursor = excluded.cursor, \
             updated_at = excluded.updated_at",
        )
        .bind(platform.as_str())
        .bind(account)
        .bind(cursor)
        .bind(to_ms(Utc::now()))
        .execute(&mut *conn)
        .await
        .ctx("saving a sync cursor")?;
        Ok(())
    }

    /// Every saved value of `platform` whose account starts with `prefix`, as `(account,
    /// value)` in account order: an adapter keeps one entry per thing it mirrors (Discord: a
    /// scheduled event per session) under a prefix of its own, and lists them back here.
    pub async fn sync_cursors_under(
        &self,
        platform: Platform,
        prefix: &str,
    ) -> Result<Vec<(String, String)>> {
        let mut conn = self.conn().await?;
        // Not LIKE: SQLite's is case-insensitive and both treat `_` and `%` as wildcards.
        let rows = sqlx::query(
            "SELECT account, cursor FROM sync_cursors WHERE platform = $1 \
             AND substr(account, 1, length(CAST($2 AS TEXT))) = CAST($2 AS TEXT) ORDER BY account",
        )
        .bind(platform.as_str())
        .bind(prefix)
        .fetch_all(&mut *conn)
        .await
        .ctx("listing sync cursors")?;
        rows.iter()
            .map(|r| Ok((col::<String>(r, "account")?, col::<String>(r, "cursor")?)))
            .collect()
    }

    /// Forgets `account`'s saved value on `platform` (nothing happens if there is none).
    pub async fn delete_sync_cursor(&self, platform: Platform, account: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query("DELETE FROM sync_cursors WHERE platform = $1 AND account = $2")
            .bind(platform.as_str())
            .bind(account)
            .execute(&mut *conn)
            .await
            .ctx("deleting a sync cursor")?;
        Ok(())
    }

    /// What became of the command `key`, if it has been claimed.
    pub async fn command_claim(&self, key: &CommandKey) -> Result<Option<CommandClaim>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT reply, reply_private, replied_at FROM handled_commands \
             WHERE platform = $1 AND platform_msg_id = $2",
        )
        .bind(key.platform.as_str())
        .bind(key.platform_msg_id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading a command's claim")?;
        row.map(|r| {
            Ok(CommandClaim {
                reply: col(&r, "reply")?,
                reply_private: col::<i64>(&r, "reply_private")? != 0,
                replied: col::<Option<i64>>(&r, "replied_at")?.is_some(),
            })
        })
        .transpose()
    }

    /// Claims the command `key`, once its effect is in the store, with the reply it gets:
    /// `true` the first time, `false` when it was claimed before (by a second reading of the
    /// same event) and must not be answered again here.
    pub async fn claim_command(
        &self,
        key: &CommandKey,
        reply: &str,
        private: bool,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "INSERT INTO handled_commands (platform, platform_msg_id, handled_at, reply, reply_private) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (platform, platform_msg_id) DO NOTHING",
        )
        .bind(key.platform.as_str())
        .bind(key.platform_msg_id.as_str())
        .bind(to_ms(Utc::now()))
        .bind(reply)
        .bind(i64::from(private))
        .execute(&mut *conn)
        .await
        .ctx("claiming a command")?;
        Ok(done.rows_affected() > 0)
    }

    /// Notes that the command's reply has gone out.
    pub async fn mark_command_replied(&self, key: &CommandKey) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE handled_commands SET replied_at = $3 WHERE platform = $1 AND platform_msg_id = $2",
        )
        .bind(key.platform.as_str())
        .bind(key.platform_msg_id.as_str())
        .bind(to_ms(Utc::now()))
        .execute(&mut *conn)
        .await
        .ctx("marking a command answered")?;
        Ok(())
    }

    /// The session that was running in `room` at `at` (started, and not ended before it), with
    /// its chat: where a message read late belongs.
    /// Every session (of any chat) running at `at`, oldest first, with its chat: what a
    /// message gathered by a hashtag may belong to, even when it is read late.
    pub async fn sessions_running_at(&self, at: DateTime<Utc>) -> Result<Vec<(SessionId, String)>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, chat_slug FROM sessions WHERE state IN ('running', 'paused', 'ended') \
             AND started_at IS NOT NULL AND started_at <= $1 \
             AND (ended_at IS NULL OR ended_at > $1) ORDER BY id",
        )
        .bind(to_ms(at))
        .fetch_all(&mut *conn)
        .await
        .ctx("finding the sessions running at an instant")?;
        rows.iter()
            .map(|r| Ok((col::<SessionId>(r, "id")?, col::<String>(r, "chat_slug")?)))
            .collect()
    }

    pub async fn session_in_room_at(
        &self,
        room: &RoomRef,
        at: DateTime<Utc>,
    ) -> Result<Option<(SessionId, String)>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT s.id, s.chat_slug FROM sessions s JOIN session_rooms r ON r.session_id = s.id \
             WHERE r.room = $1 AND s.state IN ('running', 'paused', 'ended') \
             AND s.started_at IS NOT NULL AND s.started_at <= $2 \
             AND (s.ended_at IS NULL OR s.ended_at > $2) \
             ORDER BY s.started_at DESC LIMIT 1",
        )
        .bind(room.to_string())
        .bind(to_ms(at))
        .fetch_optional(&mut *conn)
        .await
        .ctx("finding the session a message belongs to")?;
        row.map(|r| Ok((col::<SessionId>(&r, "id")?, col::<String>(&r, "chat_slug")?)))
            .transpose()
    }
}
