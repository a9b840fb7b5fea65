//! Curation: curator notes, highlighted and hidden messages, and who opted out of transcripts.
//! Every change is also written to `curation_log`, with who made it and when.

use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};

use super::codec::{col, col_opt_u32, col_time, opt_u32, parse_user, to_ms};
use super::sessions::record_command_effect;
use super::{Context, Result, Store};
use crate::ids::{Platform, UserRef};
use crate::model::{CommandKey, SessionId};

/// A curator's note as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CuratorNote {
    pub point: Option<u32>,
    /// `platform:platform_msg_id` of the message it follows, if placed after one.
    pub after_message: Option<String>,
    pub text: String,
    pub by: UserRef,
    /// The curator's display name when they wrote it (unknown for older notes).
    pub by_name: Option<String>,
    pub at: DateTime<Utc>,
}

/// A message a moderator marked (highlighted or hidden).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkedMessage {
    pub platform: Platform,
    pub platform_msg_id: String,
    pub by: UserRef,
    pub at: DateTime<Utc>,
}

/// Which mark [`Store::set_mark`] sets or clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Highlight,
    Hidden,
}

impl Mark {
    fn table(self) -> &'static str {
        match self {
            Mark::Highlight => "highlights",
            Mark::Hidden => "hidden_messages",
        }
    }

    fn actions(self) -> (&'static str, &'static str) {
        match self {
            Mark::Highlight => ("highlight", "unhighlight"),
            Mark::Hidden => ("hide", "unhide"),
        }
    }
}

