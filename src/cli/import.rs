//! `hashchat import FILE.json`: a transcript exported elsewhere becomes a session here.
//! `hashchat import DIR`: a whole backup (`export --all DIR`) into an empty database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bot_core::store::StoreError;
use bot_core::transcript::{from_json, ImportError};
use clap::Args;

use super::common::{database_url, load_config, open_store};
use super::StoreArgs;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The transcript, as `hashchat export --format json` wrote it, or a directory that
    /// `hashchat export --all` wrote (restored into an empty database).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

/// Reads and checks the file before opening the store; prints the new session's id on stdout.
/// A bad file prints one `FILE: path: reason` line per problem and writes nothing.
pub async fn import(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    if args.file.is_dir() {
        let (config, _) = load_config(&args.store.config)?;
        let store = open_store(&database_url(&args.store, &config)).await?;
        return super::backup_dir::import_all(&store, config.media_dir(), &args.file).await;
    }
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let transcript = match from_json(&text) {
        Ok(t) => t,
        Err(e) => {
            let problems = match e {
                ImportError::Invalid(problems) => {
                    problems.iter().map(ToString::to_string).collect()
                }
                other => vec![other.to_string()],
            };
            for problem in &problems {
                eprintln!("{}: {problem}", args.file.display());
            }
            eprintln!(
                "hashchat: {} is not a transcript hashchat can import ({}); nothing was imported",
                args.file.display(),
                super::common::problems(problems.len())
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let (config, _) = load_config(&args.store.config)?;
    let store = open_store(&database_url(&args.store, &config)).await?;
    match store.import_transcript(&transcript).await {
        Ok(id) => {
            eprintln!(
                "imported \"{}\" (session {}) as session {id}",
                transcript.chat.title, transcript.session.uid
            );
            println!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        Err(
            e @ (StoreError::AlreadyImported { .. }
            | StoreError::Conflict(_)
            | StoreError::Invalid(_)),
        ) => {
            eprintln!("hashchat: {}: {e}", args.file.display());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}
