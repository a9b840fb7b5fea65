//! Emitting a step: the session advances and the step's posts are enqueued in one transaction.
//! Also the timeline of which point was on screen when.

use chrono::{DateTime, Utc};

use super::codec::{col, col_opt_u32, col_time, col_u32, opt_u32, to_ms, u32_arg};
use super::sessions::{bind_update, record_command_effect};
use super::{Context, Result, Store, StoreError};
use crate::ids::RoomRef;
use crate::model::{ChatSnapshot, NewPost, PostStatus, SessionId, SessionUpdate, StepEmission};

impl Store {
    /// Emits step `expected_next_step` of a session, atomically.
    ///
    /// In one transaction:
    /// 1. the session is updated with `update`, but only if its `next_step` is still
    ///    `expected_next_step` (a guarded `UPDATE … WHERE next_step = $expected`, which on
    ///    SQLite runs inside `BEGIN IMMEDIATE`, and on PostgreSQL row-locks the session);
    /// 2. one outbox row per post is inserted as pending, keyed by
    ///    `(session, expected_next_step, room)` (an existing key is left alone), in the given
    ///    order;
    /// 3. if `timeline_point` is `Some(p)`, the timeline records that step
    ///    `expected_next_step` was emitted at `now` with point `p` on screen;
    /// 4. (through [`Store::emit_steps`] only) a [`StepEmission::snapshot`] is kept as the
    ///    session's chat snapshot, unless it already has one;
    /// 5. the command making the change, if `update` names one, is recorded as having acted.
    ///
    /// Returns `Ok(true)` when all of it was committed, `Ok(false)` with nothing written when
    /// the session is missing or has already moved past (or elsewhere from) that step. So a
    /// crash between deciding and committing never skips a step, and a retry or a racing
    /// second instance never emits it twice.
    pub async fn emit_step(
        &self,
        session_id: SessionId,
        expected_next_step: u32,
        update: &SessionUpdate,
        timeline_point: Option<Option<u32>>,
        posts: &[NewPost],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let emission = StepEmission {
            session_id,
            expected_next_step,
            update: update.clone(),
            timeline_point,
            posts: posts.to_vec(),
            snapshot: None,
        };
        let applied = self
            .emit_steps(std::slice::from_ref(&emission), now)
            .await?;
        Ok(applied.first().copied().unwrap_or(false))
    }

    /// Emits several steps (of different sessions) in ONE transaction, each exactly as
    /// [`Store::emit_step`] would: a step whose guard fails writes nothing and reads `false` at
    /// its index; the others are committed together. A burst of sessions falling due at the same
    /// instant costs one commit instead of one each.
    pub async fn emit_steps(
        &self,
        emissions: &[StepEmission],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>> {
        // Serialise every post before touching the database, so a bad post writes nothing.
        let contents = emissions
            .iter()
            .map(|e| {
                e.posts
                    .iter()
                    .map(|p| serde_json::to_string(&p.content))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Invalid(format!("post content: {e}")))?;
        if emissions.is_empty() {
            return Ok(Vec::new());
        }

        let now_ms = to_ms(now);
        let mut applied = Vec::with_capacity(emissions.len());
        let mut tx = self.begin_write().await?;
        for (emission, contents) in emissions.iter().zip(contents) {
            let step = u32_arg(emission.expected_next_step);
            let session_id = emission.session_id;
            let advanced = bind_update(
                sqlx::query(
                    "UPDATE sessions SET state = $1, next_step = $2, next_due_at = $3, \
                     paused_remaining_ms = $4, current_point = $5, started_at = $6, ended_at = $7 \
                     WHERE id = $8 AND next_step = $9",
                ),
                &emission.update,
            )
            .bind(session_id)
            .bind(step)
            .execute(&mut *tx)
            .await
            .ctx("advancing a session")?;
            if advanced.rows_affected() == 0 {
                applied.push(false);
                continue;
            }

            for (position, (post, content)) in emission.posts.iter().zip(contents).enumerate() {
                sqlx::query(
                    "INSERT INTO outbox (session_id, step, room, position, platform, content_json, \
                     status, attempts, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) \
                     ON CONFLICT (session_id, step, room) DO NOTHING",
                )
                .bind(session_id)
                .bind(step)
                .bind(post.room.to_string())
                .bind(position as i64)
                .bind(post.room.platform.as_str())
                .bind(content)
                .bind(PostStatus::Pending.as_str())
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .ctx("enqueuing a post")?;
            }

            if let Some(point) = emission.timeline_point {
                sqlx::query(
                    "INSERT INTO session_timeline (session_id, step, point, emitted_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (session_id, step) DO NOTHING",
                )
                .bind(session_id)
                .bind(step)
                .bind(opt_u32(point))
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .ctx("recording the timeline")?;
            }
            if let Some(snapshot) = &emission.snapshot {
                insert_snapshot(&mut tx, session_id, snapshot, now_ms).await?;
            }
            if let Some(command) = &emission.update.command {
                record_command_effect(&mut tx, command, session_id).await?;
            }
            applied.push(true);
        }
        if applied.iter().any(|a| *a) {
            tx.commit().await.ctx("committing steps")?;
        } else {
            tx.rollback().await.ctx("rolling back")?;
        }
        Ok(applied)
    }

    /// The discussion point that was on screen at `at`: the point of the latest timeline entry
    /// emitted at or before `at` that has a point. `None` before the first point (or for an
    /// unknown session). Entries without a point (intro, wrap-up) do not clear it.
    pub async fn point_at(&self, session_id: SessionId, at: DateTime<Utc>) -> Result<Option<u32>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT point FROM session_timeline WHERE session_id = $1 AND emitted_at <= $2 \
             AND point IS NOT NULL ORDER BY emitted_at DESC, step DESC LIMIT 1",
        )
        .bind(session_id)
        .bind(to_ms(at))
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading the timeline")?;
        match row {
            Some(row) => col_opt_u32(&row, "point"),
            None => Ok(None),
        }
    }

