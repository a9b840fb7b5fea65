//! `hashchat transcript <session>`: print a session as plain text.

use std::process::ExitCode;

use bot_core::render::plain::render_session;
use bot_core::transcript;
use clap::Args;

use super::common::{database_url, load_chats, load_config, open_store};
use super::StoreArgs;

#[derive(Debug, Args)]
pub struct TranscriptArgs {
    /// The session's id, as `hashchat sessions` lists it.
    session: i64,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn transcript(args: &TranscriptArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.store.config)?;
    let store = open_store(&database_url(&args.store, &config)).await?;
    let Some(session) = store.get_session(args.session).await? else {
        eprintln!("hashchat: there is no session {}", args.session);
        return Ok(ExitCode::FAILURE);
    };
    // The chat as configured is needed only for a session that kept no snapshot of its own.
    let fallback = match store.session_snapshot(session.id).await? {
        Some(_) => None,
        None => load_chats(&config)?
            .into_iter()
            .find(|c| c.slug == session.chat_slug),
    };
    let transcript = transcript::build(&store, session.id, fallback.as_ref()).await?;
    print!("{}", render_session(&transcript, session.id));
    Ok(ExitCode::SUCCESS)
}
