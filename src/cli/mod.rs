//! Command-line interface: flags are defined once here, with their docs; `--help` is the manual.

mod backup;
mod backup_dir;
mod check_config;
mod common;
mod demo;
mod demo_script;
mod export;
mod import;
mod migrate;
mod platforms;
mod presence;
mod run;
mod serve;
mod sessions;
mod status;
mod summary;
mod transcript;
mod web_room;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// hashchat runs scheduled hashtag chats on Discord and Matrix and keeps every session as a
/// readable transcript.
#[derive(Debug, Parser)]
#[command(name = "hashchat", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bot: the scheduler, the adapters configured, until SIGINT or SIGTERM.
    Run(run::RunArgs),
    /// Run the example chat end to end on accelerated time with scripted demo participants.
    Demo(demo::DemoArgs),
    /// Check the configuration and every chat file; print each problem as FILE:LINE: field: what.
    CheckConfig(ConfigArg),
    /// Apply the database migrations and exit.
    Migrate(StoreArgs),
    /// List sessions: id, chat, start, state, message count.
    Sessions(StoreArgs),
    /// Print one session's transcript as plain text: each point with the answers under it.
    Transcript(transcript::TranscriptArgs),
    /// Export one session's transcript as HTML, Markdown or JSON (to stdout, or --out PATH).
    Export(export::ExportArgs),
    /// Serve the archive on the web: past sessions, search, upcoming chats, /healthz.
    Serve(serve::ServeArgs),
    /// Import a JSON transcript (from `export --format json`) as a new session; prints its id.
    Import(import::ImportArgs),
    /// Copy the SQLite database to a new file, consistently, while the bot runs.
    Backup(backup::BackupArgs),
    /// Show the instances on this database, their platforms, running sessions and the outbox.
    Status(StoreArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// The configuration file [default: config/hashchat.toml, if present; else built-in
    /// defaults].
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Database URL (`sqlite://PATH` or `postgres://…`); overrides HASHCHAT_DATABASE_URL and
    /// the config file.
    #[arg(long, value_name = "URL")]
    db: Option<String>,
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Demo(args) => demo::demo(args).await,
        Command::CheckConfig(args) => Ok(check_config::check_config(&args)),
        Command::Migrate(args) => migrate::migrate(&args).await,
        Command::Sessions(args) => sessions::sessions(&args).await,
        Command::Transcript(args) => transcript::transcript(&args).await,
        Command::Export(args) => export::export(&args).await,
        Command::Import(args) => import::import(&args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Backup(args) => backup::backup(&args).await,
        Command::Status(args) => status::status(&args).await,
    }
}
