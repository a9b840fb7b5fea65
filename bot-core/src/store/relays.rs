//! The relay outbox and the map from each original message to its copies (see the
//! `relays` migration).

use chrono::{DateTime, Utc};

use super::codec::{col, col_parse, col_u32, parse_room, to_ms};
use super::{Context, Result, Row, Store, StoreError};
use crate::ids::{Platform, RoomRef};
use crate::model::{NewRelay, PendingRelay, PostStatus};

/// What a copy is a copy of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOf {
    pub origin_platform: Platform,
    pub origin_msg_id: String,
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
            "SELECT id, session_id, origin_msg_id, target_room, content_json, attempts \
             FROM relays WHERE status = 'pending' ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await
        .ctx("loading pending relays")?;
        rows.iter().map(decode_relay).collect()
    }

    /// Records the copy made for relay `id`.
    pub async fn mark_relayed(&self, id: i64, copy_msg_id: &str, at: DateTime<Utc>) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE relays SET status = 'posted', copy_msg_id = $1, posted_at = $2, \
             last_error = NULL WHERE id = $3",
        )
        .bind(copy_msg_id)
        .bind(to_ms(at))
        .bind(id)
        .execute(&mut *conn)
        .await
        .ctx("recording a relayed copy")?;
        Ok(())
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
            "SELECT origin_platform, origin_msg_id FROM relays \
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
    })
}
