//! The bot's own settings: `hashchat.toml`.
//!
//! Everything has a default, so the bot runs without a file ([`Config::default`] behaves as if
//! `config/hashchat.toml` existed and was empty). Secrets never live here. See
//! `config/hashchat.toml` for the documented example; every problem is reported as
//! `FILE:LINE: field: message`, and unknown keys are errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Duration;

use crate::chat::{load_chat_dir, parse_document, read_text, LocatedError, Node, Reader};
use crate::platforms::Platforms;

/// Keys accepted at the top of hashchat.toml (all tables).
pub const CONFIG_KEYS: &[&str] = &[
    "database",
    "chats",
    "scheduler",
    "log",
    "data",
    "media",
    "web",
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
    /// The tables that platform adapters own (`[matrix]`, `[discord]`), for them to read.
    pub platforms: Vec<PlatformSection>,
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

/// The web server: the archive (`hashchat serve`, and `hashchat run`) and the browser room
/// (`hashchat run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// `HOST:PORT` to listen on; `None`: [`WebConfig::DEFAULT_LISTEN`].
    pub listen: Option<std::net::SocketAddr>,
    /// Whether `hashchat run` starts the web server (`enabled = false` keeps it off).
    pub enabled: bool,
    /// A file holding the moderators' secret for the browser room's sign-in, relative to the
    /// config file's directory (the environment's
    /// `HASHCHAT_WEB_MODERATOR_TOKEN` wins). With neither, `run` prints a one-time sign-in link.
    pub moderator_token_file: Option<PathBuf>,
    /// The largest file a browser-room participant may attach, in megabytes (at most 50, and
    /// never more than `media.max_megabytes`); 0, the default: the room takes no files.
    pub max_upload_megabytes: u32,
    /// Whether the server sits behind a reverse proxy that names each client last in
    /// `X-Forwarded-For`: the browser room's per-address limits then count clients, not the
    /// proxy. Only safe when nothing but the proxy can reach the server.
    pub behind_proxy: bool,
    /// Where people reach the archive (`https://chats.example.org`, no trailing `/`): the bot
    /// then links to it, `transcript` answering with a session's page and reminders and
    /// wrap-ups linking to the chat's sessions and the transcript. `None`: no links.
    pub public_url: Option<String>,
}

impl WebConfig {
    /// Where the web server listens unless `listen` says otherwise.
    pub const DEFAULT_LISTEN: std::net::SocketAddr = std::net::SocketAddr::V4(
        std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 8080),
    );

    /// The address to listen on.
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        self.listen.unwrap_or(Self::DEFAULT_LISTEN)
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: None,
            enabled: true,
            moderator_token_file: None,
            max_upload_megabytes: 0,
            behind_proxy: false,
            public_url: None,
        }
    }
}

/// A table of hashchat.toml that a platform's adapter owns (`[matrix]`, `[discord]`). The core
/// only checks that an adapter claims it; the adapter reads it with [`PlatformSection::read`],
/// through the core's located reader, so its problems are reported as
/// `FILE:LINE: field: message` like every other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSection {
    name: String,
    file: PathBuf,
    text: Arc<str>,
    base_dir: PathBuf,
}

impl PlatformSection {
    /// The table's name, e.g. `matrix`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A file named in the table is relative to this: the config file's directory.
    pub fn resolve(&self, path: impl Into<PathBuf>) -> PathBuf {
        let path = path.into();
        if path.is_relative() {
            self.base_dir.join(path)
        } else {
            path
        }
    }

    /// Reads the table with `read`, which reports each problem through the reader and returns
    /// `None` when it found any: the adapter's settings, or every problem, in file order.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&mut Reader<'_>, &Node<'_>) -> Option<T>,
    ) -> Result<T, Vec<LocatedError>> {
        let doc = parse_document(&self.file, &self.text).map_err(|e| vec![e])?;
        let mut r = Reader::new(&self.file, &self.text);
        let root = Node::root(doc.as_table());
        let Some(node) = r.table(&root, &self.name) else {
            let mut errors = r.into_errors();
            if errors.is_empty() {
                errors.push(LocatedError::new(&self.file, 1, &self.name, "missing"));
            }
            return Err(errors);
        };
        let value = read(&mut r, &node);
        let errors = r.into_errors();
        match value {
            Some(value) if errors.is_empty() => Ok(value),
            _ if !errors.is_empty() => Err(errors),
            _ => Err(vec![LocatedError::new(
                &self.file,
                node.line,
                &self.name,
                "could not be read",
            )]),
        }
    }
}

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
            platforms: Vec::new(),
        }
    }
}

impl Config {
    /// Reads and checks a config file, with the tables and rules of `platforms`.
    pub fn load(path: &Path, platforms: &Platforms) -> Result<Config, Vec<LocatedError>> {
        let text = read_text(path).map_err(|e| vec![e])?;
        Config::parse(path, &text, platforms)
    }

