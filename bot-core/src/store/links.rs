//! Where a session took place, when its platform gave it a place of its own (a Discord
//! thread): recorded by the adapter that made it, shown in the session's transcripts.

use super::codec::col;
use super::{Context, Result, Store};
use crate::model::{SessionId, SessionLink};

impl Store {
    /// Records where the session with `uid` took place; `false` when there is no such session.
    /// Recording it again replaces it.
    pub async fn set_session_link(&self, uid: &str, link: &SessionLink) -> Result<bool> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE sessions SET link_label = $1, link_url = $2 WHERE uid = $3")
            .bind(link.label.as_str())
            .bind(link.url.as_str())
            .bind(uid)
            .execute(&mut *conn)
            .await
            .ctx("recording where a session took place")?;
        Ok(done.rows_affected() > 0)
    }

    /// Where the session took place, if its adapter recorded it.
    pub async fn session_link(&self, id: SessionId) -> Result<Option<SessionLink>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query("SELECT link_label, link_url FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .ctx("reading where a session took place")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let label: Option<String> = col(&row, "link_label")?;
        let url: Option<String> = col(&row, "link_url")?;
        Ok(label
            .zip(url)
            .map(|(label, url)| SessionLink { label, url }))
    }
}
