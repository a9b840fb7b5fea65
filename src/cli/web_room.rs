//! The web server `hashchat run` starts: the archive and the browser room, with the
//! moderators' secret for the room's sign-in.

use anyhow::{bail, Context};
use bot_core::chat::Chat;
use bot_core::config::Config;
use bot_core::engine::Engine;
use bot_core::ids::Platform;
use hashchat_web::room::{Limits, ModeratorSecret, RoomHub};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::summary::Summary;

/// Starts the web server unless `[web] enabled = false`; when the default address is taken it
/// says so in the summary and the bot runs without it, but an address the config names must
/// be had. It stops when `stop_rx` changes. The task,
/// and the one-time sign-in secret when one was made.
pub async fn start(
    config: &Config,
    engine: &Engine,
    web_chats: Vec<Chat>,
    summary: &mut Summary,
    mut stop_rx: watch::Receiver<bool>,
) -> anyhow::Result<(Option<JoinHandle<std::io::Result<()>>>, Option<String>)> {
    let mut one_time_secret = None;
    let web = if config.web.enabled {
        let addr = config.web.listen_addr();
        match super::serve::bind(addr).await {
            Ok(listener) => {
                let (secret, one_time) = moderator_secret(config)?;
                let secure = config
                    .web
                    .public_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://"));
                let mut hub = RoomHub::new(engine.clone(), Limits::default(), secret, secure);
                if config.web.behind_proxy {
                    hub = hub.behind_proxy();
                }
                let upload_bytes = u64::from(config.web.max_upload_megabytes) * 1024 * 1024;
                if upload_bytes > 0 {
                    if config.media_max_bytes() == 0 {
                        summary.skipped(
                            "uploads",
                            "media.max_megabytes = 0: there is no media store to keep files in",
                        );
                    } else {
                        let media = bot_core::media::MediaStore::open(config.media_dir())
                            .with_context(|| {
                                format!(
                                    "cannot create the media store {}",
                                    config.media_dir().display()
                                )
                            })?;
                        let max = upload_bytes.min(config.media_max_bytes());
                        hub = hub.with_uploads(media, max);
                        summary.started(
                            "uploads",
                            &format!(
                                "files of up to {} MB in the browser room",
                                max / (1024 * 1024)
                            ),
                        );
                    }
                }
                engine.register_adapter(hub.adapter());
                let mut state = super::serve::web_state(config, engine.store().clone(), web_chats)?
                    .watching(engine);
                state.room = Some(hub);
                let stopped = async move {
                    let _ = stop_rx.changed().await;
                };
                let base =
                    config.web.public_url.clone().unwrap_or_else(|| {
                        format!("http://{}", listener.local_addr().unwrap_or(addr))
                    });
                summary.started("web archive", &format!("{base}/"));
                let rooms: Vec<String> = engine
                    .chats()
                    .iter()
                    .flat_map(|c| c.rooms.iter())
                    .filter(|r| r.platform == Platform::Web)
                    .map(|r| format!("{base}/r/{}", r.id))
                    .collect();
                if rooms.is_empty() {
                    summary.skipped(
                        "browser room",
                        "no chat names a `web:` room (add \"web:NAME\" to a chat's rooms)",
                    );
                } else {
                    summary.started("browser room", &rooms.join("  "));
                }
                one_time_secret.clone_from(&one_time);
                match one_time {
                    Some(token) => summary.started(
                        "moderators",
                        &format!(
                            "sign in once at {base}/signin?token={token} (a new link each start; set {MODERATOR_TOKEN_ENV} or [web] moderator_token_file to keep one)"
                        ),
                    ),
                    None => summary.started("moderators", &format!("sign in at {base}/signin with the configured secret")),
                }
                Some(tokio::spawn(hashchat_web::serve(listener, state, stopped)))
            }
            // An address the config names must be had; the default one may be taken (a second
            // bot on one machine, the tests' many bots), and the bot then runs without it.
            Err(e) if config.web.listen.is_some() => {
                return Err(e.context("[web] listen: set another address, or enabled = false"))
            }
            Err(e) => {
                summary.skipped("web archive", &format!("{e:#}"));
                summary.skipped("browser room", "the web server is not running");
                None
            }
        }
    } else {
        summary.skipped("web archive", "[web] enabled = false");
        summary.skipped("browser room", "[web] enabled = false");
        None
    };
    Ok((web, one_time_secret))
}

/// Where the moderators' secret comes from, for the browser room's sign-in.
const MODERATOR_TOKEN_ENV: &str = "HASHCHAT_WEB_MODERATOR_TOKEN";

/// The moderators' secret: the environment's, else the file's, else a one-time one (returned
/// too, to print).
fn moderator_secret(
    config: &bot_core::config::Config,
) -> anyhow::Result<(ModeratorSecret, Option<String>)> {
    if let Some(token) = std::env::var(MODERATOR_TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok((ModeratorSecret::Configured(token.trim().to_owned()), None));
    }
    if let Some(file) = config.moderator_token_file() {
        let token = std::fs::read_to_string(&file).with_context(|| {
            format!("[web] moderator_token_file: cannot read {}", file.display())
        })?;
        let token = token.trim();
        if token.len() < 16 {
            bail!(
                "[web] moderator_token_file: {} holds {} characters; a secret needs at least 16",
                file.display(),
                token.len()
            );
        }
        return Ok((ModeratorSecret::Configured(token.to_owned()), None));
    }
    let (secret, token) = ModeratorSecret::one_time();
    Ok((secret, Some(token)))
}
