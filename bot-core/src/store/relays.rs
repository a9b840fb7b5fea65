//! The relay outbox and the map from each original message to its copies (see the
//! `relays` migration).

use chrono::{DateTime, Utc};

use super::codec::{col, col_parse, col_u32, parse_room, to_ms};
use super::{Context, Result, Row, Store, StoreError};
use crate::ids::{Platform, RoomRef};
use crate::model::{NewRelay, PendingRelay, PostStatus, RelayContent, SessionId};

/// A copy already made that must change: edited to the original's new text, or deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayChange {
    pub id: i64,
    pub session_id: SessionId,
    pub target: RoomRef,
    pub copy_msg_id: String,
    pub kind: ChangeKind,
    /// The text the copy should show now.
    pub content: RelayContent,
    /// Which edit this is (an edit's key; a newer one keeps the copy marked).
    pub edit_seq: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Edit,
    Delete,
}

/// What a copy is a copy of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOf {
    pub origin_platform: Platform,
    pub origin_msg_id: String,
    /// The room the copy is in.
    pub copy_room: RoomRef,
}

impl Store {
    /// Queues copies to make; one already queued (or made) for the same original and room is
    /// left as it is. Returns how many were new.
    pub async fn enqueue_relays(&self, relays: &[NewRelay], at: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for relay in relays {
            let content = serde_json::to_string(&relay.content)
                .map_err(|e| StoreError::Corrupt(format!("relay content: {e}")))?;
            let done = sqlx::query(
                "INSERT INTO relays (session_id, origin_platform, origin_msg_id, target_room, \
                 target_platform, content_json, status, attempts, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7) \
                 ON CONFLICT (origin_platform, origin_msg_id, target_room) DO NOTHING",
            )
            .bind(relay.session_id)
            .bind(relay.content.origin_platform.as_str())
            .bind(&relay.origin_msg_id)
            .bind(relay.target.to_string())
            .bind(relay.target.platform.as_str())
            .bind(content)
            .bind(to_ms(at))
            .execute(&mut *tx)
            .await
            .ctx("queueing relays")?;
            added += done.rows_affected();
        }
        tx.commit().await.ctx("committing relays")?;
        Ok(added)
    }

