//! The archive: captured messages, their edits, deletions and attachments.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::codec::{col, col_opt_time, col_opt_u32, col_parse, col_time, opt_u32, to_ms};
use super::{Backend, Context, Result, Row, Store, StoreError};
use crate::ids::Platform;
use crate::model::{
    ArchivedMessage, Attachment, IncomingMessage, MessageEdit, MessageId, SessionId, StoredMessage,
};

/// Columns bound per message by the ingest INSERT.
const MESSAGE_PARAMS: usize = 14;
/// Messages per INSERT statement: 6,000 parameters, well under SQLite's 32,766 (and
/// PostgreSQL's 65,535). Full chunks share one SQL text, so the prepared statement is reused.
const MESSAGE_CHUNK: usize = 500;
const ATTACHMENT_PARAMS: usize = 6;
const ATTACHMENT_CHUNK: usize = 1000;
/// SQLite refuses statements with more than 32,766 parameters.
const _: () = assert!(
    MESSAGE_CHUNK * MESSAGE_PARAMS <= 32_766 && ATTACHMENT_CHUNK * ATTACHMENT_PARAMS <= 32_766
);

const INSERT_MESSAGES_HEAD: &str = "INSERT INTO messages (session_id, point, platform, room, \
     platform_msg_id, author_id, author_name, avatar_url, body, formatted_body, sent_at, \
     reply_to, platform_label, permalink) VALUES ";
const INSERT_MESSAGES_TAIL: &str = " ON CONFLICT (platform, platform_msg_id) DO NOTHING";
const INSERT_ATTACHMENTS_HEAD: &str =
    "INSERT INTO attachments (message_id, position, url, name, content_type, size_bytes) VALUES ";

macro_rules! select_messages {
    ($rest:literal) => {
        concat!(
            "SELECT m.id, m.session_id, m.point, m.platform, m.room, m.platform_msg_id, \
             m.author_id, m.author_name, m.avatar_url, m.body, m.formatted_body, m.sent_at, \
             m.reply_to, m.platform_label, m.permalink, m.deleted_at FROM messages m ",
            $rest
        )
    };
}

impl Store {
    /// Archives a batch of messages; returns how many were new.
    ///
    /// Idempotent: a message whose `(platform, platform_msg_id)` is already stored (or appears
    /// earlier in the same batch) is skipped, and its attachments with it, so replaying a
    /// batch or overlapping two batches stores each message once. The whole batch is one
    /// transaction: after an error nothing of it is stored. Rows go in as multi-row INSERTs of
    /// up to 500 messages, so a batch of any size stays under the backends' parameter limits.
    /// Stored text is exactly what was given; timestamps are kept to the millisecond. Every
    /// message's session must exist (a foreign key): otherwise the batch fails as a whole.
    pub async fn append_messages(&self, batch: &[ArchivedMessage]) -> Result<u64> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut seen = HashSet::with_capacity(batch.len());
        let unique: Vec<&ArchivedMessage> = batch
            .iter()
            .filter(|m| seen.insert((m.message.platform, m.message.platform_msg_id.as_str())))
            .collect();

