//! `hashchat transcript <session>`: print a session as plain text.

use std::process::ExitCode;

use anyhow::Context;
use bot_core::render::plain::render_session;
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
    let chats = load_chats(&config)?;
    let chat = chats
        .into_iter()
        .find(|c| c.slug == session.chat_slug)
        .with_context(|| {
            format!(
                "the chat `{}` is not in the configured chats",
                session.chat_slug
            )
        })?;
    let messages = store.session_messages(session.id).await?;
    print!("{}", render_session(&session, &chat, &messages));
    Ok(ExitCode::SUCCESS)
}
