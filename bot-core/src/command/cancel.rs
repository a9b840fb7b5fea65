//! `cancel <session>`: call off a scheduled session before it starts.

use super::args::Args;
use super::{Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "cancel",
    aliases: &[],
    usage: "cancel <session>",
    args: &[Arg {
        name: "session",
        required: true,
        description: "the session number that upcoming shows, e.g. 12",
    }],
    moderator_only: true,
    summary: "call off a scheduled session",
    help: "Calls off a session that hasn't started yet. Give the session number that \
           `upcoming` or `schedule` showed, e.g. `cancel 12` or `cancel #12`. To end a chat \
           that is already running, use `stop`.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let session = args.session()?;
    args.finish()?;
    Ok(Command::Cancel { session })
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command, ErrorKind};

    #[test]
    fn takes_a_session_number() {
        assert_eq!(parse("cancel 12").unwrap(), Command::Cancel { session: 12 });
        assert_eq!(
            parse("cancel #12").unwrap(),
            Command::Cancel { session: 12 }
        );
        assert_eq!(
            parse("cancel session:3").unwrap(),
            Command::Cancel { session: 3 }
        );
    }

    #[test]
    fn rejects_anything_else() {
        assert_eq!(
            parse("cancel").unwrap_err().to_string(),
            "`cancel` needs a session number: cancel <session>"
        );
        let err = parse("cancel interlibnet").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            err.to_string(),
            "`interlibnet` is not a session number (a whole number such as `12` or `#12`, as \
             `upcoming` shows): cancel <session>"
        );
        for bad in [
            "cancel 0",
            "cancel -4",
            "cancel 99999999999999999999",
            "cancel 1 2",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