        let mut tx = self.begin_write().await?;
        let mut inserted = 0u64;
        for chunk in unique.chunks(MESSAGE_CHUNK) {
            // Attachments need the ids of the rows this call inserts. RETURNING every row of
            // the chunk costs more than the insert itself, so instead: note which messages
            // with attachments are already stored, insert, then look up the ids of the rest.
            let with_attachments: Vec<&ArchivedMessage> = chunk
                .iter()
                .copied()
                .filter(|m| !m.message.attachments.is_empty())
                .collect();
            let already: HashSet<(String, String)> = if with_attachments.is_empty() {
                HashSet::new()
            } else {
                self.lookup_ids(&mut tx, &with_attachments)
                    .await?
                    .into_keys()
                    .collect()
            };

            let mut sql = values_sql(
                INSERT_MESSAGES_HEAD,
                chunk.len(),
                MESSAGE_PARAMS,
                self.backend,
            );
            sql.push_str(INSERT_MESSAGES_TAIL);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for a in chunk {
                let m = &a.message;
                q = q
                    .bind(a.session_id)
                    .bind(opt_u32(a.point))
                    .bind(m.platform.as_str())
                    .bind(m.room.as_str())
                    .bind(m.platform_msg_id.as_str())
                    .bind(m.author_id.as_str())
                    .bind(m.author_name.as_str())
                    .bind(m.avatar_url.as_deref())
                    .bind(m.body.as_str())
                    .bind(m.formatted_body.as_deref())
                    .bind(to_ms(m.sent_at))
                    .bind(m.reply_to.as_deref())
                    .bind(m.platform_label.as_deref())
                    .bind(m.permalink.as_deref());
            }
            let done = q.execute(&mut *tx).await.ctx("archiving messages")?;
            inserted += done.rows_affected();

            let new_ones: Vec<&ArchivedMessage> = with_attachments
                .into_iter()
                .filter(|m| !already.contains(&key(m)))
                .collect();
            if new_ones.is_empty() {
                continue;
            }
            let ids = self.lookup_ids(&mut tx, &new_ones).await?;
            let mut pending: Vec<(MessageId, i64, &Attachment)> = Vec::new();
            for m in &new_ones {
                if let Some(&id) = ids.get(&key(m)) {
                    pending.extend(
                        m.message
                            .attachments
                            .iter()
                            .enumerate()
                            .map(|(pos, att)| (id, pos as i64, att)),
                    );
                }
            }
            for part in pending.chunks(ATTACHMENT_CHUNK) {
                let mut sql = values_sql(
                    INSERT_ATTACHMENTS_HEAD,
                    part.len(),
                    ATTACHMENT_PARAMS,
                    self.backend,
                );
                sql.push_str(" ON CONFLICT (message_id, position) DO NOTHING");
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (id, pos, att) in part {
                    q = q
                        .bind(*id)
                        .bind(*pos)
                        .bind(att.url.as_str())
                        .bind(att.name.as_str())
                        .bind(att.content_type.as_deref())
                        .bind(att.size_bytes);
                }
                q.execute(&mut *tx).await.ctx("archiving attachments")?;
            }
        }
        tx.commit().await.ctx("committing archived messages")?;
        Ok(inserted)
    }

    /// The archived message the platform knows as `platform_msg_id`, with its edits and
    /// attachments.
    pub async fn find_message(
        &self,
        platform: Platform,
        platform_msg_id: &str,
    ) -> Result<Option<StoredMessage>> {
        let mut conn = self.conn().await?;
        let Some(row) = sqlx::query(select_messages!(
            "WHERE m.platform = $1 AND m.platform_msg_id = $2"
        ))
        .bind(platform.as_str())
        .bind(platform_msg_id)
        .fetch_optional(&mut *conn)
        .await
        .ctx("finding a message")?
        else {
            return Ok(None);
        };
        let mut msg = decode_message(&row)?;
        let id = msg.id;
        let atts = sqlx::query(
            "SELECT message_id, url, name, content_type, size_bytes FROM attachments \
             WHERE message_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .ctx("loading attachments")?;
        for r in &atts {
            msg.message.attachments.push(decode_attachment(r)?);
        }
        let edits = sqlx::query(
            "SELECT message_id, body, formatted_body, edited_at FROM message_edits \
             WHERE message_id = $1 ORDER BY edited_at, id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .ctx("loading edits")?;
        for r in &edits {
            msg.edits.push(decode_edit(r)?);
        }
        Ok(Some(msg))
    }

    /// Records an edit of an archived message. The text it replaces is kept in the message's
    /// history ([`StoredMessage::edits`], one entry per edit: the earlier text and when the edit
    /// happened); the message then carries the new text.
    ///
    /// `editor_id`, when given, must be the message's author: otherwise nothing changes and the
    /// result is `false`, as for a message not archived.
    ///
    /// Returns `false` if no such message is archived, `true` otherwise. Idempotent: an edit
    /// whose text (body and formatted body) equals the current text, or that is older than the
    /// latest recorded edit, changes nothing (it was seen before, or arrived out of order).
    pub async fn record_edit(
        &self,
        platform: Platform,
        platform_msg_id: &str,
        editor_id: Option<&str>,
        body: &str,
        formatted_body: Option<&str>,
        edited_at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        // A no-op UPDATE that returns the current text also locks the row on PostgreSQL
        // (SQLite is already locked by BEGIN IMMEDIATE), so concurrent edits queue.
        let current = sqlx::query(
            "UPDATE messages SET edited_at = edited_at WHERE platform = $1 AND \
             platform_msg_id = $2 AND author_id = COALESCE($3, author_id) \
             RETURNING id, body, formatted_body, edited_at",
        )
        .bind(platform.as_str())
        .bind(platform_msg_id)
        .bind(editor_id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("locking a message for an edit")?;
        let Some(row) = current else {
            tx.rollback().await.ctx("rolling back")?;
            return Ok(false);
        };
        let id: MessageId = col(&row, "id")?;
        let old_body: String = col(&row, "body")?;
        let old_formatted: Option<String> = col(&row, "formatted_body")?;
        let last_edit = col_opt_time(&row, "edited_at")?;
        let same_text = old_body == body && old_formatted.as_deref() == formatted_body;
        let stale = last_edit.is_some_and(|last| edited_at < last);
        if same_text || stale {
            tx.rollback().await.ctx("rolling back")?;
            return Ok(true);
        }
        let at = to_ms(edited_at);
        sqlx::query(
            "INSERT INTO message_edits (message_id, body, formatted_body, edited_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(old_body)
        .bind(old_formatted)
        .bind(at)
        .execute(&mut *tx)
        .await
        .ctx("keeping a message's earlier text")?;
        sqlx::query(
            "UPDATE messages SET body = $1, formatted_body = $2, edited_at = $3 WHERE id = $4",
        )
        .bind(body)
        .bind(formatted_body)
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("updating an edited message")?;
        tx.commit().await.ctx("committing an edit")?;
        Ok(true)
    }

    /// Records that a message was deleted on its platform. The row and its text stay in the
    /// archive, marked with `deleted_at` (the first deletion time reported wins); it no longer
    /// counts in [`Store::message_count`]. Returns whether the message is archived.
    pub async fn record_deletion(
        &self,
        platform: Platform,
        platform_msg_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE messages SET deleted_at = COALESCE(deleted_at, $1) \
             WHERE platform = $2 AND platform_msg_id = $3",
        )
        .bind(to_ms(at))
        .bind(platform.as_str())
        .bind(platform_msg_id)
        .execute(&mut *conn)
        .await
        .ctx("recording a deletion")?;
        Ok(done.rows_affected() > 0)
    }

    /// Every message archived for a session, deleted ones included (with `deleted_at` set),
    /// ordered by `sent_at` then by arrival; each with its attachments in order and its edit
    /// history oldest first.
    pub async fn session_messages(&self, session_id: SessionId) -> Result<Vec<StoredMessage>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(select_messages!(
            "WHERE m.session_id = $1 ORDER BY m.sent_at, m.id"
        ))
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await
        .ctx("loading a session's messages")?;
        let mut out = rows
            .iter()
            .map(decode_message)
            .collect::<Result<Vec<_>>>()?;
        if out.is_empty() {
            return Ok(out);
        }
        let index: HashMap<MessageId, usize> =
            out.iter().enumerate().map(|(i, m)| (m.id, i)).collect();

        let atts = sqlx::query(
            "SELECT a.message_id, a.url, a.name, a.content_type, a.size_bytes \
             FROM attachments a JOIN messages m ON m.id = a.message_id \
             WHERE m.session_id = $1 ORDER BY a.message_id, a.position",
        )
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await
        .ctx("loading a session's attachments")?;
        for r in &atts {
            let mid: MessageId = col(r, "message_id")?;
            if let Some(&i) = index.get(&mid) {
                out[i].message.attachments.push(decode_attachment(r)?);
            }
        }

        let edits = sqlx::query(
            "SELECT e.message_id, e.body, e.formatted_body, e.edited_at \
             FROM message_edits e JOIN messages m ON m.id = e.message_id \
             WHERE m.session_id = $1 ORDER BY e.message_id, e.edited_at, e.id",
        )
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await
        .ctx("loading a session's edits")?;
        for r in &edits {
            let mid: MessageId = col(r, "message_id")?;
            if let Some(&i) = index.get(&mid) {
                out[i].edits.push(decode_edit(r)?);
            }
        }
        Ok(out)
    }

    /// How many messages a session archived, not counting deleted ones.
    pub async fn message_count(&self, session_id: SessionId) -> Result<i64> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM messages WHERE session_id = $1 AND deleted_at IS NULL",
        )
        .bind(session_id)
        .fetch_one(&mut *conn)
        .await
        .ctx("counting messages")?;
        col(&row, "n")
    }
}

