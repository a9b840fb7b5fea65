//! Sessions and the rooms they run in.

use std::collections::HashMap;

use chrono::Utc;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Transaction};

use super::codec::{
    col, col_opt_time, col_opt_u32, col_parse, col_time, col_u32, opt_ms, opt_u32, parse_room,
    to_ms, u32_arg,
};
use super::{Context, Result, Row, Store, StoreError};
use crate::ids::{RoomRef, UserRef};
use crate::model::{CommandKey, NewSession, Session, SessionId, SessionSummary, SessionUpdate};

/// The session columns, in the order [`decode_session`] reads them (by name).
macro_rules! session_cols {
    () => {
        "s.id, s.uid, s.chat_slug, s.state, s.origin, s.scheduled_start, s.started_at, s.ended_at, \
         s.next_step, s.next_due_at, s.paused_remaining_ms, s.current_point"
    };
}

/// The session columns, for queries built at run time.
pub(super) const SESSION_COLS: &str = session_cols!();

/// A query for sessions matching `$where` (over alias `s`), and the matching query for their
/// rooms, so both read the same set.
macro_rules! session_queries {
    ($where:literal, $order:literal) => {
        (
            concat!(
                "SELECT ",
                session_cols!(),
                " FROM sessions s WHERE ",
                $where,
                " ORDER BY ",
                $order
            ),
            concat!(
                "SELECT r.session_id, r.room FROM session_rooms r \
                 JOIN sessions s ON s.id = r.session_id WHERE ",
                $where,
                " ORDER BY r.session_id, r.position"
            ),
        )
    };
}

// Imported sessions are archives from elsewhere: never resumed, whatever state they were in.
const ACTIVE: (&str, &str) = session_queries!(
    "s.state IN ('scheduled', 'announced', 'running', 'paused') AND s.origin <> 'import'",
    "s.id"
);
const BY_ID: (&str, &str) = session_queries!("s.id = $1", "s.id");
const BY_UID: &str = concat!(
    "SELECT ",
    session_cols!(),
    " FROM sessions s WHERE s.uid = $1"
);

const UPCOMING: &str = concat!(
    "SELECT ",
    session_cols!(),
    " FROM sessions s WHERE s.state IN ('scheduled', 'announced') AND s.origin <> 'import' \
     ORDER BY s.scheduled_start, s.id LIMIT $1"
);
const UPCOMING_ROOMS: &str = "SELECT r.session_id, r.room FROM session_rooms r \
     JOIN sessions s ON s.id = r.session_id WHERE s.state IN ('scheduled', 'announced') \
     AND s.origin <> 'import' \
     ORDER BY r.session_id, r.position";

const LIST: &str = concat!(
    "SELECT ",
    session_cols!(),
    ", (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id AND m.deleted_at IS NULL) \
     AS message_count FROM sessions s ORDER BY s.scheduled_start DESC, s.id DESC"
);
const ALL_ROOMS: &str =
    "SELECT r.session_id, r.room FROM session_rooms r ORDER BY r.session_id, r.position";

/// The advisory lock PostgreSQL sessions are numbered under (any constant of ours will do).
const SESSION_NUMBER_LOCK: i64 = 0x6861_7368_6368_6174; // "hashchat"

