//! The `hashchat` binary as a Discord bot against an in-process fake Discord: its `[discord]`
//! table, and waiting until it is registered and connected.

use std::path::Path;
use std::time::Duration;

use discord_fake::{ChannelId, FakeDiscord};

/// The `[discord]` table pointing the bot at `fake` (REST and CDN on the fake's host; the
/// token goes in `HASHCHAT_DISCORD_TOKEN`).
pub fn section(fake: &FakeDiscord) -> String {
    format!(
        "[discord]\nguilds = [\"{}\"]\napi_url = \"{}\"\ncdn_url = \"{}\"\n",
        fake.defaults().guild,
        fake.base_url(),
        fake.base_url()
    )
}

/// The room name a chat file gives a Discord channel.
pub fn room(channel: ChannelId) -> String {
    format!("discord:{channel}")
}

/// Waits until a bot has put its commands in the fake's guild and its gateway session is up;
/// panics with `log` after `limit`.
pub async fn wait_ready(fake: &FakeDiscord, limit: Duration, log: &Path) {
    let pattern = format!(
        "PUT /applications/*/guilds/{}/commands",
        fake.defaults().guild
    );
    let registered = fake.wait_for_request(&pattern, limit).await.is_some();
    let connected = fake.wait_connected(limit).await;
    assert!(
        registered && connected,
        "the bot never registered its commands and connected (registered: {registered}, connected: {connected}); its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