impl Store {
    /// The stored ids of those of `messages` that are archived, keyed by (platform, id).
    async fn lookup_ids(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        messages: &[&ArchivedMessage],
    ) -> Result<HashMap<(String, String), MessageId>> {
        let mut out = HashMap::with_capacity(messages.len());
        let platforms: HashSet<Platform> = messages.iter().map(|m| m.message.platform).collect();
        for platform in platforms {
            let ids: Vec<&str> = messages
                .iter()
                .filter(|m| m.message.platform == platform)
                .map(|m| m.message.platform_msg_id.as_str())
                .collect();
            for part in ids.chunks(MESSAGE_CHUNK) {
                // Placeholder 1 is the platform, the ids follow (numbered from 2 on PostgreSQL).
                let list = values_sql("", 1, part.len() + 1, self.backend);
                let list = match self.backend {
                    Backend::Sqlite => list.replacen("(?, ", "(", 1),
                    Backend::Postgres => list.replacen("($1, ", "(", 1),
                };
                let first = match self.backend {
                    Backend::Sqlite => "?",
                    Backend::Postgres => "$1",
                };
                let sql = format!(
                    "SELECT id, platform, platform_msg_id FROM messages \
                     WHERE platform = {first} AND platform_msg_id IN {list}"
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(platform.as_str());
                for id in part {
                    q = q.bind(*id);
                }
                let rows = q.fetch_all(&mut **tx).await.ctx("looking up message ids")?;
                for r in &rows {
                    out.insert(
                        (col(r, "platform")?, col(r, "platform_msg_id")?),
                        col(r, "id")?,
                    );
                }
            }
        }
        Ok(out)
    }
}

fn key(m: &ArchivedMessage) -> (String, String) {
    (
        m.message.platform.as_str().to_owned(),
        m.message.platform_msg_id.clone(),
    )
}

/// `head` followed by `rows` tuples of `cols` placeholders.
///
/// SQLite gets anonymous `?` placeholders: sqlx binds each parameter after asking SQLite for its
/// name, and SQLite finds a name by walking the statement's list of named parameters, so with
/// `$N` names a 6,000-parameter INSERT costs quadratic time in binding alone (it was two thirds
/// of the ingest time). PostgreSQL only understands `$N`.
fn values_sql(head: &str, rows: usize, cols: usize, backend: Backend) -> String {
    let mut sql = String::with_capacity(head.len() + rows * cols * 7 + 64);
    sql.push_str(head);
    let mut n = 1;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    let _ = write!(sql, "${n}");
                }
            }
            n += 1;
        }
        sql.push(')');
    }
    sql
}

