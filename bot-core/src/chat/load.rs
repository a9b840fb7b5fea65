//! Reading chat files. (Stub: being written.)

use std::fmt;
use std::path::{Path, PathBuf};

use super::Chat;

/// A problem in a file, reported as `FILE:LINE: field: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is with the file as a whole.
    pub line: usize,
    /// The key path, e.g. `points[2].text`; empty for whole-file problems.
    pub field: String,
    pub message: String,
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.field,
            self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in chat files", .0.len())]
pub struct ChatError(pub Vec<LocatedError>);

pub fn parse_chat(_path: &Path, _text: &str) -> Result<Chat, Vec<LocatedError>> {
    unimplemented!("being written")
}

pub fn load_chat_file(_path: &Path) -> Result<Chat, Vec<LocatedError>> {
    unimplemented!("being written")
}

pub fn load_chat_dir(_dir: &Path) -> Result<Vec<Chat>, Vec<LocatedError>> {
    unimplemented!("being written")
}
