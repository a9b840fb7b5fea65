//! Running the real `hashchat` binary in a scratch directory.

#![allow(dead_code)]

pub mod browser;
pub mod room_page;
pub mod synapse;
pub mod tab;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_hashchat");

/// A scratch directory with a config file and a chats folder.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("chats")).unwrap();
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.path("hashchat.db").display())
    }

    /// A config whose database, chats and data all live in the scratch directory.
    pub fn write_config(&self) -> PathBuf {
        let text = format!(
            "[database]\nurl = \"{}\"\n\n[chats]\ndir = \"chats\"\n\n[data]\ndir = \"{}\"\n",
            self.db_url(),
            self.path("data").display()
        );
        self.write("hashchat.toml", &text)
    }

    pub fn hashchat(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("HASHCHAT_DATABASE_URL")
            .env("RUST_LOG", "info");
        command
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.hashchat(args).output().expect("hashchat runs")
    }

    pub fn spawn(&self, args: &[&str], log: &str) -> Child {
        let log = std::fs::File::create(self.path(log)).unwrap();
        self.hashchat(args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("hashchat starts")
    }
}

/// The `hashchat` binary run again and again in one scratch directory, each run logging to a
/// file of its own (`bot1.log`, `bot2.log`, …): how the platform tests start, kill and read a
/// bot. Dropping it kills a run still going.
pub struct BotProcess {
    pub scratch: Scratch,
    args: Vec<String>,
    child: Option<Child>,
    runs: u32,
}

impl BotProcess {
    pub fn new(scratch: Scratch, args: Vec<String>) -> BotProcess {
        BotProcess {
            scratch,
            args,
            child: None,
            runs: 0,
        }
    }

    /// Starts a run, its stderr to the run's log; `configure` sets its environment.
    pub fn start(&mut self, configure: impl FnOnce(&mut Command)) {
        assert!(self.child.is_none(), "the bot is already running");
        self.runs += 1;
        let log =
            std::fs::File::create(self.scratch.path(&format!("bot{}.log", self.runs))).unwrap();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut command = self.scratch.hashchat(&args);
        configure(&mut command);
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("hashchat starts");
        self.child = Some(child);
    }

    /// SIGKILL: no chance to tidy up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
        }
    }

    /// SIGTERM, and the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the bot is running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        child.wait().expect("hashchat exits")
    }

    /// The session's transcript in `format` (`html`, `md`, `json`), as `hashchat export`
    /// writes it from the bot's archive.
    pub fn export(&self, session: &str, format: &str) -> String {
        let config = self.scratch.path("hashchat.toml");
        let out = self.scratch.output(&[
            "export",
            session,
            "--format",
            format,
            "--config",
            config.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "export failed: {stderr}");
        stdout
    }

    /// The session's transcript document, as `hashchat export --format json` writes it.
    pub fn transcript(&self, session: &str) -> serde_json::Value {
        serde_json::from_str(&self.export(session, "json")).expect("a JSON transcript")
    }

    /// Everything the bot logged, all runs.
    pub fn logs(&self) -> String {
        (1..=self.runs)
            .map(|n| read(&self.scratch.path(&format!("bot{n}.log"))))
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    /// Waits until the bot's log (all runs) holds `needle` `times` times; a timeout fails with
    /// the log.
    pub async fn wait_for_log(&self, needle: &str, times: usize, limit: Duration) {
        let start = Instant::now();
        while self.logs().matches(needle).count() < times {
            assert!(
                start.elapsed() < limit,
                "gave up after {limit:?} waiting for `{needle}` in the bot's log:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until `condition` holds, checking every 50 ms, for at most `limit`.
pub fn wait_for(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "gave up after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A normal run's log: no ERROR an operator would have to look into, and, being a file and
/// not a terminal, no colour codes.
#[allow(dead_code)]
pub fn assert_a_clean_log(logs: &str) {
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in a log file:\n{logs}"
    );
    let errors: Vec<&str> = logs.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "ERROR in a normal run: {errors:#?}");
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A fresh schema of the test PostgreSQL database (`HASHCHAT_TEST_POSTGRES_URL`, as
/// `scripts/test` exports it), as the base URL with `password` put in (trust auth accepts any;
/// `None` keeps the base's) and `options` selecting the schema. Panics when PostgreSQL cannot
/// be reached: a test that needs it never passes without it.
pub fn postgres_schema_url(prefix: &str, password: Option<&str>) -> String {
    use sqlx::{Connection, Executor};
    let base = std::env::var("HASHCHAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("this test needs PostgreSQL at {base}: {e}"));
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .unwrap();
    });
    let base = match password {
        Some(pw) => {
            let (scheme, rest) = base.split_once("://").unwrap();
            let (user, host) = rest.split_once('@').expect("a user in the URL");
            let user = user.split(':').next().unwrap();
            format!("{scheme}://{user}:{pw}@{host}")
        }
        None => base,
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}