fn decode_message(row: &Row) -> Result<StoredMessage> {
    let id: MessageId = col(row, "id")?;
    let corrupt = |e: StoreError| match e {
        StoreError::Corrupt(m) => StoreError::Corrupt(format!("message {id}: {m}")),
        other => other,
    };
    (|| {
        Ok(StoredMessage {
            id,
            session_id: col(row, "session_id")?,
            point: col_opt_u32(row, "point")?,
            message: IncomingMessage {
                platform: col_parse(row, "platform")?,
                room: col(row, "room")?,
                platform_msg_id: col(row, "platform_msg_id")?,
                author_id: col(row, "author_id")?,
                author_name: col(row, "author_name")?,
                avatar_url: col(row, "avatar_url")?,
                body: col(row, "body")?,
                formatted_body: col(row, "formatted_body")?,
                sent_at: col_time(row, "sent_at")?,
                reply_to: col(row, "reply_to")?,
                attachments: Vec::new(),
                platform_label: col(row, "platform_label")?,
                permalink: col(row, "permalink")?,
            },
            edits: Vec::new(),
            deleted_at: col_opt_time(row, "deleted_at")?,
        })
    })()
    .map_err(corrupt)
}

fn decode_attachment(row: &Row) -> Result<Attachment> {
    Ok(Attachment {
        url: col(row, "url")?,
        name: col(row, "name")?,
        content_type: col(row, "content_type")?,
        size_bytes: col(row, "size_bytes")?,
    })
}

fn decode_edit(row: &Row) -> Result<MessageEdit> {
    Ok(MessageEdit {
        body: col(row, "body")?,
        formatted_body: col(row, "formatted_body")?,
        edited_at: col_time(row, "edited_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_numbered_across_rows() {
        assert_eq!(
            values_sql("INSERT INTO t (a, b) VALUES ", 2, 2, Backend::Postgres),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            values_sql("INSERT INTO t (a, b) VALUES ", 2, 2, Backend::Sqlite),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }
}