    /// Checks config text; `path` names it in messages and anchors `chats.dir`.
    pub fn parse(
        path: &Path,
        text: &str,
        platforms: &Platforms,
    ) -> Result<Config, Vec<LocatedError>> {
        let (config, errors) = read_config(path, text, platforms);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// The table `name` (`matrix`), when the file has it.
    pub fn platform(&self, name: &str) -> Option<&PlatformSection> {
        self.platforms.iter().find(|p| p.name == name)
    }

    /// The chats directory: `chats.dir` joined to the config file's directory.
    pub fn chats_dir(&self) -> PathBuf {
        self.base_dir.join(&self.chats.dir)
    }

    /// The moderators' secret file, joined to the config file's directory when relative.
    pub fn moderator_token_file(&self) -> Option<PathBuf> {
        self.web
            .moderator_token_file
            .as_ref()
            .map(|f| self.base_dir.join(f))
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

/// Checks the config file (its platform tables by their adapters' rules) and every chat in its
/// chats directory; empty means all is well.
pub fn check(config_path: &Path, platforms: &Platforms) -> Vec<LocatedError> {
    let text = match read_text(config_path) {
        Ok(text) => text,
        Err(e) => return vec![e],
    };
    let (config, mut errors) = read_config(config_path, &text, platforms);
    // Check the chats even when other settings are wrong, unless `chats` itself is.
    if !errors.iter().any(|e| e.field.starts_with("chats")) {
        if let Err(e) = load_chat_dir(&config.chats_dir(), platforms) {
            errors.extend(e);
        }
    }
    errors
}

/// The config with defaults for anything absent or wrong, and every problem found, the platform
/// tables' by their owners, in file order.
fn read_config(path: &Path, text: &str, platforms: &Platforms) -> (Config, Vec<LocatedError>) {
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
    let sections = platforms.config_sections();
    let accepted: Vec<&str> = CONFIG_KEYS
        .iter()
        .copied()
        .chain(sections.iter().copied())
        .collect();
    r.unknown_keys(&root, &accepted);
    let shared_text: Arc<str> = Arc::from(text);
    for name in sections {
        if r.table(&root, name).is_some() {
            config.platforms.push(PlatformSection {
                name: name.to_owned(),
                file: path.to_path_buf(),
                text: shared_text.clone(),
                base_dir: config.base_dir.clone(),
            });
        }
    }

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
        r.unknown_keys(
            &node,
            &[
                "listen",
                "public_url",
                "enabled",
                "moderator_token_file",
                "max_upload_megabytes",
                "behind_proxy",
            ],
        );
        if let Some(Some(behind)) = r.boolean(&node, "behind_proxy") {
            config.web.behind_proxy = behind;
        }
        if let Some(Some(m)) = r.integer(&node, "max_upload_megabytes", 0..=50) {
            config.web.max_upload_megabytes = m;
        }
        if let Some(Some(enabled)) = r.boolean(&node, "enabled") {
            config.web.enabled = enabled;
        }
        if let Some(file) = r.string(&node, "moderator_token_file", None) {
            config.web.moderator_token_file = Some(PathBuf::from(file.value));
        }
        if let Some(url) = r.string(&node, "public_url", None) {
            let value = url.value.trim().trim_end_matches('/');
            let lower = value.to_ascii_lowercase();
            let web = (lower.starts_with("https://") || lower.starts_with("http://"))
                && value.len() > "https://".len()
                && value.len() <= 512
                && !value.contains(|c: char| c.is_whitespace() || c.is_control())
                && !value.contains(['?', '#', '"', '<', '>']);
            if web {
                config.web.public_url = Some(value.to_owned());
            } else {
                r.error(
                    url.line,
                    url.field,
                    format!(
                        "`{}` is not the archive's address (an http or https URL without query or fragment, e.g. `https://chats.example.org`)",
                        url.value
                    ),
                );
            }
        }
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
    let mut errors = r.into_errors();
    for section in &config.platforms {
        if let Some(owner) = platforms.owner_of(&section.name) {
            errors.extend(owner.check_config(section));
        }
    }
    errors.sort_by_key(|e| e.line);
    (config, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hashchat.toml")
    }

    #[test]
    fn the_shipped_config_and_chats_pass_check() {
        let platforms = crate::platforms::shipped();
        let errors = check(&shipped(), &platforms);
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{lines:#?}");
        let config = Config::load(&shipped(), &platforms).unwrap();
        assert!(config.chats_dir().ends_with("config/chats"));
        let chats = load_chat_dir(&config.chats_dir(), &platforms).unwrap();
        assert!(chats.iter().any(|c| c.slug == "interlibnet"));
    }

    #[test]
    fn the_web_section_is_read_and_checked() {
        assert_eq!(Config::default().web.listen, None);
        let config = Config::parse(
            Path::new("h.toml"),
            "[web]\nlisten = \"127.0.0.1:8080\"\n",
            &Platforms::default(),
        )
        .unwrap();
        assert_eq!(config.web.listen, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(config.web.public_url, None);
        let config = Config::parse(
            Path::new("h.toml"),
            "[web]\npublic_url = \"https://chats.example.org/\"\n",
            &Platforms::default(),
        )
        .unwrap();
        assert_eq!(
            config.web.public_url.as_deref(),
            Some("https://chats.example.org")
        );
        let errors = Config::parse(
            Path::new("h.toml"),
            "[web]\npublic_url = \"javascript:alert(1)\"\n",
            &Platforms::default(),
        )
        .unwrap_err();
        assert!(
            errors[0].to_string().starts_with(
                "h.toml:2: web.public_url: `javascript:alert(1)` is not the archive's address"
            ),
            "{errors:?}"
        );
        let errors: Vec<String> = Config::parse(
            Path::new("h.toml"),
            "[web]\nlisten = \"localhost\"\nport = 1\n",
            &Platforms::default(),
        )
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            errors,
            [
                "h.toml:2: web.listen: `localhost` is not an address to listen on (IP:PORT, e.g. `127.0.0.1:8080`)",
                "h.toml:3: web.port: unknown key (accepted keys: listen, public_url, enabled, moderator_token_file, max_upload_megabytes, behind_proxy)",
            ]
        );
    }

    use crate::platforms::fake::{read_name as read_fake, with_fake};

    #[test]
    fn a_platform_table_is_kept_for_its_adapter_which_reads_it_with_lines() {
        let config = Config::parse(
            Path::new("etc/h.toml"),
            "[log]\nlevel = \"info\"\n[fake]\nname = \"bot\"\n",
            &with_fake(),
        )
        .unwrap();
        let section = config.platform("fake").expect("kept");
        assert_eq!(section.read(read_fake), Ok("bot".to_owned()));
        assert_eq!(section.resolve("pw"), Path::new("etc/pw"));
        assert_eq!(section.resolve("/abs/pw"), Path::new("/abs/pw"));

        let errors: Vec<String> = Config::parse(
            Path::new("h.toml"),
            "[fake]\nname = \"far too long\"\nnick = 1\n",
            &with_fake(),
        )
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            errors,
            [
                "h.toml:2: fake.name: too long: 12 characters (at most 8)",
                "h.toml:3: fake.nick: unknown key (accepted keys: name)",
            ]
        );
    }

    #[test]
    fn a_platform_table_no_adapter_owns_is_an_unknown_key() {
        let errors: Vec<String> = Config::parse(
            Path::new("h.toml"),
            "[fake]\nname = \"bot\"\n",
            &Platforms::default(),
        )
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            errors,
            ["h.toml:1: fake: unknown key (accepted keys: database, chats, scheduler, log, data, media, web)"]
        );
    }

    #[test]
    fn check_reports_platform_problems_in_line_order_with_the_others() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("chats")).unwrap();
        let config = dir.path().join("hashchat.toml");
        std::fs::write(
            &config,
            "[fake]\nname = \"far too long\"\n[log]\nformat = \"xml\"\n",
        )
        .unwrap();
        let fields: Vec<String> = check(&config, &with_fake())
            .into_iter()
            .map(|e| format!("{}:{}", e.line, e.field))
            .collect();
        assert_eq!(fields, ["2:fake.name", "4:log.format"]);
    }

