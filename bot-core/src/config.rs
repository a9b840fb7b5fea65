//! The bot's own settings: `hashchat.toml`.
//!
//! Everything has a default, so the bot runs without a file ([`Config::default`] behaves as if
//! `config/hashchat.toml` existed and was empty). Secrets never live here. See
//! `config/hashchat.toml` for the documented example; every problem is reported as
//! `FILE:LINE: field: message`, and unknown keys are errors.

use std::path::{Path, PathBuf};

use chrono::Duration;

use crate::chat::{load_chat_dir, parse_document, read_text, LocatedError, Node, Reader};

/// Keys accepted at the top of hashchat.toml (all tables).
pub const CONFIG_KEYS: &[&str] = &[
    "database",
    "chats",
    "scheduler",
    "log",
    "data",
    "media",
    "web",
    "matrix",
];

/// Environment variable that overrides `database.url` (applied by the binary).
pub const DATABASE_URL_ENV: &str = "HASHCHAT_DATABASE_URL";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file this was read from; `None` for the defaults.
    pub source: Option<PathBuf>,
    /// Directory of the config file: `chats.dir` is relative to it.
    pub base_dir: PathBuf,
    pub database: DatabaseConfig,
    pub chats: ChatsConfig,
    pub scheduler: SchedulerConfig,
    pub log: LogConfig,
    pub data: DataConfig,
    pub media: MediaConfig,
    pub web: WebConfig,
    /// `None`: the bot does not sit on Matrix.
    pub matrix: Option<MatrixConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (relative paths are relative to the working directory) or
    /// `postgres://…`. `HASHCHAT_DATABASE_URL` overrides it.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatsConfig {
    /// Directory of chat files, relative to the config file's directory.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// A session whose start passed more than this long ago while the bot was down is marked
    /// missed rather than started late.
    pub catch_up_grace_minutes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive; `RUST_LOG` overrides it.
    pub level: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataConfig {
    /// Media and local state, relative to the working directory.
    pub dir: PathBuf,
}

/// Copies of attachments and avatars (in `data.dir`/media).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Files larger than this are not copied (the transcript links to the original); 0 copies
    /// nothing.
    pub max_megabytes: u32,
}

/// The archive's web server (`hashchat serve`; `hashchat run` starts it too when `listen` is
/// set).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebConfig {
    /// `HOST:PORT` to listen on, e.g. `127.0.0.1:8080`; `None`: `run` starts no web server.
    pub listen: Option<std::net::SocketAddr>,
}

/// The bot's Matrix account and how it behaves in rooms. Secrets are never in the file: the
/// access token or password comes from [`MATRIX_ACCESS_TOKEN_ENV`] / [`MATRIX_PASSWORD_ENV`] or
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

pub const MATRIX_ACCESS_TOKEN_ENV: &str = "HASHCHAT_MATRIX_ACCESS_TOKEN";
pub const MATRIX_PASSWORD_ENV: &str = "HASHCHAT_MATRIX_PASSWORD";
pub const DEFAULT_MATRIX_PREFIX: &str = "!chat";
pub const DEFAULT_MATRIX_MODERATOR_LEVEL: u32 = 50;

