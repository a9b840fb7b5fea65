//! Importing a transcript document: the inverse of [`crate::transcript::build`].

use chrono::Utc;

use super::codec::{col, opt_ms, opt_u32, to_ms, u32_arg};
use super::steps::insert_snapshot;
use super::{Context, Result, Store, StoreError};
use crate::ids::{Platform, RoomRef};
use crate::model::{ChatSnapshot, PostContent, PostKind, SessionId, SessionOrigin, SessionState};
use crate::transcript::{json::check, Transcript};

impl Store {
    /// Stores a transcript as a new session and returns its id, in ONE transaction: the
    /// session (its uid kept, its state as in the document, its next step past the wrap-up and
    /// nothing due, so the scheduler never touches it; origin `import`), its rooms, the chat
    /// snapshot, a timeline entry for the intro, each posted point and the wrap-up, an outbox
    /// row (status posted) per post, and the messages with their points, earlier texts and
    /// attachments. Building the transcript of the new session gives the document back.
    ///
    /// Curation comes along: notes, highlights and hidden messages as they were, and the
    /// author of a withheld message is recorded as opted out here too.
    ///
    /// Refused, with nothing written: a document that does not hold together
    /// ([`crate::transcript::json::check`], [`StoreError::Invalid`]); a uid already here ([`StoreError::AlreadyImported`]); a
    /// message whose platform id is already archived ([`StoreError::Conflict`]).
    pub async fn import_transcript(&self, t: &Transcript) -> Result<SessionId> {
        let mut problems: Vec<String> = check(t).iter().map(ToString::to_string).collect();
        let people = t
            .notes
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("notes[{i}].by"), &n.by))
            .chain(
                t.highlights
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (format!("highlights[{i}].by"), &h.by)),
            );
        for (path, by) in people {
            if let Err(e) = by.parse::<crate::ids::UserRef>() {
                problems.push(format!("{path}: {e}"));
            }
        }
        if !problems.is_empty() {
            return Err(StoreError::Invalid(problems.join("\n")));
        }
        let state: SessionState = t
            .session
            .state
            .parse()
            .map_err(|e| StoreError::Invalid(format!("session.state: {e}")))?;
        let rooms = t
            .session
            .rooms
            .iter()
            .map(|r| r.parse::<RoomRef>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Invalid(format!("session.rooms: {e}")))?;
        let n = t.points.len() as u32;
        let snapshot = ChatSnapshot {
            slug: t.chat.slug.clone(),
            title: t.chat.title.clone(),
            hashtag: t.chat.hashtag.clone(),
            description: t.chat.description.clone(),
            time_zone: t.chat.time_zone.clone(),
            intro: t.intro.clone().unwrap_or_default(),
            wrap_up: t.wrap_up.clone().unwrap_or_default(),
            points: t.points.iter().map(|p| p.text.clone()).collect(),
        };
        let now_ms = to_ms(Utc::now());

        let mut tx = self.begin_write().await?;
        let existing = sqlx::query("SELECT id FROM sessions WHERE uid = $1")
            .bind(t.session.uid.as_str())
            .fetch_optional(&mut *tx)
            .await
            .ctx("looking for the session's uid")?;
        if let Some(row) = existing {
            let session: SessionId = col(&row, "id")?;
            tx.rollback().await.ctx("rolling back")?;
            return Err(StoreError::AlreadyImported {
                uid: t.session.uid.clone(),
                session,
            });
        }

        let current_point = t
            .points
            .iter()
            .rev()
            .find(|p| p.posted_at.is_some())
            .map(|p| p.number);
        let id = self.next_session_id(&mut tx).await?;
        let row = sqlx::query(
            "INSERT INTO sessions (id, chat_slug, state, origin, scheduled_start, started_at, \
             ended_at, next_step, next_due_at, paused_remaining_ms, current_point, created_at, uid, \
             link_label, link_url, host_user, host_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, $9, $10, $11, $12, $13, $14, $15) \
             RETURNING id",
        )
        .bind(id)
        .bind(t.chat.slug.as_str())
        .bind(state.as_str())
        .bind(SessionOrigin::Import.as_str())
        .bind(to_ms(t.session.scheduled_start))
        .bind(opt_ms(t.session.started_at))
        .bind(opt_ms(t.session.ended_at))
        .bind(u32_arg(n + 3))
        .bind(opt_u32(current_point))
        .bind(now_ms)
        .bind(t.session.uid.as_str())
        .bind(t.session.link.as_ref().map(|l| l.label.as_str()))
        .bind(t.session.link.as_ref().map(|l| l.url.as_str()))
        .bind(t.session.host.as_ref().map(|h| h.id.as_str()))
        .bind(t.session.host.as_ref().map(|h| h.name.as_str()))
        .fetch_one(&mut *tx)
        .await
        .ctx("inserting an imported session")?;
        let id: SessionId = col(&row, "id")?;

        for (position, room) in rooms.iter().enumerate() {
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
        insert_snapshot(&mut tx, id, &snapshot, now_ms).await?;

        // The timeline: what the transcript reads back as "intro posted", each point's
        // posted_at, and "wrap-up posted".
        let fallback_at = t.session.started_at.unwrap_or(t.session.scheduled_start);
        let mut timeline: Vec<(u32, Option<u32>, i64)> = Vec::new();
        if t.intro.is_some() {
            timeline.push((1, None, to_ms(fallback_at)));
        }
        for p in &t.points {
            if let Some(at) = p.posted_at {
                timeline.push((p.number + 1, Some(p.number), to_ms(at)));
            }
        }
        if t.wrap_up.is_some() {
            timeline.push((
                n + 2,
                None,
                to_ms(t.session.ended_at.unwrap_or(fallback_at)),
            ));
        }
        for (step, point, at) in timeline {
            sqlx::query(
                "INSERT INTO session_timeline (session_id, step, point, emitted_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(u32_arg(step))
            .bind(opt_u32(point))
            .bind(at)
            .execute(&mut *tx)
            .await
            .ctx("recording an imported timeline")?;
        }

        let mut position_in_step: std::collections::HashMap<u32, i64> = Default::default();
        for post in &t.posts {
            let (kind, step, text) = match (post.kind.as_str(), post.point) {
                ("reminder", _) => (PostKind::Reminder, 0, String::new()),
                ("intro", _) => (PostKind::Intro, 1, snapshot.intro.clone()),
                ("point", Some(k)) => (
                    PostKind::Point { number: k },
                    k + 1,
                    snapshot.points[k as usize - 1].clone(),
                ),
                _ => (PostKind::WrapUp, n + 2, snapshot.wrap_up.clone()),
            };
            let room: RoomRef = post
                .room
                .parse()
                .map_err(|e| StoreError::Invalid(format!("posts: room: {e}")))?;
            let content = serde_json::to_string(&PostContent {
                kind,
                hashtag: t.chat.hashtag.clone(),
                text,
                mentions: Vec::new(),
            })
            .map_err(|e| StoreError::Invalid(format!("post content: {e}")))?;
            let position = position_in_step.entry(step).or_default();
            sqlx::query(
                "INSERT INTO outbox (session_id, step, room, position, platform, content_json, \
                 status, attempts, platform_msg_id, created_at, posted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'posted', 1, $7, $8, $8)",
            )
            .bind(id)
            .bind(u32_arg(step))
            .bind(room.to_string())
            .bind(*position)
            .bind(room.platform.as_str())
            .bind(content)
            .bind(post.platform_message_id.as_str())
            .bind(to_ms(post.posted_at))
            .execute(&mut *tx)
            .await
            .ctx("inserting an imported post")?;
            *position += 1;
        }

        let mut message_ids: std::collections::HashMap<String, i64> =
            std::collections::HashMap::new();
        for m in &t.messages {
            let platform: Platform = m
                .platform
                .parse()
                .map_err(|e| StoreError::Invalid(format!("messages: platform: {e}")))?;
            let inserted = sqlx::query(
                "INSERT INTO messages (session_id, point, platform, room, platform_msg_id, \
                 author_id, author_name, avatar_url, body, formatted_body, sent_at, reply_to, \
                 edited_at, platform_label, permalink) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (platform, platform_msg_id) DO NOTHING RETURNING id",
            )
            .bind(id)
            .bind(opt_u32(m.point))
            .bind(platform.as_str())
            .bind(m.room.as_str())
            .bind(m.platform_message_id.as_str())
            .bind(m.author.id.as_str())
            .bind(m.author.name.as_str())
            .bind(m.author.avatar_url.as_deref())
            .bind(m.body.as_str())
            .bind(m.formatted_body.as_deref())
            .bind(to_ms(m.sent_at))
            .bind(m.reply_to.as_deref())
            .bind(opt_ms(m.edited_at))
            .bind(m.platform_label.as_deref())
            .bind(m.permalink.as_deref())
            .fetch_optional(&mut *tx)
            .await
            .ctx("inserting an imported message")?;
            let Some(row) = inserted else {
                tx.rollback().await.ctx("rolling back")?;
                return Err(StoreError::Conflict(format!(
                    "message {} is already archived here (in another session): nothing imported",
                    m.key()
                )));
            };
            let message_id: i64 = col(&row, "id")?;
            message_ids.insert(m.key(), message_id);
            if m.hidden {
                mark_imported(&mut tx, "hidden_messages", message_id, now_ms).await?;
            }
            if m.withheld {
                // The author opted out where the transcript came from; honour it here too.
                sqlx::query(
                    "INSERT INTO opt_outs (user_ref, created_at) VALUES ($1, $2) \
                     ON CONFLICT (user_ref) DO NOTHING",
                )
                .bind(format!("{platform}:{}", m.author.id))
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .ctx("importing an opt-out")?;
            }
            for edit in &m.edits {
                sqlx::query(
                    "INSERT INTO message_edits (message_id, body, formatted_body, edited_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(message_id)
                .bind(edit.body.as_str())
                .bind(edit.formatted_body.as_deref())
                .bind(to_ms(edit.replaced_at))
                .execute(&mut *tx)
                .await
                .ctx("inserting an imported edit")?;
            }
            for (position, a) in m.attachments.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO attachments (message_id, position, url, name, content_type, \
                     size_bytes) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(message_id)
                .bind(position as i64)
                .bind(a.url.as_str())
                .bind(a.name.as_str())
                .bind(a.content_type.as_deref())
                .bind(a.size_bytes)
                .execute(&mut *tx)
                .await
                .ctx("inserting an imported attachment")?;
            }
            // A transcript keeps counts, not who reacted: each count becomes that many
            // anonymous reactions, named after the session so they never collide.
            for r in &m.reactions {
                for n in 0..r.count {
                    sqlx::query(
                        "INSERT INTO reactions (platform, platform_reaction_id, message_id, \
                         author_id, reaction_key, reacted_at) VALUES ($1, $2, $3, '', $4, $5)",
                    )
                    .bind(platform.as_str())
                    .bind(format!(
                        "imported:{}:{}:{}:{n}",
                        t.session.uid, m.platform_message_id, r.key
                    ))
                    .bind(message_id)
                    .bind(r.key.as_str())
                    .bind(to_ms(m.sent_at))
                    .execute(&mut *tx)
                    .await
                    .ctx("inserting an imported reaction")?;
                }
            }
        }
        for h in &t.highlights {
            let Some(&message_id) = message_ids.get(&h.message) else {
                continue;
            };
            sqlx::query(
                "INSERT INTO highlights (message_id, by_user, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(message_id)
            .bind(h.by.as_str())
            .bind(to_ms(h.at))
            .execute(&mut *tx)
            .await
            .ctx("importing a highlight")?;
        }
        for note in &t.notes {
            sqlx::query(
                "INSERT INTO curator_notes (session_id, point, after_message, text, by_user, \
                 created_at, by_name) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(opt_u32(note.point))
            .bind(note.after_message.as_deref())
            .bind(note.text.as_str())
            .bind(note.by.as_str())
            .bind(to_ms(note.at))
            .bind(note.by_name.as_deref())
            .execute(&mut *tx)
            .await
            .ctx("importing a note")?;
        }
        tx.commit().await.ctx("committing an import")?;
        Ok(id)
    }
}

/// Marks an imported message in `table` (`hidden_messages`); who and when are not in the
/// document, so the import itself is recorded as the marker.
async fn mark_imported(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    message_id: i64,
    now_ms: i64,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO {table} (message_id, by_user, created_at) VALUES ($1, 'web:import', $2) \
         ON CONFLICT (message_id) DO NOTHING"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(message_id)
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .ctx("importing a hidden message")?;
    Ok(())
}
