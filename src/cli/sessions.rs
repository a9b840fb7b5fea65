//! `hashchat sessions`: list sessions.

use std::process::ExitCode;

use super::common::{database_url, load_config, open_store};
use super::StoreArgs;

pub async fn sessions(args: &StoreArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.config)?;
    let store = open_store(&database_url(args, &config)).await?;
    let sessions = store.list_sessions().await?;
    println!(
        "{:>6}  {:<20}  {:<20}  {:<9}  {:>8}",
        "id", "chat", "start (UTC)", "state", "messages"
    );
    for summary in sessions {
        let s = &summary.session;
        let start = s.started_at.unwrap_or(s.scheduled_start);
        println!(
            "{:>6}  {:<20}  {:<20}  {:<9}  {:>8}",
            s.id,
            s.chat_slug,
            start.format("%Y-%m-%d %H:%M"),
            s.state,
            summary.message_count
        );
    }
    Ok(ExitCode::SUCCESS)
}
