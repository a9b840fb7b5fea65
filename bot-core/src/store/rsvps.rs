//! Who said they are coming to a chat.

use chrono::Utc;

use super::codec::{col, parse_user, to_ms};
use super::{Context, Result, Store};
use crate::ids::UserRef;

impl Store {
    /// Records that `user` plans to join `chat_slug`'s chats. Returns `true` if this is new,
    /// `false` if they had already said so (their original time is kept). The time recorded is
    /// the wall-clock time of the call.
    pub async fn add_rsvp(&self, chat_slug: &str, user: &UserRef) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "INSERT INTO rsvps (chat_slug, user_ref, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (chat_slug, user_ref) DO NOTHING",
        )
        .bind(chat_slug)
        .bind(user.to_string())
        .bind(to_ms(Utc::now()))
        .execute(&mut *conn)
        .await
        .ctx("adding an RSVP")?;
        Ok(done.rows_affected() > 0)
    }

    /// Withdraws an RSVP. Returns whether there was one.
    pub async fn remove_rsvp(&self, chat_slug: &str, user: &UserRef) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM rsvps WHERE chat_slug = $1 AND user_ref = $2")
            .bind(chat_slug)
            .bind(user.to_string())
            .execute(&mut *conn)
            .await
            .ctx("removing an RSVP")?;
        Ok(done.rows_affected() > 0)
    }

    /// Everyone who RSVPed to `chat_slug`, earliest first.
    pub async fn rsvps(&self, chat_slug: &str) -> Result<Vec<UserRef>> {
        let mut conn = self.conn().await?;
        let rows =
            sqlx::query("SELECT user_ref FROM rsvps WHERE chat_slug = $1 ORDER BY created_at, id")
                .bind(chat_slug)
                .fetch_all(&mut *conn)
                .await
                .ctx("listing RSVPs")?;
        rows.iter()
            .map(|r| parse_user(&col::<String>(r, "user_ref")?))
            .collect()
    }
}
