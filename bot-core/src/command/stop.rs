//! `stop`: end the session running in the room.

use super::args::Args;
use super::{Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "stop",
    aliases: &[],
    usage: "stop",
    args: &[],
    moderator_only: true,
    summary: "end the chat running here",
    help: "Ends the chat running in this room: the wrap-up is posted and the transcript is kept. A stopped chat can't be picked up again; use `pause` for a break.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Stop)
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command, ErrorKind};

    #[test]
    fn takes_no_arguments() {
        assert_eq!(parse("stop").unwrap(), Command::Stop);
        assert_eq!(parse(" STOP ").unwrap(), Command::Stop);
        let err = parse("stop now").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ExtraArgument);
        assert_eq!(
            err.to_string(),
            "`stop` takes no arguments, but got `now`: stop"
        );
    }
}
