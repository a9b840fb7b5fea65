//! Rooms hashchat hosts itself (the browser room): each room's numbered log of what it was
//! shown, and the browser accounts that joined it. The core keeps these for the hosting adapter
//! and never looks inside an event's body.

use chrono::{DateTime, Duration, Utc};

use super::codec::{col, col_time, to_ms};
use super::{Context, Result, Row, Store};

/// One thing a local room was shown.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalRoomEvent {
    pub room: String,
    /// 1, 2, 3… in each room, with no gaps: a reader that saw `n` has missed nothing before it.
    pub seq: i64,
    pub kind: String,
    pub session_uid: Option<String>,
    /// The one person it is for (their user id), or `None` for everyone.
    pub audience: Option<String>,
    pub body: String,
    pub at: DateTime<Utc>,
}

/// An event to append; see [`Store::append_local_event`].
#[derive(Debug, Clone, Copy)]
pub struct NewLocalEvent<'a> {
    pub room: &'a str,
    pub kind: &'a str,
    pub session_uid: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub body: &'a str,
    /// An event appended again with the same key is not appended twice.
    pub idempotency_key: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// A browser account, found by its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAccount {
    pub user_id: String,
    pub moderator: bool,
    pub blocked: bool,
}

/// What became of a request to go by a name in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameClaim {
    /// The name is theirs in the room (it may have been already).
    Granted,
    /// Someone else seen within the hold goes by it there.
    Taken,
}

/// A query on `local_room_events` reading every column [`event_from`] wants (a literal, as
/// sqlx asks of SQL).
macro_rules! select_events {
    ($rest:literal) => {
        concat!(
            "SELECT room, seq, kind, session_uid, audience, body, at FROM local_room_events ",
            $rest
        )
    };
}

fn event_from(row: &Row) -> Result<LocalRoomEvent> {
    Ok(LocalRoomEvent {
        room: col(row, "room")?,
        seq: col(row, "seq")?,
        kind: col(row, "kind")?,
        session_uid: col(row, "session_uid")?,
        audience: col(row, "audience")?,
        body: col(row, "body")?,
        at: col_time(row, "at")?,
    })
}

impl Store {
    /// Appends `event` to its room's log and returns its number and whether it is new: an
    /// event whose idempotency key is already in the log is not appended again, and the number
    /// it was given then is returned.
    pub async fn append_local_event(&self, event: NewLocalEvent<'_>) -> Result<(i64, bool)> {
        let mut tx = self.begin_write().await?;
        if let Some(key) = event.idempotency_key {
            let existing: Option<(i64,)> =
                sqlx::query_as("SELECT seq FROM local_room_events WHERE idempotency_key = $1")
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("looking up a local room event by key")?;
            if let Some((seq,)) = existing {
                return Ok((seq, false));
            }
        }
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO local_room_heads (room, last_seq) VALUES ($1, 1) \
             ON CONFLICT (room) DO UPDATE SET last_seq = local_room_heads.last_seq + 1 \
             RETURNING last_seq",
        )
        .bind(event.room)
        .fetch_one(&mut *tx)
        .await
        .ctx("numbering a local room event")?;
        sqlx::query(
            "INSERT INTO local_room_events \
             (room, seq, kind, session_uid, audience, body, idempotency_key, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(event.room)
        .bind(seq)
        .bind(event.kind)
        .bind(event.session_uid)
        .bind(event.audience)
        .bind(event.body)
        .bind(event.idempotency_key)
        .bind(to_ms(event.at))
        .execute(&mut *tx)
        .await
        .ctx("appending a local room event")?;
        tx.commit().await.ctx("committing a local room event")?;
        Ok((seq, true))
    }

    /// Up to `limit` events of `room` numbered after `after`, in order.
    pub async fn local_events_after(
        &self,
        room: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<LocalRoomEvent>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(select_events!(
            "WHERE room = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        ))
        .bind(room)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .ctx("reading a local room's events")?;
        rows.iter().map(event_from).collect()
    }

    /// Every event of session `uid` in `room`, in order.
    pub async fn local_events_of_session(
        &self,
        room: &str,
        uid: &str,
    ) -> Result<Vec<LocalRoomEvent>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(select_events!(
            "WHERE room = $1 AND session_uid = $2 \
             ORDER BY seq"
        ))
        .bind(room)
        .bind(uid)
        .fetch_all(&mut *conn)
        .await
        .ctx("reading a session's local room events")?;
        rows.iter().map(event_from).collect()
    }

    /// Event `seq` of `room`.
    pub async fn local_event(&self, room: &str, seq: i64) -> Result<Option<LocalRoomEvent>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(select_events!("WHERE room = $1 AND seq = $2"))
            .bind(room)
            .bind(seq)
            .fetch_optional(&mut *conn)
            .await
            .ctx("reading a local room event")?;
        row.as_ref().map(event_from).transpose()
    }

