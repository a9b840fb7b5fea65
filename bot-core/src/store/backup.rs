//! A copy of a SQLite database taken while the bot runs: `VACUUM INTO`, which SQLite writes
//! from one read transaction, so the copy is the database as of one instant (every write
//! committed before it, none after) however busy the bot is; the bot's own writes wait only
//! for SQLite's usual locks. The copy is a complete, compact database file, opened like any
//! other. PostgreSQL has its own tools for this (`pg_dump`), and `hashchat export --all` works
//! on either.

use std::path::Path;

use super::{Backend, Context, Result, Store, StoreError};

impl Store {
    /// Writes a consistent copy of this SQLite database to `path`, which must not exist yet.
    pub async fn backup_to(&self, path: &Path) -> Result<()> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Invalid(
                "a backup file is for SQLite databases; back PostgreSQL up with pg_dump, or \
                 use `hashchat export --all DIR` on either"
                    .into(),
            ));
        }
        if path.exists() {
            return Err(StoreError::Invalid(format!(
                "{} already exists; a backup never overwrites a file",
                path.display()
            )));
        }
        let target = path.to_str().ok_or_else(|| {
            StoreError::Invalid(format!("{} is not a UTF-8 path", path.display()))
        })?;
        let mut conn = self.conn().await?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&mut *conn)
            .await
            .ctx("writing the backup")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backup_taken_during_writes_is_one_consistent_instant() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/live.db", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        // A writer that never stops: each transaction adds a session and its one room.
        let writer = store.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let writing = tokio::spawn(async move {
            let mut n = 0u32;
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                writer
                    .create_session(&crate::model::NewSession {
                        chat_slug: format!("c{n}"),
                        origin: crate::model::SessionOrigin::Command,
                        state: crate::model::SessionState::Scheduled,
                        scheduled_start: chrono::Utc::now(),
                        next_step: 0,
                        next_due_at: None,
                        rooms: vec![crate::ids::RoomRef::new(
                            crate::ids::Platform::Loopback,
                            format!("r{n}"),
                        )],
                        command: None,
                    })
                    .await
                    .unwrap();
                n += 1;
            }
            n
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let copy = dir.path().join("copy.db");
        store.backup_to(&copy).await.unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writing.await.unwrap();

        let backup = Store::connect(&format!("sqlite://{}", copy.display()))
            .await
            .unwrap();
        let sessions = backup.list_sessions().await.unwrap();
        assert!(
            !sessions.is_empty(),
            "the copy holds what was written before it"
        );
        assert!(
            (sessions.len() as u32) < written,
            "and not what came after: {} of {written}",
            sessions.len()
        );
        assert!(
            sessions.iter().all(|s| s.session.rooms.len() == 1),
            "every session with its room: no half-written transaction"
        );
        let again = store.backup_to(&copy).await.unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
    }
}
