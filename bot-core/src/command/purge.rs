//! `purge`: erase the archived words of people who opted out.

use super::args::Args;
use super::{Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "purge",
    aliases: &[],
    usage: "purge",
    args: &[],
    moderator_only: true,
    summary: "erase the archived words of people who opted out",
    help: "Erases, for good, the archived text, edits and attachments of everyone who opted out, \
           in every session of this room's chat. Until then the archive keeps their words \
           (transcripts already show them as withheld). This cannot be undone.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Purge)
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn takes_no_arguments() {
        assert_eq!(parse("purge").unwrap(), Command::Purge);
        assert!(parse("purge everyone").is_err());
    }
}
