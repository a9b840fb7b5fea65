//! `discord-fake`: the fake Discord on its own, to try a bot by hand.
//!
//! Prints the token, the URL to give the bot, and the seeded guild, channels and users, then
//! serves until Ctrl-C. The control API under `/_fake/...` (see the crate README) plays the
//! human users.
//!
//! Options (environment): `DISCORD_FAKE_PORT` (REST, default 0 = any free port),
//! `DISCORD_FAKE_GATEWAY_PORT` (default 0), `DISCORD_FAKE_TLS_PORT` (the API over TLS as
//! discord.com, default 0), `DISCORD_FAKE_TOKEN`, `RUST_LOG`. The test authority's certificate
//! is written to `discord-fake-ca.pem` in the system's temporary directory.

use discord_fake::{Config, FakeDiscord};

fn port(var: &str) -> anyhow::Result<u16> {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{var}={v:?} is not a port number")),
        Err(_) => Ok(0),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut config = Config {
        rest_port: port("DISCORD_FAKE_PORT")?,
        gateway_port: port("DISCORD_FAKE_GATEWAY_PORT")?,
        tls_port: port("DISCORD_FAKE_TLS_PORT")?,
        ..Config::default()
    };
    if let Ok(t) = std::env::var("DISCORD_FAKE_TOKEN") {
        config.token = t;
    }
    let fake = FakeDiscord::start_with(config).await?;
    let d = fake.defaults();
    println!("discord-fake is running (Ctrl-C to stop)");
    println!("  bot token:       {}", fake.token());
    println!(
        "  REST (proxy):    {}   (serenity: HttpBuilder::proxy(..).ratelimiter_disabled(true))",
        fake.base_url()
    );
    let ca_file = std::env::temp_dir().join("discord-fake-ca.pem");
    std::fs::write(&ca_file, fake.tls_ca_pem())?;
    println!(
        "  REST (TLS):      https://discord.com at {}, trusting {}",
        fake.tls_address(),
        ca_file.display()
    );
    println!(
        "                   (hashchat: HASHCHAT_TEST_DISCORD_ADDRESS={} HASHCHAT_TEST_DISCORD_CA_FILE={})",
        fake.tls_address(),
        ca_file.display()
    );
    println!("  gateway:         {}", fake.gateway_url());
    println!("  application id:  {}", fake.application_id());
    println!("  bot user id:     {}", fake.bot_user_id());
    println!("  guild:           {}", d.guild);
    println!("  #general:        {}", d.channel);
    println!("  #chat-room:      {}", d.second_channel);
    println!(
        "  users:           alice {}  bob {}  morgan (Moderators, MANAGE_EVENTS) {}  owner {}",
        d.alice, d.bob, d.moderator, d.owner
    );
    println!("  control API:     {}/_fake/info", fake.base_url());
    println!(
        "  e.g. curl -s -XPOST {}/_fake/messages -H 'content-type: application/json' -d '{{\"channel_id\":\"{}\",\"author_id\":\"{}\",\"content\":\"hello\"}}'",
        fake.base_url(),
        d.channel,
        d.alice
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