    /// The number of the event appended with `idempotency_key`, if there is one.
    pub async fn local_event_by_key(&self, idempotency_key: &str) -> Result<Option<i64>> {
        let mut conn = self.conn().await?;
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT seq FROM local_room_events WHERE idempotency_key = $1")
                .bind(idempotency_key)
                .fetch_optional(&mut *conn)
                .await
                .ctx("looking up a local room event by key")?;
        Ok(row.map(|(seq,)| seq))
    }

    /// The number of `room`'s latest event, 0 before its first.
    pub async fn local_room_head(&self, room: &str) -> Result<i64> {
        let mut conn = self.conn().await?;
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT last_seq FROM local_room_heads WHERE room = $1")
                .bind(room)
                .fetch_optional(&mut *conn)
                .await
                .ctx("reading a local room's head")?;
        Ok(row.map_or(0, |(seq,)| seq))
    }

    /// Creates an account for the token whose hash is `token_hash`.
    pub async fn create_local_account(
        &self,
        token_hash: &str,
        user_id: &str,
        moderator: bool,
    ) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO local_accounts (token_hash, user_id, moderator, blocked, created_at) \
             VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(i64::from(moderator))
        .bind(to_ms(Utc::now()))
        .execute(&mut *conn)
        .await
        .ctx("creating a local account")?;
        Ok(())
    }

    /// The account whose token hashes to `token_hash`.
    pub async fn local_account(&self, token_hash: &str) -> Result<Option<LocalAccount>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT user_id, moderator, blocked FROM local_accounts WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading a local account")?;
        row.map(|row| {
            Ok(LocalAccount {
                user_id: col(&row, "user_id")?,
                moderator: col::<i64>(&row, "moderator")? != 0,
                blocked: col::<i64>(&row, "blocked")? != 0,
            })
        })
        .transpose()
    }

    /// Makes account `user_id` a moderator (signed in with the moderators' secret).
    pub async fn make_local_moderator(&self, user_id: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query("UPDATE local_accounts SET moderator = 1 WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *conn)
            .await
            .ctx("making a local moderator")?;
        Ok(())
    }

    /// Blocks (or unblocks) account `user_id`; whether there is such an account.
    pub async fn set_local_blocked(&self, user_id: &str, blocked: bool) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE local_accounts SET blocked = $1 WHERE user_id = $2")
            .bind(i64::from(blocked))
            .bind(user_id)
            .execute(&mut *conn)
            .await
            .ctx("blocking a local account")?;
        Ok(done.rows_affected() > 0)
    }

    /// `user_id` asks to go by `display_name` (compared as `name_key`) in `room` at `now`. A
    /// name is held by whoever was seen in the room under it within `hold`; after that it is
    /// free to claim again.
    pub async fn claim_local_name(
        &self,
        room: &str,
        user_id: &str,
        display_name: &str,
        name_key: &str,
        now: DateTime<Utc>,
        hold: Duration,
    ) -> Result<NameClaim> {
        let mut tx = self.begin_write().await?;
        let holder: Option<(String, i64)> = sqlx::query_as(
            "SELECT user_id, last_seen FROM local_members WHERE room = $1 AND name_key = $2",
        )
        .bind(room)
        .bind(name_key)
        .fetch_optional(&mut *tx)
        .await
        .ctx("looking up a name in a local room")?;
        if let Some((holder, last_seen)) = holder {
            if holder != user_id && last_seen > to_ms(now - hold) {
                return Ok(NameClaim::Taken);
            }
            if holder != user_id {
                sqlx::query("DELETE FROM local_members WHERE room = $1 AND user_id = $2")
                    .bind(room)
                    .bind(&holder)
                    .execute(&mut *tx)
                    .await
                    .ctx("freeing a name no one holds any more")?;
            }
        }
        sqlx::query(
            "INSERT INTO local_members (room, user_id, display_name, name_key, last_seen) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (room, user_id) DO UPDATE SET display_name = $3, name_key = $4, \
             last_seen = $5",
        )
        .bind(room)
        .bind(user_id)
        .bind(display_name)
        .bind(name_key)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await
        .ctx("claiming a name in a local room")?;
        tx.commit().await.ctx("committing a name claim")?;
        Ok(NameClaim::Granted)
    }

    /// The name `user_id` goes by in `room`, marking them seen at `now`.
    pub async fn touch_local_member(
        &self,
        room: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE local_members SET last_seen = $3 WHERE room = $1 AND user_id = $2 \
             RETURNING display_name",
        )
        .bind(room)
        .bind(user_id)
        .bind(to_ms(now))
        .fetch_optional(&mut *conn)
        .await
        .ctx("marking a local room member seen")?;
        Ok(row.map(|(name,)| name))
    }
}
