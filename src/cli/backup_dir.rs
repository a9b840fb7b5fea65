//! `hashchat export --all DIR` and `hashchat import DIR`: every session as a versioned JSON
//! transcript, the media they use, and the sessions still to come, in a directory any
//! hashchat can restore into an empty database (SQLite or PostgreSQL, either way round).
//!
//! The layout, written here and read back here only, so its one reader and writer sit
//! together (the files are serde JSON; the transcripts are the export format):
//!
//! ```text
//! DIR/backup.json            the manifest: format version, when, and every entry below
//! DIR/sessions/UID.json      each session that started, as `export --format json` writes it
//! DIR/media/SHA256           each copied file those sessions link to, named by its hash
//! ```
//!
//! Sessions that never started have no transcript; the manifest lists them (`upcoming`) and
//! the import schedules them again (with new uids: nothing links to them yet).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use bot_core::ids::RoomRef;
use bot_core::media::MediaStore;
use bot_core::model::{NewSession, SessionOrigin, SessionState};
use bot_core::store::{MediaCopy, Store};
use bot_core::transcript::{self, from_json, to_json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::problems;

/// The manifest's own format; a reader refuses any other.
const FORMAT: &str = "hashchat-backup";
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    version: u32,
    written_at: DateTime<Utc>,
    /// Each started session's uid; its file is `sessions/UID.json`.
    sessions: Vec<String>,
    media: Vec<MediaEntry>,
    upcoming: Vec<Upcoming>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaEntry {
    url: String,
    sha256: String,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    copied_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Upcoming {
    chat: String,
    origin: String,
    state: String,
    scheduled_start: DateTime<Utc>,
    next_step: u32,
    next_due_at: Option<DateTime<Utc>>,
    rooms: Vec<String>,
}

fn is_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn is_uid(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Writes everything in `store` to `dir` (created; it must be empty or new).
pub async fn export_all(
    store: &Store,
    media: Option<&MediaStore>,
    dir: &Path,
) -> anyhow::Result<ExitCode> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        eprintln!(
            "hashchat: {} is not empty; a backup goes into a new or empty directory",
            dir.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    std::fs::create_dir_all(dir.join("sessions"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        written_at: Utc::now(),
        sessions: Vec::new(),
        media: Vec::new(),
        upcoming: Vec::new(),
    };
    let mut links: BTreeSet<String> = BTreeSet::new();
    for summary in store.list_sessions().await? {
        let session = summary.session;
        if session.started_at.is_none() {
            if session.state.is_upcoming() {
                manifest.upcoming.push(Upcoming {
                    chat: session.chat_slug.clone(),
                    origin: session.origin.as_str().to_owned(),
                    state: session.state.as_str().to_owned(),
                    scheduled_start: session.scheduled_start,
                    next_step: session.next_step,
                    next_due_at: session.next_due_at,
                    rooms: session.rooms.iter().map(ToString::to_string).collect(),
                });
            }
            continue;
        }
        let t = transcript::build(store, session.id, None)
            .await
            .with_context(|| format!("cannot read session {}", session.id))?;
        for m in &t.messages {
            links.extend(m.author.avatar_url.iter().cloned());
            links.extend(m.attachments.iter().map(|a| a.url.clone()));
        }
        let file = dir.join("sessions").join(format!("{}.json", session.uid));
        std::fs::write(&file, to_json(&t))
            .with_context(|| format!("cannot write {}", file.display()))?;
        manifest.sessions.push(session.uid);
    }
    if let Some(media) = media {
        std::fs::create_dir_all(dir.join("media"))?;
        for url in links {
            let Some(copy) = store.media_copy(&url).await? else {
                continue;
            };
            let Some(hash) = copy.sha256.clone() else {
                continue;
            };
            let bytes = match media.read(&hash) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("hashchat: media {hash} for {url} is missing ({e}); left out");
                    continue;
                }
            };
            std::fs::write(dir.join("media").join(&hash), bytes)?;
            manifest.media.push(MediaEntry {
                url,
                sha256: hash,
                content_type: copy.content_type,
                size_bytes: copy.size_bytes,
                copied_at: copy.at,
            });
        }
    }
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    std::fs::write(dir.join("backup.json"), text)?;
    eprintln!(
        "wrote {} sessions, {} media files and {} upcoming sessions to {}",
        manifest.sessions.len(),
        manifest.media.len(),
        manifest.upcoming.len(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Everything in `dir`, read and checked before a row is written.
struct Backup {
    manifest: Manifest,
    transcripts: Vec<transcript::Transcript>,
}

fn read_backup(dir: &Path) -> anyhow::Result<Result<Backup, Vec<String>>> {
    let path = dir.join("backup.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (is {} a backup?)",
            path.display(),
            dir.display()
        )
    })?;
    let manifest: Manifest = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => return Ok(Err(vec![format!("{}: {e}", path.display())])),
    };
    let mut bad = Vec::new();
    if manifest.format != FORMAT || manifest.version != VERSION {
        bad.push(format!(
            "{}: format {} version {}, expected {FORMAT} version {VERSION}",
            path.display(),
            manifest.format,
            manifest.version
        ));
        return Ok(Err(bad));
    }
    let mut transcripts = Vec::new();
    for uid in &manifest.sessions {
        if !is_uid(uid) {
            bad.push(format!(
                "{}: sessions: `{uid}` is not a session uid",
                path.display()
            ));
            continue;
        }
        let file = dir.join("sessions").join(format!("{uid}.json"));
        match std::fs::read_to_string(&file) {
            Err(e) => bad.push(format!("{}: {e}", file.display())),
            Ok(text) => match from_json(&text) {
                Ok(t) if t.session.uid == *uid => transcripts.push(t),
                Ok(t) => bad.push(format!(
                    "{}: holds session {}, not {uid}",
                    file.display(),
                    t.session.uid
                )),
                Err(e) => bad.push(format!("{}: {e}", file.display())),
            },
        }
    }
    for m in &manifest.media {
        if !is_hash(&m.sha256) {
            bad.push(format!(
                "{}: media: `{}` is not a SHA-256",
                path.display(),
                m.sha256
            ));
            continue;
        }
        let file = dir.join("media").join(&m.sha256);
        match std::fs::read(&file) {
            Err(e) => bad.push(format!("{}: {e}", file.display())),
            Ok(bytes) => {
                use sha2::Digest as _;
                if hex::encode(sha2::Sha256::digest(&bytes)) != m.sha256 {
                    bad.push(format!(
                        "{}: its content does not match its name",
                        file.display()
                    ));
                }
            }
        }
    }
    for (i, u) in manifest.upcoming.iter().enumerate() {
        let at = format!("{}: upcoming[{i}]", path.display());
        if u.origin.parse::<SessionOrigin>().is_err() {
            bad.push(format!("{at}: origin `{}`", u.origin));
        }
        if !u
            .state
            .parse::<SessionState>()
            .is_ok_and(SessionState::is_upcoming)
        {
            bad.push(format!("{at}: state `{}` is not an upcoming one", u.state));
        }
        for r in &u.rooms {
            if r.parse::<RoomRef>().is_err() {
                bad.push(format!("{at}: room `{r}`"));
            }
        }
    }
    Ok(if bad.is_empty() {
        Ok(Backup {
            manifest,
            transcripts,
        })
    } else {
        Err(bad)
    })
}

/// Restores `dir` into `store`, which must hold no sessions.
pub async fn import_all(store: &Store, media_dir: PathBuf, dir: &Path) -> anyhow::Result<ExitCode> {
    let backup = match read_backup(dir)? {
        Ok(b) => b,
        Err(bad) => {
            for line in &bad {
                eprintln!("{line}");
            }
            eprintln!(
                "hashchat: {} is not a backup hashchat can restore ({}); nothing was imported",
                dir.display(),
                problems(bad.len())
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    if !store.list_sessions().await?.is_empty() {
        eprintln!(
            "hashchat: the database already holds sessions; a backup is restored into an empty one"
        );
        return Ok(ExitCode::FAILURE);
    }
    for t in &backup.transcripts {
        store
            .import_transcript(t)
            .await
            .with_context(|| format!("cannot restore session {}", t.session.uid))?;
    }
    if !backup.manifest.media.is_empty() {
        let media = MediaStore::open(&media_dir)
            .with_context(|| format!("cannot open the media store {}", media_dir.display()))?;
        for m in &backup.manifest.media {
            let bytes = std::fs::read(dir.join("media").join(&m.sha256))?;
            let hash = media.put(&bytes)?;
            if hash != m.sha256 {
                bail!("media {} changed while it was restored", m.sha256);
            }
            store
                .record_media_copy(&MediaCopy {
                    url: m.url.clone(),
                    sha256: Some(hash),
                    content_type: m.content_type.clone(),
                    size_bytes: m.size_bytes,
                    error: None,
                    at: m.copied_at,
                })
                .await?;
        }
    }
    for u in &backup.manifest.upcoming {
        store
            .create_session(&NewSession {
                chat_slug: u.chat.clone(),
                origin: u
                    .origin
                    .parse()
                    .map_err(|_| anyhow::anyhow!("checked above"))?,
                state: u
                    .state
                    .parse()
                    .map_err(|_| anyhow::anyhow!("checked above"))?,
                scheduled_start: u.scheduled_start,
                next_step: u.next_step,
                next_due_at: u.next_due_at,
                rooms: u
                    .rooms
                    .iter()
                    .map(|r| r.parse())
                    .collect::<Result<_, _>>()
                    .map_err(|_| anyhow::anyhow!("checked above"))?,
                command: None,
            })
            .await?;
    }
    eprintln!(
        "restored {} sessions, {} media files and {} upcoming sessions from {}",
        backup.transcripts.len(),
        backup.manifest.media.len(),
        backup.manifest.upcoming.len(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
