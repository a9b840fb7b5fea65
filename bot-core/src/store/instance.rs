//! One instance per SQLite file. Several processes may read a SQLite archive (`serve`,
//! `export`), but only one may run the engine on it: the scheduler, outbox and platform
//! connections assume no one else moves its sessions on. `run` takes an exclusive lock on a
//! file beside the database (`NAME-instance.lock`, an OS file lock, so it is released however
//! the process ends, SIGKILL included) and a second `run` is refused, saying which process holds
//! it. PostgreSQL is where several instances share one database.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use super::{Backend, Result, Store, StoreError};

/// Held for as long as this process runs the engine on a SQLite file; dropping it releases the
/// lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file of the database at `db`.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push("-instance.lock");
    db.with_file_name(name)
}

impl Store {
    /// Claims this SQLite database for this process: `Ok(Some(lock))` to hold while the engine
    /// runs, [`StoreError::InstanceRunning`] when another process holds it. On PostgreSQL,
    /// `Ok(None)`: instances there share the database.
    pub fn lock_instance(&self) -> Result<Option<InstanceLock>> {
        if self.backend() != Backend::Sqlite {
            return Ok(None);
        }
        let Some(db) = self.sqlite_path.as_deref() else {
            return Ok(None);
        };
        let path = lock_path(db);
        let failed = |source| StoreError::InstanceLock {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StoreError::InstanceRunning {
                    db: db.to_owned(),
                    holder: match holder.parse::<u32>() {
                        Ok(pid) => format!(" (process {pid})"),
                        Err(_) => String::new(),
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(failed(e)),
        }
        // Who holds it, for the next one's message; the lock itself is what counts.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(Some(InstanceLock { _file: file, path }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_claim_on_one_sqlite_file_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/x.db", dir.path().display());
        let first = Store::connect(&url).await.unwrap();
        let second = Store::connect(&url).await.unwrap();
        let lock = first.lock_instance().unwrap().expect("SQLite locks");
        assert_eq!(lock.path(), dir.path().join("x.db-instance.lock"));
        let refused = second.lock_instance().unwrap_err();
        let message = refused.to_string();
        assert!(
            matches!(refused, StoreError::InstanceRunning { .. }),
            "{refused:?}"
        );
        assert!(
            message.contains(&format!("(process {})", std::process::id())),
            "{message}"
        );
        assert!(message.contains("PostgreSQL"), "{message}");
        drop(lock);
        assert!(second.lock_instance().unwrap().is_some());
    }
}
