//! `hashchat check-config`: validate the config and every chat file.

use std::path::PathBuf;
use std::process::ExitCode;

use super::common::{platforms, problems, DEFAULT_CONFIG};
use super::ConfigArg;

pub fn check_config(arg: &ConfigArg) -> ExitCode {
    let path = arg
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let errors = bot_core::config::check(&path, &platforms());
    if errors.is_empty() {
        println!("{}: OK", path.display());
        ExitCode::SUCCESS
    } else {
        for error in &errors {
            println!("{error}");
        }
        eprintln!("{} found", problems(errors.len()));
        ExitCode::FAILURE
    }
}
