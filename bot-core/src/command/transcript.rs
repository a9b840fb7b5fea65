//! `transcript [session]`: where to read a session's transcript.

use super::args::Args;
use super::{Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "transcript",
    aliases: &[],
    usage: "transcript [session]",
    args: &[Arg {
        name: "session",
        required: false,
        description: "a session number, e.g. 12; the latest session here if left out",
    }],
    moderator_only: false,
    summary: "get a session's transcript",
    help: "Gets the transcript of the latest session in this room, or of the session you name \
           by number, e.g. `transcript 12`. Session numbers are shown by `upcoming` and when a \
           chat starts.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let session = args.optional_session()?;
    args.finish()?;
    Ok(Command::Transcript { session })
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn session_is_optional() {
        assert_eq!(
            parse("transcript").unwrap(),
            Command::Transcript { session: None }
        );
        assert_eq!(
            parse("transcript #7").unwrap(),
            Command::Transcript { session: Some(7) }
        );
        assert!(parse("transcript seven").is_err());
        assert!(parse("transcript 7 8").is_err());
    }
}
