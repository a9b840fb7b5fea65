//! The bot's `[matrix]` table of hashchat.toml, and what Matrix ids look like: the rules the
//! core is given for this platform ([`MatrixRules`]).

use std::path::PathBuf;

use bot_core::chat::{LocatedError, Node, Reader};
use bot_core::config::PlatformSection;
use bot_core::ids::Platform;
use bot_core::platforms::PlatformRules;

/// The table this crate owns.
pub const SECTION: &str = "matrix";

/// The bot's Matrix account and how it behaves in rooms. Secrets are never in the file: the
/// access token or password comes from [`ACCESS_TOKEN_ENV`] / [`PASSWORD_ENV`] or
/// from a file named here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixConfig {
    /// The homeserver's client API base URL, e.g. `https://matrix.example.org`.
    pub homeserver: String,
    /// The bot's user id, `@name:server`.
    pub user: String,
    pub access_token_file: Option<PathBuf>,
    pub password_file: Option<PathBuf>,
    /// The device name shown to people, chosen at the first login.
    pub device_name: String,
    /// What starts a command, e.g. `!chat` in `!chat start interlibnet`.
    pub command_prefix: String,
    /// Room members with at least this power level moderate (room creators of room version 12
    /// always do).
    pub moderator_power_level: u32,
    /// Whose invitations the bot accepts: `@user:server`, `*:server` (anyone on that server) or
    /// `*` (anyone). Empty: it joins only rooms named in chat files when invited there.
    pub accept_invites_from: Vec<String>,
}

pub const ACCESS_TOKEN_ENV: &str = "HASHCHAT_MATRIX_ACCESS_TOKEN";
pub const PASSWORD_ENV: &str = "HASHCHAT_MATRIX_PASSWORD";
pub const DEFAULT_PREFIX: &str = "!chat";
pub const DEFAULT_MODERATOR_LEVEL: u32 = 50;

impl MatrixConfig {
    /// Reads and checks `[matrix]`: the settings, or every problem, located.
    pub fn from_section(section: &PlatformSection) -> Result<MatrixConfig, Vec<LocatedError>> {
        section.read(|r, node| read(r, node, section))
    }
}

/// Matrix's rules for the core: `[matrix]`, room ids and aliases, user ids.
pub struct MatrixRules;

impl PlatformRules for MatrixRules {
    fn platform(&self) -> Platform {
        Platform::Matrix
    }

    fn check_room(&self, id: &str) -> Result<(), String> {
        // Room ids (`!opaque:server`) and, for v12 rooms, server-less `!opaque`; aliases
        // (`#name:server`) are resolved when the bot joins.
        let ok = match id.chars().next() {
            Some('!') => id.len() > 1 && !id.chars().any(char::is_whitespace),
            Some('#') => id
                .split_once(':')
                .is_some_and(|(l, s)| l.len() > 1 && !s.is_empty()),
            _ => false,
        };
        if ok && id.len() <= 255 {
            Ok(())
        } else {
            Err(format!(
                "`{id}` is not a Matrix room id (`!opaque:server`) or alias (`#name:server`)"
            ))
        }
    }

    fn check_user(&self, id: &str) -> Result<(), String> {
        if is_matrix_user_id(id) {
            Ok(())
        } else {
            Err(format!("`{id}` is not a Matrix user id (`@name:server`)"))
        }
    }

    fn config_section(&self) -> Option<&'static str> {
        Some(SECTION)
    }

    fn check_config(&self, section: &PlatformSection) -> Vec<LocatedError> {
        MatrixConfig::from_section(section)
            .err()
            .unwrap_or_default()
    }
}

fn read(r: &mut Reader<'_>, node: &Node<'_>, section: &PlatformSection) -> Option<MatrixConfig> {
    r.unknown_keys(
        node,
        &[
            "homeserver",
            "user",
            "access_token_file",
            "password_file",
            "device_name",
            "command_prefix",
            "moderator_power_level",
            "accept_invites_from",
        ],
    );
    let mut ok = true;
    let homeserver = r.text(
        node,
        "homeserver",
        Some("the homeserver's URL, e.g. `https://matrix.example.org`"),
        2048,
        "",
    );
    if let Some(h) = &homeserver {
        let v = h.value.trim();
        let rest = v
            .strip_prefix("https://")
            .or_else(|| v.strip_prefix("http://"));
        if rest.is_none_or(|rest| rest.is_empty() || rest.contains(char::is_whitespace)) {
            r.error(
                h.line,
                h.field.clone(),
                format!("`{v}` is not an http(s) URL, e.g. `https://matrix.example.org`"),
            );
            ok = false;
        }
    }
    let user = r.text(
        node,
        "user",
        Some("the bot's user id, e.g. `@hashchat:example.org`"),
        255,
        "",
    );
    if let Some(u) = &user {
        if !is_matrix_user_id(u.value.trim()) {
            r.error(
                u.line,
                u.field.clone(),
                format!("`{}` is not a Matrix user id (`@name:server`)", u.value),
            );
            ok = false;
        }
    }
    let file = |r: &mut Reader<'_>, key: &str| {
        r.text(node, key, None, 4096, "")
            .map(|f| section.resolve(f.value))
    };
    let access_token_file = file(r, "access_token_file");
    let password_file = file(r, "password_file");
    let device_name = r
        .text(node, "device_name", None, 100, "")
        .map_or_else(|| "hashchat".to_owned(), |d| d.value);
    let command_prefix = r
        .command_prefix(node, "command_prefix", DEFAULT_PREFIX)
        .unwrap_or_else(|| {
            ok = false;
            String::new()
        });
    let moderator_power_level = match r.integer(node, "moderator_power_level", 0..=1_000_000) {
        Some(level) => level.unwrap_or(DEFAULT_MODERATOR_LEVEL),
        None => {
            ok = false;
            0
        }
    };
    let mut accept_invites_from = Vec::new();
    for entry in r
        .strings(node, "accept_invites_from", None)
        .unwrap_or_default()
    {
        let v = entry.value.trim();
        let valid = v == "*"
            || v.strip_prefix("*:")
                .is_some_and(|server| !server.is_empty() && !server.contains(char::is_whitespace))
            || is_matrix_user_id(v);
        if valid {
            accept_invites_from.push(v.to_owned());
        } else {
            r.error(
                entry.line,
                entry.field,
                format!("`{v}` is not `@user:server`, `*:server` or `*`"),
            );
            ok = false;
        }
    }
    let (homeserver, user) = (homeserver?, user?);
    ok.then(|| MatrixConfig {
        homeserver: homeserver.value.trim().trim_end_matches('/').to_owned(),
        user: user.value.trim().to_owned(),
        access_token_file,
        password_file,
        device_name,
        command_prefix,
        moderator_power_level,
        accept_invites_from,
    })
}