    /// Every copy still to make, in the order each room is to get them.
    pub async fn pending_relays(&self) -> Result<Vec<PendingRelay>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, session_id, origin_msg_id, target_room, content_json, attempts, round \
             FROM relays WHERE status = 'pending' ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await
        .ctx("loading pending relays")?;
        rows.iter().map(decode_relay).collect()
    }

    /// The copies `room` is still to get, in order.
    pub async fn pending_relays_in(&self, room: &RoomRef) -> Result<Vec<PendingRelay>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, session_id, origin_msg_id, target_room, content_json, attempts, round \
             FROM relays WHERE status = 'pending' AND target_room = $1 ORDER BY id",
        )
        .bind(room.to_string())
        .fetch_all(&mut *conn)
        .await
        .ctx("loading a room's pending relays")?;
        rows.iter().map(decode_relay).collect()
    }

    /// Records the copy made for relay `id` from `delivered`, the content it was made with.
    /// The original may have changed while the copy was being made: an edit rewrote the row
    /// (the copy then shows older text and is marked to be edited), or a deletion or a hide
    /// cancelled it (the copy is marked to be deleted). Returns whether the copy was so marked.
    pub async fn mark_relayed(
        &self,
        id: i64,
        copy_msg_id: &str,
        at: DateTime<Utc>,
        delivered: &RelayContent,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT status, content_json FROM relays WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("reading a relayed copy")?;
        let Some(row) = row else {
            return Ok(false);
        };
        let status: String = col(&row, "status")?;
        let json: String = col(&row, "content_json")?;
        let now: RelayContent = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("relay {id}: content: {e}")))?;
        let change = if status == "cancelled" {
            Some("delete")
        } else if now != *delivered {
            Some("edit")
        } else {
            None
        };
        sqlx::query(
            "UPDATE relays SET status = 'posted', copy_msg_id = $1, posted_at = $2, \
             last_error = NULL, change = $3, \
             edit_seq = edit_seq + CASE WHEN $3 = 'edit' THEN 1 ELSE 0 END WHERE id = $4",
        )
        .bind(copy_msg_id)
        .bind(to_ms(at))
        .bind(change)
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("recording a relayed copy")?;
        tx.commit().await.ctx("committing a relayed copy")?;
        Ok(change.is_some())
    }

    /// A failed attempt at relay `id`; with `give_up` it leaves the pending list.
    pub async fn mark_relay_failed(&self, id: i64, error: &str, give_up: bool) -> Result<()> {
        let status = if give_up {
            PostStatus::Failed
        } else {
            PostStatus::Pending
        };
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE relays SET attempts = attempts + 1, last_error = $1, status = $2 \
             WHERE id = $3 AND status = 'pending'",
        )
        .bind(error)
        .bind(status.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await
        .ctx("recording a failed relay")?;
        Ok(())
    }

    /// The original (`origin_platform`, `origin_msg_id`) now reads `body`: copies not yet made
    /// will carry it; copies made are marked to be edited. Returns how many copies must be
    /// edited.
    pub async fn relay_edit(
        &self,
        origin_platform: Platform,
        origin_msg_id: &str,
        body: &str,
        formatted_body: Option<&str>,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT id, status, change, content_json FROM relays \
             WHERE origin_platform = $1 AND origin_msg_id = $2",
        )
        .bind(origin_platform.as_str())
        .bind(origin_msg_id)
        .fetch_all(&mut *tx)
        .await
        .ctx("reading an edited message's copies")?;
        let mut to_edit = 0;
        for row in &rows {
            let id: i64 = col(row, "id")?;
            let status: String = col(row, "status")?;
            let change: Option<String> = col(row, "change")?;
            let json: String = col(row, "content_json")?;
            let mut content: RelayContent = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("relay {id}: content: {e}")))?;
            if content.body == body && content.formatted_body.as_deref() == formatted_body {
                continue;
            }
            content.body = body.to_owned();
            content.formatted_body = formatted_body.map(str::to_owned);
            let json = serde_json::to_string(&content)
                .map_err(|e| StoreError::Corrupt(format!("relay {id}: content: {e}")))?;
            let made = status == "posted" && matches!(change.as_deref(), None | Some("edit"));
            let sql = if made {
                "UPDATE relays SET content_json = $1, change = 'edit', edit_seq = edit_seq + 1 \
                 WHERE id = $2"
            } else {
                "UPDATE relays SET content_json = $1 WHERE id = $2"
            };
            sqlx::query(sql)
                .bind(json)
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx("recording an edit for a copy")?;
            to_edit += u64::from(made);
        }
        tx.commit().await.ctx("committing an edit's copies")?;
        Ok(to_edit)
    }

    /// The original was deleted: copies not yet made are cancelled, copies made are marked to
    /// be deleted. Returns how many copies must be deleted.
    pub async fn relay_delete(
        &self,
        origin_platform: Platform,
        origin_msg_id: &str,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE relays SET status = 'cancelled' WHERE origin_platform = $1 \
             AND origin_msg_id = $2 AND status = 'pending'",
        )
        .bind(origin_platform.as_str())
        .bind(origin_msg_id)
        .execute(&mut *tx)
        .await
        .ctx("cancelling a deleted message's copies")?;
        let marked = sqlx::query(
            "UPDATE relays SET change = 'delete' WHERE origin_platform = $1 \
             AND origin_msg_id = $2 AND status = 'posted' \
             AND (change IS NULL OR change = 'edit')",
        )
        .bind(origin_platform.as_str())
        .bind(origin_msg_id)
        .execute(&mut *tx)
        .await
        .ctx("marking a deleted message's copies")?;
        tx.commit().await.ctx("committing a deletion's copies")?;
        Ok(marked.rows_affected())
    }

    /// The original was hidden and is now unhidden: copies the hide cancelled are queued
    /// again, a copy still to be deleted is kept, and a copy deleted is queued to be made again
    /// in its next round. Returns how many copies will be made or kept.
    pub async fn relay_restore(
        &self,
        origin_platform: Platform,
        origin_msg_id: &str,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut restored = 0;
        for sql in [
            "UPDATE relays SET status = 'pending', attempts = 0, last_error = NULL \
             WHERE origin_platform = $1 AND origin_msg_id = $2 AND status = 'cancelled'",
            // If the lane is deleting it right now, `mark_relay_change_done` sees this and
            // queues the copy again.
            "UPDATE relays SET change = NULL WHERE origin_platform = $1 \
             AND origin_msg_id = $2 AND status = 'posted' AND change = 'delete'",
            "UPDATE relays SET status = 'pending', attempts = 0, last_error = NULL, \
             copy_msg_id = NULL, posted_at = NULL, change = NULL, round = round + 1 \
             WHERE origin_platform = $1 AND origin_msg_id = $2 AND status = 'posted' \
             AND change = 'deleted'",
        ] {
            restored += sqlx::query(sql)
                .bind(origin_platform.as_str())
                .bind(origin_msg_id)
                .execute(&mut *tx)
                .await
                .ctx("restoring an unhidden message's copies")?
                .rows_affected();
        }
        tx.commit()
            .await
            .ctx("committing an unhidden message's copies")?;
        Ok(restored)
    }

    /// Copies made in `room` that must still be edited or deleted, in the order they were
    /// made.
    pub async fn pending_relay_changes_in(&self, room: &RoomRef) -> Result<Vec<RelayChange>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, session_id, target_room, copy_msg_id, change, content_json, edit_seq \
             FROM relays WHERE change IN ('edit', 'delete') AND status = 'posted' \
             AND copy_msg_id IS NOT NULL AND target_room = $1 ORDER BY id",
        )
        .bind(room.to_string())
        .fetch_all(&mut *conn)
        .await
        .ctx("loading copies to edit or delete")?;
        rows.iter()
            .map(|row| {
                let id: i64 = col(row, "id")?;
                let target: String = col(row, "target_room")?;
                let change: String = col(row, "change")?;
                let json: String = col(row, "content_json")?;
                Ok(RelayChange {
                    id,
                    session_id: col(row, "session_id")?,
                    target: parse_room(&target)?,
                    copy_msg_id: col(row, "copy_msg_id")?,
                    kind: if change == "delete" {
                        ChangeKind::Delete
                    } else {
                        ChangeKind::Edit
                    },
                    content: serde_json::from_str(&json)
                        .map_err(|e| StoreError::Corrupt(format!("relay {id}: content: {e}")))?,
                    edit_seq: col(row, "edit_seq")?,
                })
            })
            .collect()
    }

    /// The copy now shows `change`: an edit done (unless a newer edit came meanwhile) or the
    /// copy deleted. A copy deleted while `unhide` restored it is queued to be made again.
    pub async fn mark_relay_change_done(&self, change: &RelayChange) -> Result<()> {
        let mut tx = self.begin_write().await?;
        match change.kind {
            ChangeKind::Edit => {
                sqlx::query(
                    "UPDATE relays SET change = NULL WHERE id = $1 AND change = 'edit' \
                     AND edit_seq = $2",
                )
                .bind(change.id)
                .bind(change.edit_seq)
                .execute(&mut *tx)
                .await
                .ctx("recording a copy brought up to date")?;
            }
            ChangeKind::Delete => {
                let deleted = sqlx::query(
                    "UPDATE relays SET change = 'deleted' WHERE id = $1 AND change = 'delete'",
                )
                .bind(change.id)
                .execute(&mut *tx)
                .await
                .ctx("recording a copy deleted")?;
                if deleted.rows_affected() == 0 {
                    sqlx::query(
                        "UPDATE relays SET status = 'pending', attempts = 0, copy_msg_id = NULL, \
                         posted_at = NULL, change = NULL, round = round + 1 \
                         WHERE id = $1 AND status = 'posted' \
                         AND (change IS NULL OR change = 'edit')",
                    )
                    .bind(change.id)
                    .execute(&mut *tx)
                    .await
                    .ctx("queueing again a copy unhidden while it was deleted")?;
                }
            }
        }
        tx.commit()
            .await
            .ctx("committing a copy brought up to date")?;
        Ok(())
    }

    /// The copy of an original in `room`, once made.
    pub async fn copy_in(
        &self,
        origin_platform: Platform,
        origin_msg_id: &str,
        room: &RoomRef,
    ) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT copy_msg_id FROM relays WHERE origin_platform = $1 AND origin_msg_id = $2 \
             AND target_room = $3 AND copy_msg_id IS NOT NULL",
        )
        .bind(origin_platform.as_str())
        .bind(origin_msg_id)
        .bind(room.to_string())
        .fetch_optional(&mut *conn)
        .await
        .ctx("finding a relayed copy")?;
        row.map(|r| col(&r, "copy_msg_id")).transpose()
    }

    /// The original a copy on `platform` was made from, if `copy_msg_id` is one of the bot's
    /// copies.
    pub async fn original_of_copy(
        &self,
        platform: Platform,
        copy_msg_id: &str,
    ) -> Result<Option<CopyOf>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT origin_platform, origin_msg_id, target_room FROM relays \
             WHERE target_platform = $1 AND copy_msg_id = $2",
        )
        .bind(platform.as_str())
        .bind(copy_msg_id)
        .fetch_optional(&mut *conn)
        .await
        .ctx("finding what a copy was made from")?;
        row.map(|r| {
            Ok(CopyOf {
                origin_platform: col_parse(&r, "origin_platform")?,
                origin_msg_id: col(&r, "origin_msg_id")?,
                copy_room: parse_room(&col::<String>(&r, "target_room")?)?,
            })
        })
        .transpose()
    }
}

fn decode_relay(row: &Row) -> Result<PendingRelay> {
    let id: i64 = col(row, "id")?;
    let json: String = col(row, "content_json")?;
    let target: String = col(row, "target_room")?;
    Ok(PendingRelay {
        id,
        session_id: col(row, "session_id")?,
        origin_msg_id: col(row, "origin_msg_id")?,
        target: parse_room(&target)?,
        content: serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("relay {id}: content: {e}")))?,
        attempts: col_u32(row, "attempts")?,
        round: col_u32(row, "round")?,
    })
}