pub const DEFAULT_MEDIA_MAX_MEGABYTES: u32 = 20;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/hashchat.db";
pub const DEFAULT_CATCH_UP_GRACE_MINUTES: u32 = 30;

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            base_dir: PathBuf::from("config"),
            database: DatabaseConfig {
                url: DEFAULT_DATABASE_URL.to_owned(),
            },
            chats: ChatsConfig {
                dir: PathBuf::from("chats"),
            },
            scheduler: SchedulerConfig {
                catch_up_grace_minutes: DEFAULT_CATCH_UP_GRACE_MINUTES,
            },
            log: LogConfig {
                format: LogFormat::Human,
                level: "info".to_owned(),
            },
            data: DataConfig {
                dir: PathBuf::from("data"),
            },
            media: MediaConfig {
                max_megabytes: DEFAULT_MEDIA_MAX_MEGABYTES,
            },
            web: WebConfig::default(),
            matrix: None,
        }
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, Vec<LocatedError>> {
        let text = read_text(path).map_err(|e| vec![e])?;
        Config::parse(path, &text)
    }

    /// Checks config text; `path` names it in messages and anchors `chats.dir`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, Vec<LocatedError>> {
        let (config, errors) = read_config(path, text);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// The chats directory: `chats.dir` joined to the config file's directory.
    pub fn chats_dir(&self) -> PathBuf {
        self.base_dir.join(&self.chats.dir)
    }

    /// The data directory (relative to the working directory unless absolute).
    pub fn data_dir(&self) -> &Path {
        &self.data.dir
    }

    /// Where copies of media are kept: `media` under the data directory.
    pub fn media_dir(&self) -> PathBuf {
        self.data.dir.join("media")
    }

    /// The largest file copied into the media store, in bytes (0: copy nothing).
    pub fn media_max_bytes(&self) -> u64 {
        u64::from(self.media.max_megabytes) * 1024 * 1024
    }

    /// The database URL from the file (the binary applies `HASHCHAT_DATABASE_URL` on top).
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    pub fn catch_up_grace(&self) -> Duration {
        Duration::minutes(i64::from(self.scheduler.catch_up_grace_minutes))
    }
}

/// Checks the config file and every chat in its chats directory; empty means all is well.
pub fn check(config_path: &Path) -> Vec<LocatedError> {
    let text = match read_text(config_path) {
        Ok(text) => text,
        Err(e) => return vec![e],
    };
    let (config, mut errors) = read_config(config_path, &text);
    // Check the chats even when other settings are wrong, unless `chats` itself is.
    if !errors.iter().any(|e| e.field.starts_with("chats")) {
        if let Err(e) = load_chat_dir(&config.chats_dir()) {
            errors.extend(e);
        }
    }
    errors
}

/// The config with defaults for anything absent or wrong, and every problem found.
fn read_config(path: &Path, text: &str) -> (Config, Vec<LocatedError>) {
    let mut config = Config {
        source: Some(path.to_path_buf()),
        base_dir: match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
        ..Config::default()
    };
    let doc = match parse_document(path, text) {
        Ok(doc) => doc,
        Err(e) => return (config, vec![e]),
    };
    let mut r = Reader::new(path, text);
    let root = Node::root(doc.as_table());
    r.unknown_keys(&root, CONFIG_KEYS);

    if let Some(node) = r.table(&root, "database") {
        r.unknown_keys(&node, &["url"]);
        if let Some(url) = r.string(&node, "url", None) {
            let v = url.value.trim();
            let sqlite = v.strip_prefix("sqlite:").map(|p| p.trim_start_matches('/'));
            let ok = match sqlite {
                Some(p) => !p.is_empty(),
                None => v
                    .strip_prefix("postgres://")
                    .or_else(|| v.strip_prefix("postgresql://"))
                    .is_some_and(|rest| !rest.is_empty()),
            };
            if ok {
                config.database.url = v.to_owned();
            } else {
                r.error(
                    url.line,
                    url.field,
                    format!(
                        "`{}` is not a database URL (`sqlite://PATH` or `postgres://USER@HOST/DB`)",
                        url.value
                    ),
                );
            }
        }
    }
    if let Some(node) = r.table(&root, "chats") {
        r.unknown_keys(&node, &["dir"]);
        if let Some(dir) = r.text(&node, "dir", None, 4096, "") {
            config.chats.dir = PathBuf::from(dir.value);
        }
    }
    if let Some(node) = r.table(&root, "scheduler") {
        r.unknown_keys(&node, &["catch_up_grace_minutes"]);
        if let Some(Some(m)) = r.integer(&node, "catch_up_grace_minutes", 0..=10_080) {
            config.scheduler.catch_up_grace_minutes = m;
        }
    }
    if let Some(node) = r.table(&root, "log") {
        r.unknown_keys(&node, &["format", "level"]);
        if let Some(format) = r.string(&node, "format", None) {
            match format.value.as_str() {
                "human" => config.log.format = LogFormat::Human,
                "json" => config.log.format = LogFormat::Json,
                other => r.error(
                    format.line,
                    format.field,
                    format!("unknown format `{other}` (accepted: human, json)"),
                ),
            }
        }
        if let Some(level) = r.text(&node, "level", None, 4096, "") {
            if level.value.chars().any(char::is_whitespace) {
                r.error(
                    level.line,
                    level.field,
                    "a tracing filter has no spaces, e.g. `info` or `info,bot_core=debug`",
                );
            } else {
                config.log.level = level.value;
            }
        }
    }
    if let Some(node) = r.table(&root, "data") {
        r.unknown_keys(&node, &["dir"]);
        if let Some(dir) = r.text(&node, "dir", None, 4096, "") {
            config.data.dir = PathBuf::from(dir.value);
        }
    }
    if let Some(node) = r.table(&root, "media") {
        r.unknown_keys(&node, &["max_megabytes"]);
        if let Some(Some(m)) = r.integer(&node, "max_megabytes", 0..=4096) {
            config.media.max_megabytes = m;
        }
    }
    if let Some(node) = r.table(&root, "web") {
        r.unknown_keys(&node, &["listen"]);
        if let Some(listen) = r.string(&node, "listen", None) {
            match listen.value.trim().parse::<std::net::SocketAddr>() {
                Ok(addr) => config.web.listen = Some(addr),
                Err(_) => r.error(
                    listen.line,
                    listen.field,
                    format!(
                        "`{}` is not an address to listen on (IP:PORT, e.g. `127.0.0.1:8080`)",
                        listen.value
                    ),
                ),
            }
        }
    }
    if let Some(node) = r.table(&root, "matrix") {
        config.matrix = read_matrix(&mut r, &node, &config.base_dir);
    }
    (config, r.into_errors())
}

