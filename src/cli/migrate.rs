//! `hashchat migrate`: apply the migrations alone.

use std::process::ExitCode;

use super::common::{database_url, load_config, open_store, redact};
use super::StoreArgs;

pub async fn migrate(args: &StoreArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.config)?;
    let url = database_url(args, &config);
    open_store(&url).await?;
    println!("{}: migrations applied", redact(&url));
    Ok(ExitCode::SUCCESS)
}
