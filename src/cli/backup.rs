//! `hashchat backup FILE`: a consistent copy of the SQLite database, taken while the bot runs
//! (`Store::backup_to`, SQLite's `VACUUM INTO`).

use std::path::PathBuf;
use std::process::ExitCode;

use bot_core::store::StoreError;
use clap::Args;

use super::common::{database_url, load_config, open_store, redact};
use super::StoreArgs;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy: a new file (an existing one is never overwritten).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn backup(args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.store.config)?;
    let url = database_url(&args.store, &config);
    let store = open_store(&url).await?;
    match store.backup_to(&args.file).await {
        Ok(()) => {
            eprintln!("backed up {} to {}", redact(&url), args.file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ StoreError::Invalid(_)) => {
            eprintln!("hashchat: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}
