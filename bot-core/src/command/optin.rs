//! `optin`: let your words back into transcripts.

use super::args::Args;
use super::{Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "optin",
    aliases: &[],
    usage: "optin",
    args: &[],
    moderator_only: false,
    summary: "let your words back into transcripts",
    help: "Undoes `optout`: your messages appear in transcripts again.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::OptIn)
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn takes_no_arguments() {
        assert_eq!(parse("optin").unwrap(), Command::OptIn);
        assert!(parse("optin please").is_err());
    }
}