    /// The point on screen in `room` at `at`: that of the latest step actually posted there by
    /// then (a step queued for a platform that was away counts only once it is posted). Where
    /// the platform said when it sent the post (`platform_posted_at`, Discord), that is
    /// compared with `at` on the platform's own clock; otherwise `at` may run up to `skew`
    /// ahead of the post's recorded time, since a platform stamps a message with its own clock
    /// and the post is recorded only once the platform answered.
    pub async fn point_on_screen_in(
        &self,
        session_id: SessionId,
        room: &RoomRef,
        at: DateTime<Utc>,
        skew: chrono::Duration,
    ) -> Result<Option<u32>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT t.point FROM session_timeline t JOIN outbox o \
             ON o.session_id = t.session_id AND o.step = t.step \
             WHERE t.session_id = $1 AND o.room = $2 AND o.posted_at IS NOT NULL \
             AND (o.platform_posted_at <= $4 \
                  OR (o.platform_posted_at IS NULL AND o.posted_at <= $3)) \
             AND t.point IS NOT NULL \
             ORDER BY t.step DESC LIMIT 1",
        )
        .bind(session_id)
        .bind(room.to_string())
        .bind(to_ms(at + skew))
        .bind(to_ms(at))
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading what a room was shown")?;
        match row {
            Some(row) => col_opt_u32(&row, "point"),
            None => Ok(None),
        }
    }

    /// The session's timeline: `(step, point on screen, emitted at)`, in step order.
    pub async fn timeline(
        &self,
        session_id: SessionId,
    ) -> Result<Vec<(u32, Option<u32>, DateTime<Utc>)>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT step, point, emitted_at FROM session_timeline WHERE session_id = $1 \
             ORDER BY step",
        )
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await
        .ctx("reading the timeline")?;
        rows.iter()
            .map(|r| {
                Ok((
                    col_u32(r, "step")?,
                    col_opt_u32(r, "point")?,
                    col_time(r, "emitted_at")?,
                ))
            })
            .collect()
    }
}

impl Store {
    /// The chat as it was when the session began (see [`StepEmission::snapshot`]), or `None`
    /// for a session that never started or predates snapshots.
    pub async fn session_snapshot(&self, session_id: SessionId) -> Result<Option<ChatSnapshot>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT chat_slug, title, hashtag, description, time_zone, intro, wrap_up, \
             points_json FROM session_snapshots WHERE session_id = $1",
        )
        .bind(session_id)
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading a chat snapshot")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let points_json: String = col(&row, "points_json")?;
        let points: Vec<String> = serde_json::from_str(&points_json).map_err(|e| {
            StoreError::Corrupt(format!("session {session_id}: snapshot points: {e}"))
        })?;
        Ok(Some(ChatSnapshot {
            slug: col(&row, "chat_slug")?,
            title: col(&row, "title")?,
            hashtag: col(&row, "hashtag")?,
            description: col(&row, "description")?,
            time_zone: col(&row, "time_zone")?,
            intro: col(&row, "intro")?,
            wrap_up: col(&row, "wrap_up")?,
            points,
        }))
    }
}

/// Keeps `snapshot` as the session's chat snapshot unless it has one already.
pub(crate) async fn insert_snapshot(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    session_id: SessionId,
    snapshot: &ChatSnapshot,
    now_ms: i64,
) -> Result<()> {
    let points = serde_json::to_string(&snapshot.points)
        .map_err(|e| StoreError::Invalid(format!("chat snapshot: {e}")))?;
    sqlx::query(
        "INSERT INTO session_snapshots (session_id, chat_slug, title, hashtag, description, \
         time_zone, intro, wrap_up, points_json, taken_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(snapshot.slug.as_str())
    .bind(snapshot.title.as_str())
    .bind(snapshot.hashtag.as_str())
    .bind(snapshot.description.as_str())
    .bind(snapshot.time_zone.as_str())
    .bind(snapshot.intro.as_str())
    .bind(snapshot.wrap_up.as_str())
    .bind(points)
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .ctx("keeping the chat snapshot")?;
    Ok(())
}
