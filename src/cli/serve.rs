//! `hashchat serve`: the archive on the web, on its own (`hashchat run` starts the same server
//! with the browser room).

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use bot_core::chat::Chat;
use bot_core::config::Config;
use bot_core::media::MediaStore;
use bot_core::store::Store;
use clap::Args;
use hashchat_web::WebState;

use super::common::{
    database_url, init_logging, load_chats, load_config, open_store, redact, shutdown_signal,
};
use super::StoreArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on [default: `[web] listen` from the config, else 127.0.0.1:8080].
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<SocketAddr>,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.store.config)?;
    init_logging(config.log.format, &config.log.level);
    let chats = load_chats(&config)?;
    let url = database_url(&args.store, &config);
    let store = open_store(&url).await?;
    let addr = args.listen.unwrap_or_else(|| config.web.listen_addr());
    let listener = bind(addr).await?;
    tracing::info!(database = %redact(&url), "serving the archive");
    hashchat_web::serve(
        listener,
        web_state(&config, store, chats)?,
        shutdown_signal(),
    )
    .await
    .context("the web server failed")?;
    Ok(ExitCode::SUCCESS)
}

pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// The web server's state: the chats, the store, and the media store when media is copied.
pub fn web_state(config: &Config, store: Store, chats: Vec<Chat>) -> anyhow::Result<WebState> {
    let mut state = WebState::new(store, chats);
    if config.media_max_bytes() > 0 && config.media_dir().is_dir() {
        state.media = Some(MediaStore::open(config.media_dir()).with_context(|| {
            format!(
                "cannot open the media store {}",
                config.media_dir().display()
            )
        })?);
    }
    Ok(state)
}
