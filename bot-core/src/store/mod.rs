//! The store: everything durable, in SQLite (embedded default) or PostgreSQL.
//!
//! One [`Store`] wraps one connection pool (`sqlx::AnyPool`) and speaks one dialect of SQL to
//! both backends: `$N` placeholders, `RETURNING`, `ON CONFLICT`, partial indexes. The schema
//! lives in `migrations/sqlite` and `migrations/postgres`, embedded at build time.
//!
//! Representation, the same on both backends:
//! - timestamps are unix **milliseconds** in `BIGINT` columns (sub-millisecond precision is
//!   dropped on the way in);
//! - step numbers, points, counters and ids are `BIGINT`; ids are allocated by the database;
//! - enumerations (session state, origin, post status, platform) are lowercase text, and rooms
//!   and users are `platform:id` text; all are validated when read, and a value that does not
//!   decode is reported as [`StoreError::Corrupt`], never a panic.
//!
//! The methods are split by concern: [`sessions`](self::sessions) (sessions and their rooms),
//! [`steps`](self::steps) (emitting a step atomically, the timeline), [`outbox`](self::outbox)
//! (delivery of posts), [`messages`](self::messages) (the archive), [`rsvps`](self::rsvps) and
//! [`import`](self::import) (a transcript document back into the store).

mod archive;
mod backup;
mod codec;
mod curation;
mod import;
mod instance;
mod instances;
mod leases;
mod links;
mod local_rooms;
mod media;
mod messages;
mod operations;
mod outbox;
mod platform_state;
mod reactions;
mod relays;
mod rsvps;
mod search;
mod sessions;
mod steps;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use archive::{ArchivePage, ArchiveWindow};
pub use curation::{CuratorNote, Mark, MarkedMessage};
pub use instance::InstanceLock;
pub use instances::{InstanceRecord, NewInstance};
pub use leases::Lease;
pub use local_rooms::{LocalAccount, LocalRoomEvent, NameClaim, NewLocalEvent};
pub use media::MediaCopy;
pub use operations::{OperationsSnapshot, Waiting};
/// Which database a [`Store`] sits on.
pub use platform_state::CommandClaim;
pub use reactions::ReactionCount;
pub use relays::{ChangeKind, CopyOf, RelayChange};
pub use search::{search_terms, SearchHit, MAX_TERMS, MAX_TERM_CHARS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no backend hashchat supports. The URL is shown with any password
    /// replaced by `***`.
    #[error(
        "unsupported database URL `{0}`: expected `sqlite://PATH` or `postgres://USER@HOST/DB`"
    )]
    UnsupportedUrl(String),
    /// Creating the directory for a SQLite database file failed.
    #[error("creating the directory {path} for the SQLite database: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A database operation failed; `context` says which.
    #[error("{context}: {source}")]
    Database {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("migrating the {backend} database: {source}")]
    Migrate {
        backend: Backend,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A row holds something that does not decode (an unknown state, a malformed room, a
    /// negative step, unreadable post content). Nothing is changed; the caller decides.
    #[error("corrupt data in the store: {0}")]
    Corrupt(String),
    /// An argument the store cannot represent (e.g. a value too large for a column).
    #[error("invalid input to the store: {0}")]
    Invalid(String),
    /// A transcript whose session uid is already here.
    #[error("session {uid} is already here: it was imported (or created) as session {session}")]
    AlreadyImported { uid: String, session: i64 },
    /// A transcript that would duplicate something already stored (a message's platform id).
    #[error("{0}")]
    Conflict(String),
    /// Another instance runs on this SQLite file (see [`Store::lock_instance`]).
    #[error(
        "another hashchat instance is already running on {db}{holder}: a SQLite database is for \
         one instance at a time. Stop it first, or use PostgreSQL to run several instances"
    )]
    InstanceRunning { db: PathBuf, holder: String },
    /// The instance lock file could not be opened or locked.
    #[error("locking {path} for this instance: {source}")]
    InstanceLock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches a short description of the operation to a sqlx error.
