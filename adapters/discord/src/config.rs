//! The bot's `[discord]` table of hashchat.toml, read through the core's located reader so
//! `hashchat check-config` reports `FILE:LINE: field: message`.

use std::path::PathBuf;

use bot_core::chat::{LocatedError, Node, Reader};
use bot_core::config::PlatformSection;

use crate::rules::snowflake;

/// The table this crate owns.
pub const SECTION: &str = "discord";
/// Where the bot token comes from when no `token_file` is named.
pub const TOKEN_ENV: &str = "HASHCHAT_DISCORD_TOKEN";
pub const DEFAULT_PREFIX: &str = "!chat";
pub const DEFAULT_CDN: &str = "https://cdn.discordapp.com";

/// How the bot connects to Discord and behaves in guilds. The token is never in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordConfig {
    /// A file holding the bot token; else [`TOKEN_ENV`].
    pub token_file: Option<PathBuf>,
    /// Guilds to register `/chat` in (instant, unlike global registration).
    pub guilds: Vec<u64>,
    /// Register `/chat` globally too (Discord may take up to an hour to show it).
    pub register_globally: bool,
    /// Members with one of these roles moderate (as do those with Manage Events or
    /// Administrator).
    pub moderator_roles: Vec<u64>,
    /// What starts a text command, e.g. `!chat` in `!chat start interlibnet`.
    pub command_prefix: String,
    /// Send REST requests through this HTTP proxy (which then does the rate limiting), e.g. a
    /// twilight-http-proxy; the tests point it at their fake Discord.
    pub api_url: Option<String>,
    /// Where avatar links are built from.
    pub cdn_url: String,
    /// Show each upcoming session of a chat with a Discord channel as a guild scheduled event
    /// (needs the Manage Events permission).
    pub scheduled_events: bool,
}

impl DiscordConfig {
    /// Reads and checks `[discord]`: the settings, or every problem, located.
    pub fn from_section(section: &PlatformSection) -> Result<DiscordConfig, Vec<LocatedError>> {
        section.read(|r, node| read(r, node, section))
    }

    /// The bot token: from `token_file`, else the environment. Never logged.
    pub fn token(&self) -> Result<Option<String>, String> {
        match &self.token_file {
            Some(path) => std::fs::read_to_string(path)
                .map(|t| Some(t.trim().to_owned()).filter(|t| !t.is_empty()))
                .map_err(|e| format!("cannot read the token file {}: {e}", path.display())),
            None => Ok(std::env::var(TOKEN_ENV)
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())),
        }
    }
}

const KEYS: &[&str] = &[
    "token_file",
    "guilds",
    "register_globally",
    "moderator_roles",
    "command_prefix",
    "api_url",
    "cdn_url",
    "scheduled_events",
];