    #[test]
    fn defaults_apply_to_an_empty_file_and_without_a_file() {
        let config =
            Config::parse(Path::new("etc/hashchat.toml"), "", &Platforms::default()).unwrap();
        assert_eq!(config.chats_dir(), Path::new("etc/chats"));
        assert_eq!(config.database_url(), DEFAULT_DATABASE_URL);
        assert_eq!(config.catch_up_grace(), Duration::minutes(30));
        assert_eq!(config.log.format, LogFormat::Human);
        let default = Config::default();
        assert_eq!(default.chats_dir(), Path::new("config/chats"));
        assert_eq!(default.data_dir(), Path::new("data"));
        let bare = Config::parse(Path::new("hashchat.toml"), "", &Platforms::default()).unwrap();
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
        let errors: Vec<String> = Config::parse(Path::new("h.toml"), text, &Platforms::default())
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
                "h.toml:8: extra: unknown key (accepted keys: database, chats, scheduler, log, data, media, web)",
            ]
        );
    }

    #[test]
    fn check_reports_chat_errors_and_a_missing_chats_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hashchat.toml");
        std::fs::write(&config, "[chats]\ndir = \"nowhere\"\n").unwrap();
        let errors = check(&config, &Platforms::default());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].file.ends_with("nowhere"));
        assert!(errors[0].message.starts_with("cannot read chat directory"));

        std::fs::create_dir(dir.path().join("chats")).unwrap();
        std::fs::write(dir.path().join("chats/a.toml"), "slug = 1\n").unwrap();
        std::fs::write(&config, "[log]\nformat = \"xml\"\n").unwrap();
        let errors = check(&config, &Platforms::default());
        assert!(errors.iter().any(|e| e.field == "log.format"));
        assert!(errors
            .iter()
            .any(|e| e.file.ends_with("a.toml") && e.field == "slug"));
        assert!(!check(&dir.path().join("missing.toml"), &Platforms::default()).is_empty());
    }
}
