//! The local media store: attachments and avatars copied when they arrive, because platform
//! links expire (Discord's CDN links do within a day) and a transcript must outlive them.
//!
//! Files are content-addressed: named by the SHA-256 of their bytes, under a two-character
//! fan-out folder, so the same image sent twice is kept once and a name can never be used to
//! reach outside the store.

mod copier;
mod fetch;
mod inline;

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use copier::MediaCopier;
pub use fetch::{FetchError, Fetched, HttpFetcher, MediaFetcher};
pub use inline::InlineMedia;

/// Media larger than this is not copied unless the config says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct MediaStore {
    dir: PathBuf,
}

impl MediaStore {
    /// A store in `dir`, created if missing.
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<MediaStore> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(MediaStore { dir })
    }

    /// Keeps `bytes` and returns their SHA-256 (lowercase hex). Writing the same bytes again
    /// is free; a crash mid-write leaves only a temporary file, never a wrong one.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let hash = hex::encode(Sha256::digest(bytes));
        let path = self.path_of(&hash);
        if path.exists() {
            return Ok(hash);
        }
        let folder = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(folder)?;
        let mut temp = tempfile_in(folder)?;
        temp.1.write_all(bytes)?;
        temp.1.sync_all()?;
        std::fs::rename(&temp.0, &path)?;
        Ok(hash)
    }

    /// The file holding `hash`, if `hash` is a SHA-256 in hex and the file is there.
    pub fn path(&self, hash: &str) -> Option<PathBuf> {
        let valid = hash.len() == 64
            && hash
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let path = self.path_of(hash);
        (valid && path.is_file()).then_some(path)
    }

    pub fn read(&self, hash: &str) -> std::io::Result<Vec<u8>> {
        match self.path(hash) {
            Some(path) => std::fs::read(path),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such media",
            )),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, hash: &str) -> PathBuf {
        let fan_out = hash.get(..2).unwrap_or("00");
        self.dir.join(fan_out).join(hash)
    }
}

/// A uniquely named new file in `dir`, for writing before the rename.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let name = format!(
            ".tmp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MediaStore;

    #[test]
    fn content_is_kept_once_under_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(dir.path().join("media")).unwrap();
        let hash = store.put(b"hello").unwrap();
        assert_eq!(
            hash,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.put(b"hello").unwrap(), hash);
        assert_eq!(store.read(&hash).unwrap(), b"hello");
        let files: Vec<_> = walk(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
    }

    #[test]
    fn names_that_are_not_hashes_reach_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(dir.path()).unwrap();
        store.put(b"x").unwrap();
        for name in [
            "../etc/passwd",
            "..",
            "",
            "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
            "/tmp",
        ] {
            assert!(store.path(name).is_none(), "{name}");
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
