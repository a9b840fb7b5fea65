//! Reactions on archived messages: who reacted with what, until they take it back.

use chrono::{DateTime, Utc};

use super::codec::{col, to_ms};
use super::{Context, Result, Store};
use crate::ids::Platform;
use crate::model::MessageId;

/// How many people reacted to a message with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionCount {
    pub message_id: MessageId,
    pub key: String,
    pub count: u32,
}

impl Store {
    /// Records a reaction made on `platform` to the archived message `target_msg_id` on
    /// `target_platform` (another platform's when the reaction was to the bot's copy of it).
    /// Returns `false` when that message is not archived (a reaction to something said outside
    /// a session) or the reaction was recorded before.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_reaction(
        &self,
        platform: Platform,
        reaction_id: &str,
        target_platform: Platform,
        target_msg_id: &str,
        author_id: &str,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "INSERT INTO reactions (platform, platform_reaction_id, message_id, author_id, \
             reaction_key, reacted_at) \
             SELECT $1, $2, m.id, $4, $5, $6 FROM messages m \
             WHERE m.platform = $7 AND m.platform_msg_id = $3 \
             ON CONFLICT (platform, platform_reaction_id) DO NOTHING",
        )
        .bind(platform.as_str())
        .bind(reaction_id)
        .bind(target_msg_id)
        .bind(author_id)
        .bind(key)
        .bind(to_ms(at))
        .bind(target_platform.as_str())
        .execute(&mut *conn)
        .await
        .ctx("recording a reaction")?;
        Ok(done.rows_affected() > 0)
    }

    /// Takes a reaction back. Returns whether there was one.
    pub async fn remove_reaction(&self, platform: Platform, reaction_id: &str) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done =
            sqlx::query("DELETE FROM reactions WHERE platform = $1 AND platform_reaction_id = $2")
                .bind(platform.as_str())
                .bind(reaction_id)
                .execute(&mut *conn)
                .await
                .ctx("removing a reaction")?;
        Ok(done.rows_affected() > 0)
    }

    /// The reactions on a session's messages, counted per message and key.
    pub async fn session_reactions(
        &self,
        session_id: crate::model::SessionId,
    ) -> Result<Vec<ReactionCount>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT r.message_id, r.reaction_key, COUNT(*) AS n FROM reactions r \
             JOIN messages m ON m.id = r.message_id WHERE m.session_id = $1 \
             GROUP BY r.message_id, r.reaction_key ORDER BY r.message_id, r.reaction_key",
        )
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await
        .ctx("counting reactions")?;
        rows.iter()
            .map(|r| {
                Ok(ReactionCount {
                    message_id: col(r, "message_id")?,
                    key: col(r, "reaction_key")?,
                    count: u32::try_from(col::<i64>(r, "n")?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }
}