async fn log(
    tx: &mut Transaction<'static, Any>,
    session_id: Option<SessionId>,
    action: &str,
    target: Option<&str>,
    by: &UserRef,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO curation_log (session_id, action, target, by_user, at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(session_id)
    .bind(action)
    .bind(target)
    .bind(by.to_string())
    .bind(to_ms(at))
    .execute(&mut **tx)
    .await
    .ctx("logging a curation action")?;
    Ok(())
}

impl Store {
    /// Adds a curator's note to a session; `command`, the command adding it, is recorded with
    /// it (see [`CommandKey`]).
    pub async fn add_note(
        &self,
        session_id: SessionId,
        note: &CuratorNote,
        command: Option<&CommandKey>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO curator_notes (session_id, point, after_message, text, by_user, created_at, \
             by_name) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session_id)
        .bind(opt_u32(note.point))
        .bind(note.after_message.as_deref())
        .bind(note.text.as_str())
        .bind(note.by.to_string())
        .bind(to_ms(note.at))
        .bind(note.by_name.as_deref())
        .execute(&mut *tx)
        .await
        .ctx("adding a note")?;
        log(&mut tx, Some(session_id), "note", None, &note.by, note.at).await?;
        if let Some(command) = command {
            record_command_effect(&mut tx, command, session_id).await?;
        }
        tx.commit().await.ctx("committing a note")?;
        Ok(())
    }

    /// A session's notes, oldest first.
    pub async fn notes(&self, session_id: SessionId) -> Result<Vec<CuratorNote>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT point, after_message, text, by_user, by_name, created_at FROM curator_notes \
             WHERE session_id = $1 ORDER BY created_at, id",
        )
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await
        .ctx("reading notes")?;
        rows.iter()
            .map(|row| {
                Ok(CuratorNote {
                    point: col_opt_u32(row, "point")?,
                    after_message: col(row, "after_message")?,
                    text: col(row, "text")?,
                    by: parse_user(&col::<String>(row, "by_user")?)?,
                    by_name: col(row, "by_name")?,
                    at: col_time(row, "created_at")?,
                })
            })
            .collect()
    }

    /// Sets (`on`) or clears a mark on the archived message `(platform, platform_msg_id)`.
    /// Returns `None` if no such message is archived, else whether anything changed (marking
    /// a marked message keeps the first who and when).
    pub async fn set_mark(
        &self,
        mark: Mark,
        platform: Platform,
        platform_msg_id: &str,
        on: bool,
        by: &UserRef,
        at: DateTime<Utc>,
    ) -> Result<Option<bool>> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(
            "SELECT id, session_id FROM messages WHERE platform = $1 AND platform_msg_id = $2",
        )
        .bind(platform.as_str())
        .bind(platform_msg_id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("finding a message")?;
        let Some(found) = found else {
            tx.rollback().await.ctx("rolling back")?;
            return Ok(None);
        };
        let message_id: i64 = col(&found, "id")?;
        let session_id: SessionId = col(&found, "session_id")?;
        let table = mark.table();
        let sql = if on {
            format!(
                "INSERT INTO {table} (message_id, by_user, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (message_id) DO NOTHING"
            )
        } else {
            format!("DELETE FROM {table} WHERE message_id = $1")
        };
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(message_id);
        let query = if on {
            query.bind(by.to_string()).bind(to_ms(at))
        } else {
            query
        };
        let changed = query
            .execute(&mut *tx)
            .await
            .ctx("marking a message")?
            .rows_affected()
            > 0;
        if changed {
            let (set, clear) = mark.actions();
            let target = format!("{platform}:{platform_msg_id}");
            log(
                &mut tx,
                Some(session_id),
                if on { set } else { clear },
                Some(&target),
                by,
                at,
            )
            .await?;
        }
        tx.commit().await.ctx("committing a mark")?;
        Ok(Some(changed))
    }

    /// The messages of a session carrying `mark`, in the order they were sent.
    pub async fn marked(&self, mark: Mark, session_id: SessionId) -> Result<Vec<MarkedMessage>> {
        let mut conn = self.conn().await?;
        let sql = format!(
            "SELECT m.platform, m.platform_msg_id, k.by_user, k.created_at FROM {} k \
             JOIN messages m ON m.id = k.message_id WHERE m.session_id = $1 \
             ORDER BY m.sent_at, m.id",
            mark.table()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(session_id)
            .fetch_all(&mut *conn)
            .await
            .ctx("reading marked messages")?;
        rows.iter()
            .map(|row| {
                Ok(MarkedMessage {
                    platform: super::codec::col_parse(row, "platform")?,
                    platform_msg_id: col(row, "platform_msg_id")?,
                    by: parse_user(&col::<String>(row, "by_user")?)?,
                    at: col_time(row, "created_at")?,
                })
            })
            .collect()
    }

    /// Records that `user` opts out of transcripts (`out`), or back in. Returns whether it
    /// changed anything.
    pub async fn set_opt_out(&self, user: &UserRef, out: bool, at: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let query = if out {
            sqlx::query("INSERT INTO opt_outs (user_ref, created_at) VALUES ($1, $2) ON CONFLICT (user_ref) DO NOTHING")
                .bind(user.to_string())
                .bind(to_ms(at))
        } else {
            sqlx::query("DELETE FROM opt_outs WHERE user_ref = $1").bind(user.to_string())
        };
        let changed = query
            .execute(&mut *tx)
            .await
            .ctx("recording an opt-out")?
            .rows_affected()
            > 0;
        if changed {
            log(
                &mut tx,
                None,
                if out { "optout" } else { "optin" },
                None,
                user,
                at,
            )
            .await?;
        }
        tx.commit().await.ctx("committing an opt-out")?;
        Ok(changed)
    }

    /// Erases, in every session of `chat_slug`, what people who opted out wrote: the text
    /// becomes [`crate::transcript::WITHHELD`], and formatting, earlier texts and attachments
    /// are deleted. Returns how many messages were purged. The rows stay, so threads and counts
    /// hold together; the words are gone for good.
    pub async fn purge_opted_out(
        &self,
        chat_slug: &str,
        by: &UserRef,
        at: DateTime<Utc>,
    ) -> Result<u64> {
        const PURGED: &str = "m.session_id IN (SELECT id FROM sessions WHERE chat_slug = $1) \
             AND (m.platform || ':' || m.author_id) IN (SELECT user_ref FROM opt_outs)";
        let mut tx = self.begin_write().await?;
        for table in ["message_edits", "attachments"] {
            let sql = format!(
                "DELETE FROM {table} WHERE message_id IN (SELECT m.id FROM messages m WHERE {PURGED})"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(chat_slug)
                .execute(&mut *tx)
                .await
                .ctx("purging earlier texts and attachments")?;
        }
        let sql = format!(
            "UPDATE messages SET body = $2, formatted_body = NULL, edited_at = NULL \
             WHERE id IN (SELECT m.id FROM messages m WHERE {PURGED}) AND body <> $2"
        );
        let purged = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(chat_slug)
            .bind(crate::transcript::WITHHELD)
            .execute(&mut *tx)
            .await
            .ctx("purging messages")?
            .rows_affected();
        let target = format!("{chat_slug}: {purged}");
        log(&mut tx, None, "purge", Some(&target), by, at).await?;
        tx.commit().await.ctx("committing a purge")?;
        Ok(purged)
    }

    /// Everyone opted out of transcripts.
    pub async fn opted_out(&self) -> Result<Vec<UserRef>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query("SELECT user_ref FROM opt_outs ORDER BY user_ref")
            .fetch_all(&mut *conn)
            .await
            .ctx("reading opt-outs")?;
        rows.iter()
            .map(|row| parse_user(&col::<String>(row, "user_ref")?))
            .collect()
    }
}