pub(crate) fn is_matrix_user_id(id: &str) -> bool {
    id.strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| {
            !local.is_empty()
                && !server.is_empty()
                && !id.contains(char::is_whitespace)
                && id.len() <= 255
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use std::path::Path;

    use bot_core::config::Config;
    use bot_core::platforms::Platforms;

    use super::*;

    fn platforms() -> Platforms {
        Platforms::with([Arc::new(MatrixRules) as Arc<dyn PlatformRules>])
    }

    /// `[matrix]` of a config file's text, read as `run` reads it; problems as printed.
    fn parse(path: &Path, text: &str) -> Result<MatrixConfig, Vec<String>> {
        let lines = |errors: Vec<LocatedError>| errors.iter().map(ToString::to_string).collect();
        let config = Config::parse(path, text, &platforms()).map_err(lines)?;
        MatrixConfig::from_section(config.platform(SECTION).expect("[matrix]")).map_err(lines)
    }

    #[test]
    fn ids_are_checked_as_matrix_writes_them() {
        let rules = MatrixRules;
        assert!(rules.check_room("!abc:example.org").is_ok());
        assert!(rules.check_room("!v12opaque").is_ok());
        assert!(rules.check_room("#books:example.org").is_ok());
        assert_eq!(
            rules.check_room("room:example.org"),
            Err("`room:example.org` is not a Matrix room id (`!opaque:server`) or alias (`#name:server`)".to_owned())
        );
        assert!(rules.check_user("@alice:example.org").is_ok());
        assert_eq!(
            rules.check_user("alice"),
            Err("`alice` is not a Matrix user id (`@name:server`)".to_owned())
        );
    }

    #[test]
    fn without_the_matrix_rules_the_table_is_unknown() {
        let errors =
            Config::parse(Path::new("h.toml"), "[matrix]\n", &Platforms::default()).unwrap_err();
        assert_eq!(errors[0].field, "matrix");
        assert!(errors[0].message.starts_with("unknown key"), "{errors:?}");
    }

    #[test]
    fn the_matrix_section_is_read_with_defaults() {
        let m = parse(
            Path::new("etc/h.toml"),
            "[matrix]\nhomeserver = \"https://matrix.example.org/\"\nuser = \"@bot:example.org\"\n\
             password_file = \"secrets/pw\"\naccept_invites_from = [\"@mod:example.org\", \"*:lib.example\", \"*\"]\n",
        )
        .unwrap();
        assert_eq!(m.homeserver, "https://matrix.example.org");
        assert_eq!(m.user, "@bot:example.org");
        assert_eq!(m.password_file, Some(PathBuf::from("etc/secrets/pw")));
        assert_eq!(m.access_token_file, None);
        assert_eq!(m.command_prefix, "!chat");
        assert_eq!(m.moderator_power_level, 50);
        assert_eq!(m.device_name, "hashchat");
        assert_eq!(
            m.accept_invites_from,
            ["@mod:example.org", "*:lib.example", "*"]
        );
    }

    #[test]
    fn a_bad_matrix_section_is_reported_line_by_line() {
        let errors: Vec<String> = parse(
            Path::new("h.toml"),
            "[matrix]\nhomeserver = \"matrix.example.org\"\nuser = \"bot\"\ncommand_prefix = \"! chat\"\n\
             moderator_power_level = -5\naccept_invites_from = [\"mod\"]\npassword = \"hunter2\"\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "h.toml:2: matrix.homeserver: `matrix.example.org` is not an http(s) URL, e.g. `https://matrix.example.org`",
                "h.toml:3: matrix.user: `bot` is not a Matrix user id (`@name:server`)",
                "h.toml:4: matrix.command_prefix: a command prefix has no spaces, e.g. `!chat`",
                "h.toml:5: matrix.moderator_power_level: -5 is out of range (0 to 1000000)",
                "h.toml:6: matrix.accept_invites_from[1]: `mod` is not `@user:server`, `*:server` or `*`",
                "h.toml:7: matrix.password: unknown key (accepted keys: homeserver, user, access_token_file, password_file, device_name, command_prefix, moderator_power_level, accept_invites_from)",
            ]
        );
        let missing = parse(Path::new("h.toml"), "[matrix]\n").unwrap_err();
        assert_eq!(missing.len(), 2, "{missing:?}");
        assert!(
            missing[0].contains("matrix.homeserver: missing"),
            "{missing:?}"
        );
    }
}