impl Store {
    /// Records who started session `id` by command (the first to do so stays its host).
    pub async fn set_session_host(&self, id: SessionId, user: &UserRef, name: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE sessions SET host_user = $2, host_name = $3 WHERE id = $1 AND host_user IS NULL",
        )
        .bind(id)
        .bind(user.to_string())
        .bind(name)
        .execute(&mut *conn)
        .await
        .ctx("recording who started a session")?;
        Ok(())
    }

    /// Who started session `id` by command (`platform:user`, their name then), if anyone did.
    pub async fn session_host(&self, id: SessionId) -> Result<Option<(String, String)>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query("SELECT host_user, host_name FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .ctx("reading who started a session")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user: Option<String> = col(&row, "host_user")?;
        let name: Option<String> = col(&row, "host_name")?;
        Ok(user.map(|u| {
            let name = name.unwrap_or_else(|| u.clone());
            (u, name)
        }))
    }

    /// The number the next session takes: one more than the highest. Sessions are numbered by
    /// hand, not by the database's counter, because the number is what people see (`session
    /// 3`, `transcript 3`) and a counter leaves gaps: an insert that finds its occurrence
    /// already stored, or a transaction rolled back, still uses one up. A SQLite write
    /// transaction already excludes every other writer; on PostgreSQL a transaction-scoped
    /// advisory lock makes concurrent creators take turns (sessions are created rarely).
    pub(super) async fn next_session_id(
        &self,
        tx: &mut Transaction<'static, Any>,
    ) -> Result<SessionId> {
        if self.backend == super::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(SESSION_NUMBER_LOCK)
                .execute(&mut **tx)
                .await
                .ctx("waiting for the next session number")?;
        }
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM sessions")
            .fetch_one(&mut **tx)
            .await
            .ctx("finding the next session number")?;
        col(&row, "next")
    }

    /// Stores a new session with its rooms (kept in the given order) and returns its id.
    ///
    /// For [`SessionOrigin::Recurrence`] this is idempotent on `(chat_slug, scheduled_start)`:
    /// if that occurrence is already stored (whatever its state now), its id is returned and
    /// nothing is written, even when two schedulers race. Sessions created by command are
    /// always new. `created_at` is the wall-clock time of the call.
    pub async fn create_session(&self, new: &NewSession) -> Result<SessionId> {
        let mut tx = self.begin_write().await?;
        let id = self.next_session_id(&mut tx).await?;
        let inserted: Option<Row> = sqlx::query(
            "INSERT INTO sessions (id, chat_slug, state, origin, scheduled_start, next_step, \
             next_due_at, created_at, uid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (chat_slug, scheduled_start) WHERE origin = 'recurrence' DO NOTHING \
             RETURNING id",
        )
        .bind(id)
        .bind(new.chat_slug.as_str())
        .bind(new.state.as_str())
        .bind(new.origin.as_str())
        .bind(to_ms(new.scheduled_start))
        .bind(u32_arg(new.next_step))
        .bind(opt_ms(new.next_due_at))
        .bind(to_ms(Utc::now()))
        .bind(new_uid())
        .fetch_optional(&mut *tx)
        .await
        .ctx("inserting a session")?;

        let Some(row) = inserted else {
            // Only a recurrence can conflict: hand back the occurrence already stored.
            let existing: Option<Row> = sqlx::query(
                "SELECT id FROM sessions WHERE chat_slug = $1 AND scheduled_start = $2 \
                 AND origin = 'recurrence'",
            )
            .bind(new.chat_slug.as_str())
            .bind(to_ms(new.scheduled_start))
            .fetch_optional(&mut *tx)
            .await
            .ctx("finding an existing recurrence session")?;
            tx.commit().await.ctx("committing")?;
            return match existing {
                Some(row) => col(&row, "id"),
                None => Err(StoreError::Corrupt(format!(
                    "session for `{}` at {} conflicted but cannot be found",
                    new.chat_slug, new.scheduled_start
                ))),
            };
        };
        let id: SessionId = col(&row, "id")?;
        for (position, room) in new.rooms.iter().enumerate() {
            sqlx::query(
                "INSERT INTO session_rooms (session_id, position, room) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(room.to_string())
            .execute(&mut *tx)
            .await
            .ctx("inserting a session room")?;
        }
        if let Some(command) = &new.command {
            record_command_effect(&mut tx, command, id).await?;
        }
        tx.commit().await.ctx("committing a new session")?;
        Ok(id)
    }

    /// The session with this id, with its rooms, or `None`.
    pub async fn get_session(&self, id: SessionId) -> Result<Option<Session>> {
        let mut conn = self.conn().await?;
        let mut found = load_sessions(&mut conn, BY_ID.0, BY_ID.1, Some(id), true).await?;
        Ok(found.pop().map(|(s, _)| s))
    }

    /// The session with this uid, with its rooms, or `None`.
    pub async fn find_session_by_uid(&self, uid: &str) -> Result<Option<Session>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(BY_UID)
            .bind(uid)
            .fetch_optional(&mut *conn)
            .await
            .ctx("finding a session by uid")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: SessionId = col(&row, "id")?;
        drop(conn);
        self.get_session(id).await
    }

    /// Sessions not finished (scheduled, announced, running, paused), ordered by id: what the
    /// scheduler resumes after a restart.
    pub async fn active_sessions(&self) -> Result<Vec<Session>> {
        let mut conn = self.conn().await?;
        let found = load_sessions(&mut conn, ACTIVE.0, ACTIVE.1, None, false).await?;
        Ok(found.into_iter().map(|(s, _)| s).collect())
    }

    /// Up to `limit` sessions that have not started (scheduled or announced), soonest first.
    pub async fn upcoming_sessions(&self, limit: usize) -> Result<Vec<Session>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn().await?;
        let found = load_sessions(&mut conn, UPCOMING, UPCOMING_ROOMS, Some(limit), false).await?;
        Ok(found.into_iter().map(|(s, _)| s).collect())
    }

    /// Every session, newest `scheduled_start` first, each with the number of archived
    /// messages that are not deleted.
    pub async fn list_sessions(&self) -> Result<Vec<SessionSummary>> {
        let mut conn = self.conn().await?;
        load_sessions(&mut conn, LIST, ALL_ROOMS, None, false)
            .await?
            .into_iter()
            .map(|(session, row)| {
                Ok(SessionSummary {
                    session,
                    message_count: col(&row, "message_count")?,
                })
            })
            .collect()
    }

    /// Overwrites the session's mutable fields with `update`, unconditionally. Returns whether
    /// the session exists. To advance a step, use [`Store::emit_step`], which is guarded.
    pub async fn update_session(&self, id: SessionId, update: &SessionUpdate) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = bind_update(
            sqlx::query(
                "UPDATE sessions SET state = $1, next_step = $2, next_due_at = $3, \
                 paused_remaining_ms = $4, current_point = $5, started_at = $6, ended_at = $7 \
                 WHERE id = $8",
            ),
            update,
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("updating a session")?;
        let exists = done.rows_affected() > 0;
        if let (true, Some(command)) = (exists, &update.command) {
            record_command_effect(&mut tx, command, id).await?;
        }
        tx.commit().await.ctx("committing a session update")?;
        Ok(exists)
    }

    /// The session `command` changed, if it already acted (see [`CommandKey`]).
    pub async fn session_changed_by(&self, command: &CommandKey) -> Result<Option<Session>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT session_id FROM command_effects WHERE platform = $1 AND platform_msg_id = $2",
        )
        .bind(command.platform.as_str())
        .bind(command.platform_msg_id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading what a command did")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: SessionId = col(&row, "session_id")?;
        drop(conn);
        self.get_session(id).await
    }
}

