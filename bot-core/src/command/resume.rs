//! `resume`: carry on after `pause`.

use super::args::Args;
use super::{Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "resume",
    aliases: &[],
    usage: "resume",
    args: &[],
    moderator_only: true,
    summary: "carry on after a pause",
    help: "Carries on after `pause`: the next question comes when the time that was left at the pause has passed. Use `next` to post it at once.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Resume)
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command, ErrorKind};

    #[test]
    fn takes_no_arguments() {
        assert_eq!(parse("resume").unwrap(), Command::Resume);
        assert_eq!(parse(" RESUME ").unwrap(), Command::Resume);
        let err = parse("resume now").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ExtraArgument);
        assert_eq!(
            err.to_string(),
            "`resume` takes no arguments, but got `now`: resume"
        );
    }
}
