//! `upcoming`: list the sessions coming up.

use super::args::Args;
use super::{Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "upcoming",
    aliases: &[],
    usage: "upcoming",
    args: &[],
    moderator_only: false,
    summary: "list the chats coming up",
    help: "Lists the chats coming up, with their times and session numbers. Use a session number with `transcript` later, or, as a moderator, with `cancel`.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Upcoming)
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command, ErrorKind};

    #[test]
    fn takes_no_arguments() {
        assert_eq!(parse("upcoming").unwrap(), Command::Upcoming);
        assert_eq!(parse(" UPCOMING ").unwrap(), Command::Upcoming);
        let err = parse("upcoming now").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ExtraArgument);
        assert_eq!(
            err.to_string(),
            "`upcoming` takes no arguments, but got `now`: upcoming"
        );
    }
}