fn read_matrix(r: &mut Reader<'_>, node: &Node<'_>, base_dir: &Path) -> Option<MatrixConfig> {
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
        r.text(node, key, None, 4096, "").map(|f| {
            let path = PathBuf::from(f.value);
            if path.is_relative() {
                base_dir.join(path)
            } else {
                path
            }
        })
    };
    let access_token_file = file(r, "access_token_file");
    let password_file = file(r, "password_file");
    let device_name = r
        .text(node, "device_name", None, 100, "")
        .map_or_else(|| "hashchat".to_owned(), |d| d.value);
    let command_prefix = match r.text(node, "command_prefix", None, 32, "") {
        Some(p) if p.value.contains(char::is_whitespace) => {
            r.error(
                p.line,
                p.field,
                "a command prefix has no spaces, e.g. `!chat`",
            );
            ok = false;
            String::new()
        }
        Some(p) => p.value,
        None => DEFAULT_MATRIX_PREFIX.to_owned(),
    };
    let moderator_power_level = match r.integer(node, "moderator_power_level", 0..=1_000_000) {
        Some(level) => level.unwrap_or(DEFAULT_MATRIX_MODERATOR_LEVEL),
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

fn is_matrix_user_id(id: &str) -> bool {
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
    use super::*;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hashchat.toml")
    }

    #[test]
    fn the_shipped_config_and_chats_pass_check() {
        let errors = check(&shipped());
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{lines:#?}");
        let config = Config::load(&shipped()).unwrap();
        assert!(config.chats_dir().ends_with("config/chats"));
        let chats = load_chat_dir(&config.chats_dir()).unwrap();
        assert!(chats.iter().any(|c| c.slug == "interlibnet"));
    }

    #[test]
    fn the_web_section_is_read_and_checked() {
        assert_eq!(Config::default().web.listen, None);
        let config =
            Config::parse(Path::new("h.toml"), "[web]\nlisten = \"127.0.0.1:8080\"\n").unwrap();
        assert_eq!(config.web.listen, Some("127.0.0.1:8080".parse().unwrap()));
        let errors: Vec<String> = Config::parse(
            Path::new("h.toml"),
            "[web]\nlisten = \"localhost\"\nport = 1\n",
        )
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            errors,
            [
                "h.toml:2: web.listen: `localhost` is not an address to listen on (IP:PORT, e.g. `127.0.0.1:8080`)",
                "h.toml:3: web.port: unknown key (accepted keys: listen)",
            ]
        );
    }

    #[test]
    fn the_matrix_section_is_read_with_defaults() {
        assert_eq!(Config::default().matrix, None);
        let config = Config::parse(
            Path::new("etc/h.toml"),
            "[matrix]\nhomeserver = \"https://matrix.example.org/\"\nuser = \"@bot:example.org\"\n\
             password_file = \"secrets/pw\"\naccept_invites_from = [\"@mod:example.org\", \"*:lib.example\", \"*\"]\n",
        )
        .unwrap();
        let m = config.matrix.unwrap();
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
        let errors: Vec<String> = Config::parse(
            Path::new("h.toml"),
            "[matrix]\nhomeserver = \"matrix.example.org\"\nuser = \"bot\"\ncommand_prefix = \"! chat\"\n\
             moderator_power_level = -5\naccept_invites_from = [\"mod\"]\npassword = \"hunter2\"\n",
        )
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
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
        let missing: Vec<String> = Config::parse(Path::new("h.toml"), "[matrix]\n")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(missing.len(), 2, "{missing:?}");
        assert!(
            missing[0].contains("matrix.homeserver: missing"),
            "{missing:?}"
        );
    }

    #[test]
    fn defaults_apply_to_an_empty_file_and_without_a_file() {
        let config = Config::parse(Path::new("etc/hashchat.toml"), "").unwrap();
        assert_eq!(config.chats_dir(), Path::new("etc/chats"));
        assert_eq!(config.database_url(), DEFAULT_DATABASE_URL);
        assert_eq!(config.catch_up_grace(), Duration::minutes(30));
        assert_eq!(config.log.format, LogFormat::Human);
        let default = Config::default();
        assert_eq!(default.chats_dir(), Path::new("config/chats"));
        assert_eq!(default.data_dir(), Path::new("data"));
        let bare = Config::parse(Path::new("hashchat.toml"), "").unwrap();
        assert_eq!(bare.chats_dir(), Path::new("./chats"));
    }

    #[test]
    fn config_problems_are_all_reported_with_lines() {
        let text = "\
[database]
url = \"mysql://x\"
[log]
format = \"xml\"
levl = \"debug\"
[scheduler]
catch_up_grace_minutes = -5
[extra]
";
        let errors: Vec<String> = Config::parse(Path::new("h.toml"), text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "h.toml:2: database.url: `mysql://x` is not a database URL (`sqlite://PATH` or `postgres://USER@HOST/DB`)",
                "h.toml:4: log.format: unknown format `xml` (accepted: human, json)",
                "h.toml:5: log.levl: unknown key (did you mean `level`?)",
                "h.toml:7: scheduler.catch_up_grace_minutes: -5 is out of range (0 to 10080)",
                "h.toml:8: extra: unknown key (accepted keys: database, chats, scheduler, log, data, media, web, matrix)",
            ]
        );
    }

    #[test]
    fn check_reports_chat_errors_and_a_missing_chats_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hashchat.toml");
        std::fs::write(&config, "[chats]\ndir = \"nowhere\"\n").unwrap();
        let errors = check(&config);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].file.ends_with("nowhere"));
        assert!(errors[0].message.starts_with("cannot read chat directory"));

        std::fs::create_dir(dir.path().join("chats")).unwrap();
        std::fs::write(dir.path().join("chats/a.toml"), "slug = 1\n").unwrap();
        std::fs::write(&config, "[log]\nformat = \"xml\"\n").unwrap();
        let errors = check(&config);
        assert!(errors.iter().any(|e| e.field == "log.format"));
        assert!(errors
            .iter()
            .any(|e| e.file.ends_with("a.toml") && e.field == "slug"));
        assert!(!check(&dir.path().join("missing.toml")).is_empty());
    }
}