/// Notes, inside the transaction making a command's change, that `command` acted on
/// `session`. A command makes its changes one after another (`stop` updates the session, then
/// emits the wrap-up): the first one records it.
pub(crate) async fn record_command_effect(
    tx: &mut Transaction<'static, Any>,
    command: &CommandKey,
    session: SessionId,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO command_effects (platform, platform_msg_id, session_id, applied_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (platform, platform_msg_id) DO NOTHING",
    )
    .bind(command.platform.as_str())
    .bind(command.platform_msg_id.as_str())
    .bind(session)
    .bind(to_ms(Utc::now()))
    .execute(&mut **tx)
    .await
    .ctx("recording what a command did")?;
    Ok(())
}

/// Binds `$1..=$7` of a session UPDATE in the order `state, next_step, next_due_at,
/// paused_remaining_ms, current_point, started_at, ended_at`.
pub(crate) fn bind_update<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    u: &SessionUpdate,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    q.bind(u.state.as_str())
        .bind(u32_arg(u.next_step))
        .bind(opt_ms(u.next_due_at))
        .bind(u.paused_remaining_ms)
        .bind(opt_u32(u.current_point))
        .bind(opt_ms(u.started_at))
        .bind(opt_ms(u.ended_at))
}

/// Runs a session query (binding `arg` as `$1` if given) and its rooms query (binding the same
/// `arg` only if `rooms_take_arg`), and assembles the sessions in the session query's order.
/// Sessions and their rooms are written in one transaction, so a session read here always has
/// its rooms.
async fn load_sessions(
    conn: &mut PoolConnection<Any>,
    sessions_sql: &'static str,
    rooms_sql: &'static str,
    arg: Option<i64>,
    rooms_take_arg: bool,
) -> Result<Vec<(Session, Row)>> {
    let mut q = sqlx::query(sessions_sql);
    if let Some(a) = arg {
        q = q.bind(a);
    }
    let rows = q.fetch_all(&mut **conn).await.ctx("loading sessions")?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }

    let mut rq = sqlx::query(rooms_sql);
    if let Some(a) = arg.filter(|_| rooms_take_arg) {
        rq = rq.bind(a);
    }
    let room_rows = rq
        .fetch_all(&mut **conn)
        .await
        .ctx("loading session rooms")?;
    let mut rooms: HashMap<SessionId, Vec<RoomRef>> = HashMap::new();
    for r in &room_rows {
        let sid: SessionId = col(r, "session_id")?;
        let text: String = col(r, "room")?;
        rooms.entry(sid).or_default().push(parse_room(&text)?);
    }

    rows.into_iter()
        .map(|row| {
            let id: SessionId = col(&row, "id")?;
            let session = decode_session(&row, rooms.remove(&id).unwrap_or_default())?;
            Ok((session, row))
        })
        .collect()
}

pub(super) fn decode_session(row: &Row, rooms: Vec<RoomRef>) -> Result<Session> {
    let id: SessionId = col(row, "id")?;
    let corrupt = |e: StoreError| match e {
        StoreError::Corrupt(m) => StoreError::Corrupt(format!("session {id}: {m}")),
        other => other,
    };
    (|| {
        Ok(Session {
            id,
            uid: col(row, "uid")?,
            chat_slug: col(row, "chat_slug")?,
            state: col_parse(row, "state")?,
            origin: col_parse(row, "origin")?,
            scheduled_start: col_time(row, "scheduled_start")?,
            started_at: col_opt_time(row, "started_at")?,
            ended_at: col_opt_time(row, "ended_at")?,
            next_step: col_u32(row, "next_step")?,
            next_due_at: col_opt_time(row, "next_due_at")?,
            paused_remaining_ms: col(row, "paused_remaining_ms")?,
            current_point: col_opt_u32(row, "current_point")?,
            rooms,
        })
    })()
    .map_err(corrupt)
}

/// A fresh session uid: 128 random bits as 32 lowercase hex digits.
pub(crate) fn new_uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
