//! `hashchat export <session> --format html|md|json [--out PATH]`: a session's transcript as a
//! file. `hashchat export --all DIR`: everything, for `hashchat import DIR` (`backup_dir.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use bot_core::chat::load_chat_dir;
use bot_core::media::{InlineMedia, MediaStore};
use bot_core::model::Session;
use bot_core::render::html::HtmlOptions;
use bot_core::store::Store;
use bot_core::transcript::{self, to_json};
use clap::{Args, ValueEnum};

use super::common::{database_url, load_config, open_store};
use super::StoreArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A self-contained HTML page.
    Html,
    /// Markdown, readable as plain text.
    Md,
    /// The versioned JSON document (docs/transcript.schema.json), for `hashchat import`.
    Json,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The session: its id, as `hashchat sessions` lists it, or its uid.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    session: Option<String>,
    /// What to write.
    #[arg(
        long,
        value_enum,
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    format: Option<Format>,
    /// Write to this file (atomically: a temporary file, then a rename) instead of stdout.
    #[arg(long, value_name = "PATH", conflicts_with = "all")]
    out: Option<PathBuf>,
    /// Write every session (versioned JSON), the media they use and the sessions to come into
    /// this new or empty directory, for `hashchat import DIR`.
    #[arg(long, value_name = "DIR")]
    all: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.store.config)?;
    let store = open_store(&database_url(&args.store, &config)).await?;
    if let Some(dir) = &args.all {
        let media = match config.media_dir() {
            d if d.is_dir() => Some(MediaStore::open(d)?),
            _ => None,
        };
        return super::backup_dir::export_all(&store, media.as_ref(), dir).await;
    }
    let (Some(which), Some(format)) = (args.session.as_deref(), args.format) else {
        anyhow::bail!("a session and --format, or --all DIR");
    };
    let Some(session) = find_session(&store, which).await? else {
        eprintln!("hashchat: there is no session `{which}`");
        return Ok(ExitCode::FAILURE);
    };
    // The configured chat is only needed for a session that keeps no snapshot of its own.
    let fallback = match store.session_snapshot(session.id).await? {
        Some(_) => None,
        None => load_chat_dir(&config.chats_dir(), &super::common::platforms())
            .ok()
            .and_then(|chats| chats.into_iter().find(|c| c.slug == session.chat_slug)),
    };
    let transcript = transcript::build(&store, session.id, fallback.as_ref()).await?;
    // Images copied when they arrived go into the page itself, so it stays self-contained.
    let media_dir = config.media_dir();
    let media = match format {
        Format::Html if media_dir.is_dir() => {
            let media = MediaStore::open(media_dir)?;
            Some(std::sync::Arc::new(
                InlineMedia::load(&store, &media, &transcript).await?,
            ))
        }
        _ => None,
    };
    let render = |out: &mut dyn Write| -> std::io::Result<()> {
        match format {
            Format::Json => out.write_all(to_json(&transcript).as_bytes()),
            Format::Md => {
                let mut text = String::new();
                bot_core::render::markdown::render(&transcript, &mut text)
                    .map_err(|_| std::io::Error::other("rendering Markdown failed"))?;
                out.write_all(text.as_bytes())
            }
            // Streamed: a session of 100,000 messages never sits in memory as one page.
            Format::Html => {
                let mut options = HtmlOptions::new(chrono::Utc::now());
                if let Some(media) = &media {
                    options.media = Some(media.clone());
                }
                bot_core::render::html::render(&transcript, &options, &mut &mut *out)
            }
        }
    };
    match &args.out {
        Some(path) => write_atomically(path, render)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            render(&mut stdout)?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `7` is session 7 if there is one; anything else (or a number no session has) is a uid.
pub async fn find_session(store: &Store, which: &str) -> anyhow::Result<Option<Session>> {
    if let Ok(id) = which.parse::<i64>() {
        if let Some(session) = store.get_session(id).await? {
            return Ok(Some(session));
        }
    }
    Ok(store.find_session_by_uid(which).await?)
}

/// Renders into a temporary file next to `path`, syncs it, and renames it over `path`, so
/// a reader sees the old file or the whole new one, never half of it.
fn write_atomically(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&temp)?);
        render(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
