//! `hide [message]`: leave a message out of the transcript.

use super::args::Args;
use super::{Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "hide",
    aliases: &[],
    usage: "hide [message]",
    args: &[Arg {
        name: "message",
        required: false,
        description: "the message's id on this platform; or send the command as a reply to it",
    }],
    moderator_only: true,
    summary: "leave a message out of the transcript",
    help: "Leaves a message out of every transcript (the archive keeps it, and `unhide` brings it back). Send it as a reply to the message, or give the message's id.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let message = args.message()?;
    args.finish()?;
    Ok(Command::Hide { message })
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn names_a_message_or_relies_on_the_reply() {
        assert_eq!(
            parse("hide $abc:example.org").unwrap(),
            Command::Hide {
                message: Some("$abc:example.org".into())
            }
        );
        assert_eq!(parse("hide").unwrap(), Command::Hide { message: None });
        assert!(parse("hide a b").is_err());
    }
}