fn read(r: &mut Reader<'_>, node: &Node<'_>, section: &PlatformSection) -> Option<DiscordConfig> {
    r.unknown_keys(node, KEYS);
    let mut ok = true;
    let token_file = r
        .text(node, "token_file", None, 4096, "")
        .map(|f| section.resolve(f.value));
    let mut ids = |r: &mut Reader<'_>, key: &str, what: &str| -> Vec<u64> {
        let mut out = Vec::new();
        for entry in r.strings(node, key, None).unwrap_or_default() {
            let v = entry.value.trim();
            match snowflake(v, what) {
                Ok(()) => out.push(v.parse().unwrap_or_default()),
                Err(message) => {
                    r.error(entry.line, entry.field, message);
                    ok = false;
                }
            }
        }
        out
    };
    let guilds = ids(r, "guilds", "Discord guild id");
    let moderator_roles = ids(r, "moderator_roles", "Discord role id");
    let mut flag = |r: &mut Reader<'_>, key: &str| match r.boolean(node, key) {
        Some(b) => b.unwrap_or(false),
        None => {
            ok = false;
            false
        }
    };
    let register_globally = flag(r, "register_globally");
    let scheduled_events = flag(r, "scheduled_events");
    let command_prefix = r
        .command_prefix(node, "command_prefix", DEFAULT_PREFIX)
        .unwrap_or_else(|| {
            ok = false;
            String::new()
        });
    let mut url = |r: &mut Reader<'_>, key: &str| -> Option<String> {
        let u = r.text(node, key, None, 2048, "")?;
        let v = u.value.trim();
        let rest = v
            .strip_prefix("https://")
            .or_else(|| v.strip_prefix("http://"));
        if rest.is_none_or(|rest| rest.is_empty() || rest.contains(char::is_whitespace)) {
            r.error(
                u.line,
                u.field.clone(),
                format!("`{v}` is not an http(s) URL"),
            );
            ok = false;
            return None;
        }
        Some(v.trim_end_matches('/').to_owned())
    };
    let api_url = url(r, "api_url");
    let cdn_url = url(r, "cdn_url").unwrap_or_else(|| DEFAULT_CDN.to_owned());
    ok.then_some(DiscordConfig {
        token_file,
        guilds,
        register_globally,
        moderator_roles,
        command_prefix,
        api_url,
        cdn_url,
        scheduled_events,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use bot_core::config::Config;
    use bot_core::platforms::{PlatformRules, Platforms};

    use super::*;
    use crate::rules::DiscordRules;

    fn parse(text: &str) -> Result<DiscordConfig, Vec<String>> {
        let platforms = Platforms::with([Arc::new(DiscordRules) as Arc<dyn PlatformRules>]);
        let lines = |errors: Vec<LocatedError>| errors.iter().map(ToString::to_string).collect();
        let config = Config::parse(Path::new("etc/h.toml"), text, &platforms).map_err(lines)?;
        DiscordConfig::from_section(config.platform(SECTION).expect("[discord]")).map_err(lines)
    }

    #[test]
    fn an_empty_discord_section_has_the_defaults() {
        let d = parse("[discord]\n").unwrap();
        assert_eq!(d.command_prefix, "!chat");
        assert_eq!(d.cdn_url, "https://cdn.discordapp.com");
        assert_eq!(d.api_url, None);
        assert!(!d.register_globally);
        assert!(!d.scheduled_events, "scheduled events only when asked for");
        assert!(d.guilds.is_empty() && d.moderator_roles.is_empty());
        assert_eq!(d.token_file, None);
    }

    #[test]
    fn the_discord_section_is_read() {
        let d = parse(
            "[discord]\ntoken_file = \"secrets/discord\"\nguilds = [\"81384788765712384\"]\n\
             register_globally = true\nmoderator_roles = [\"1\"]\ncommand_prefix = \"?chat\"\n\
             api_url = \"http://127.0.0.1:8080/\"\ncdn_url = \"http://127.0.0.1:8080\"\n\
             scheduled_events = true\n",
        )
        .unwrap();
        assert_eq!(d.token_file, Some(PathBuf::from("etc/secrets/discord")));
        assert_eq!(d.guilds, [81384788765712384]);
        assert!(d.register_globally);
        assert_eq!(d.moderator_roles, [1]);
        assert_eq!(d.command_prefix, "?chat");
        assert_eq!(d.api_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(d.cdn_url, "http://127.0.0.1:8080");
        assert!(d.scheduled_events);
    }

    #[test]
    fn a_bad_discord_section_is_reported_line_by_line() {
        let errors = parse(
            "[discord]\nguilds = [\"general\"]\nregister_globally = \"yes\"\nmoderator_roles = [\"12\", \"x\"]\n\
             command_prefix = \"! chat\"\napi_url = \"discord.example\"\ntoken = \"secret\"\n\
             scheduled_events = 1\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "etc/h.toml:2: discord.guilds[1]: `general` is not a Discord guild id (a number of up to 20 digits)",
                "etc/h.toml:3: discord.register_globally: expected true or false, found a string",
                "etc/h.toml:4: discord.moderator_roles[2]: `x` is not a Discord role id (a number of up to 20 digits)",
                "etc/h.toml:5: discord.command_prefix: a command prefix has no spaces, e.g. `!chat`",
                "etc/h.toml:6: discord.api_url: `discord.example` is not an http(s) URL",
                "etc/h.toml:7: discord.token: unknown key (accepted keys: token_file, guilds, register_globally, moderator_roles, command_prefix, api_url, cdn_url, scheduled_events)",
                "etc/h.toml:8: discord.scheduled_events: expected true or false, found a number",
            ]
        );
    }
}
