//! Delivery of the posts [`Store::emit_step`] enqueued.

use chrono::{DateTime, Utc};

use super::codec::{col, col_opt_time, col_parse, col_time, col_u32, parse_room, to_ms, u32_arg};
use super::{Context, Result, Row, Store, StoreError};
use crate::ids::{Platform, RoomRef};
use crate::model::{OutboxPost, PostStatus, SessionId};

macro_rules! select_posts {
    ($rest:literal) => {
        concat!(
            "SELECT session_id, step, room, content_json, status, attempts, platform_msg_id, \
             created_at, posted_at FROM outbox ",
            $rest
        )
    };
}

impl Store {
    /// Every post still to make, in the order to make them: by session, step, then the room
    /// order the step gave.
    pub async fn pending_posts(&self) -> Result<Vec<OutboxPost>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(select_posts!(
            "WHERE status = 'pending' ORDER BY session_id, step, position"
        ))
        .fetch_all(&mut *conn)
        .await
        .ctx("loading pending posts")?;
        rows.iter().map(decode_post).collect()
    }

    /// [`Store::pending_posts`] for one room.
    pub async fn pending_posts_in(&self, room: &RoomRef) -> Result<Vec<OutboxPost>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(select_posts!(
            "WHERE status = 'pending' AND room = $1 ORDER BY session_id, step, position"
        ))
        .bind(room.to_string())
        .fetch_all(&mut *conn)
        .await
        .ctx("loading a room's pending posts")?;
        rows.iter().map(decode_post).collect()
    }

    /// Every room with a post, a copy or a change to a copy still to make.
    pub async fn rooms_with_pending_work(&self) -> Result<Vec<RoomRef>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT room FROM outbox WHERE status = 'pending' \
             UNION SELECT target_room AS room FROM relays WHERE status = 'pending' \
             OR (status = 'posted' AND change IN ('edit', 'delete'))",
        )
        .fetch_all(&mut *conn)
        .await
        .ctx("finding rooms with posts to make")?;
        rows.iter()
            .map(|row| parse_room(&col::<String>(row, "room")?))
            .collect()
    }

    /// Every post of a session, whatever its status, in the same order as
    /// [`Store::pending_posts`].
    pub async fn posts_for_session(&self, session_id: SessionId) -> Result<Vec<OutboxPost>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(select_posts!(
            "WHERE session_id = $1 ORDER BY session_id, step, position"
        ))
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await
        .ctx("loading a session's posts")?;
        rows.iter().map(decode_post).collect()
    }

    /// Records that a post was made, with the platform's id for it. Returns whether the post
    /// exists. Marking it again (a retried report) just overwrites the id and time.
    pub async fn mark_posted(
        &self,
        session_id: SessionId,
        step: u32,
        room: &RoomRef,
        platform_msg_id: &str,
        at: DateTime<Utc>,
        platform_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE outbox SET status = 'posted', platform_msg_id = $1, posted_at = $2, \
             last_error = NULL, platform_posted_at = $6 \
             WHERE session_id = $3 AND step = $4 AND room = $5",
        )
        .bind(platform_msg_id)
        .bind(to_ms(at))
        .bind(session_id)
        .bind(u32_arg(step))
        .bind(room.to_string())
        .bind(platform_at.map(to_ms))
        .execute(&mut *conn)
        .await
        .ctx("marking a post as posted")?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a failed attempt at a pending post: `attempts` goes up by one and `error` is
    /// kept; with `give_up` the post becomes [`PostStatus::Failed`] and leaves the pending
    /// list. Returns whether a pending post was found (a post already made is not touched).
    pub async fn mark_attempt_failed(
        &self,
        session_id: SessionId,
        step: u32,
        room: &RoomRef,
        error: &str,
        give_up: bool,
    ) -> Result<bool> {
        let status = if give_up {
            PostStatus::Failed
        } else {
            PostStatus::Pending
        };
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, status = $2 \
             WHERE session_id = $3 AND step = $4 AND room = $5 AND status = 'pending'",
        )
        .bind(error)
        .bind(status.as_str())
        .bind(session_id)
        .bind(u32_arg(step))
        .bind(room.to_string())
        .execute(&mut *conn)
        .await
        .ctx("recording a failed post")?;
        Ok(done.rows_affected() > 0)
    }

    /// The post the platform knows as `platform_msg_id`, if the bot made it: how a reply to
    /// one of the bot's points is attributed to that point.
    pub async fn find_post_by_platform_id(
        &self,
        platform: Platform,
        platform_msg_id: &str,
    ) -> Result<Option<OutboxPost>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(select_posts!(
            "WHERE platform = $1 AND platform_msg_id = $2 ORDER BY session_id, step, position \
             LIMIT 1"
        ))
        .bind(platform.as_str())
        .bind(platform_msg_id)
        .fetch_optional(&mut *conn)
        .await
        .ctx("finding a post by its platform id")?;
        row.as_ref().map(decode_post).transpose()
    }
}

fn decode_post(row: &Row) -> Result<OutboxPost> {
    let session_id: SessionId = col(row, "session_id")?;
    let step = col_u32(row, "step")?;
    let corrupt = |m: String| StoreError::Corrupt(format!("post ({session_id}, {step}): {m}"));
    let room_text: String = col(row, "room")?;
    let json: String = col(row, "content_json")?;
    Ok(OutboxPost {
        session_id,
        step,
        room: parse_room(&room_text)?,
        content: serde_json::from_str(&json).map_err(|e| corrupt(format!("content: {e}")))?,
        status: col_parse(row, "status")?,
        attempts: col_u32(row, "attempts")?,
        platform_msg_id: col(row, "platform_msg_id")?,
        created_at: col_time(row, "created_at")?,
        posted_at: col_opt_time(row, "posted_at")?,
    })
}
