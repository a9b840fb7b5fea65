//! `pause`: hold the running session's questions until `resume`.

use super::args::Args;
use super::{Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "pause",
    aliases: &[],
    usage: "pause",
    args: &[],
    moderator_only: true,
    summary: "hold the questions for a while",
    help: "Holds the chat running in this room: no new questions are posted until you `resume`. People can keep talking, and everything still goes into the transcript.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Pause)
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command, ErrorKind};

    #[test]
    fn takes_no_arguments() {
        assert_eq!(parse("pause").unwrap(), Command::Pause);
        assert_eq!(parse(" PAUSE ").unwrap(), Command::Pause);
        let err = parse("pause now").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ExtraArgument);
        assert_eq!(
            err.to_string(),
            "`pause` takes no arguments, but got `now`: pause"
        );
    }
}