pub(crate) trait Context<T> {
    fn ctx(self, context: &'static str) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, sqlx::Error> {
    fn ctx(self, context: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Database { context, source })
    }
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Per-connection settings for SQLite. `busy_timeout` comes first so that switching the journal
/// mode waits for other connections instead of failing.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

/// The durable store. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database file, on SQLite.
    sqlite_path: Option<Arc<PathBuf>>,
}

impl Store {
    /// Opens a pool on `url`:
    ///
    /// - `sqlite://PATH` (relative or, as `sqlite:///abs/path`, absolute): the file and its
    ///   parent directory are created if missing. Every connection runs in WAL mode with
    ///   `synchronous=NORMAL`, `foreign_keys=ON` and a 5 s busy timeout.
    /// - `postgres://…` or `postgresql://…`: any libpq-style URL sqlx accepts, including
    ///   `?options=-c%20search_path%3Dschema`.
    ///
    /// Anything else is [`StoreError::UnsupportedUrl`]. The URL's password never appears in an
    /// error or a log line. The schema is not touched: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let mut sqlite_path = None;
        let pool = match backend {
            Backend::Sqlite => {
                let (url, path) = prepare_sqlite_url(url)?;
                sqlite_path = Some(Arc::new(path));
                AnyPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(SQLITE_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .ctx("opening the SQLite database")?
            }
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .ctx("connecting to PostgreSQL")?,
        };
        tracing::debug!(backend = %backend, url = %redact_url(url), "store connected");
        Ok(Store {
            pool,
            backend,
            sqlite_path,
        })
    }

    /// Applies the migrations embedded for this backend that have not been applied yet.
    /// Running it again (or from several processes) is harmless.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: self.backend,
                source,
            })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The underlying pool, for tests and maintenance tools that need raw SQL.
    #[doc(hidden)]
    pub fn raw_pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of deadlocking
    /// when both try to upgrade a read transaction.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .ctx("starting a transaction")
    }

    pub(crate) async fn conn(&self) -> Result<PoolConnection<Any>> {
        self.pool.acquire().await.ctx("acquiring a connection")
    }
}

/// Makes sure a SQLite URL opens read-write-create and that the file's directory exists;
/// returns the URL to open and the file's path.
fn prepare_sqlite_url(url: &str) -> Result<(String, PathBuf)> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or_default();
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::UnsupportedUrl(format!(
            "{url} (a file path is required)"
        )));
    }
    let path = PathBuf::from(percent_decode(path));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let url = match query {
        Some(q) if q.split('&').any(|kv| kv.starts_with("mode=")) => url.to_owned(),
        Some(q) if !q.is_empty() => format!("{url}&mode=rwc"),
        Some(_) => format!("{url}mode=rwc"),
        None => format!("{url}?mode=rwc"),
    };
    Ok((url, path))
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL with the password (if any) replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Rows as the Any driver returns them.
pub(crate) type Row = AnyRow;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db.example:5432/chat?sslmode=require"),
            "postgres://bob:***@db.example:5432/chat?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://bob@db/chat"),
            "postgres://bob@db/chat"
        );
        assert_eq!(redact_url("sqlite://a/b.db"), "sqlite://a/b.db");
        assert_eq!(redact_url("mysql://u:p@h/x"), "mysql://u:***@h/x");
    }

    #[test]
    fn sqlite_urls_gain_rwc_mode() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/x.db", dir.path().display());
        assert_eq!(
            prepare_sqlite_url(&url).unwrap(),
            (format!("{url}?mode=rwc"), dir.path().join("sub/x.db"))
        );
        assert!(dir.path().join("sub").is_dir());
        let url2 = format!("sqlite://{}/y.db?cache=shared", dir.path().display());
        assert_eq!(
            prepare_sqlite_url(&url2).unwrap().0,
            format!("{url2}&mode=rwc")
        );
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
