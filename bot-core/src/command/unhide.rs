//! `unhide [message]`: put a hidden message back.

use super::args::Args;
use super::{Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "unhide",
    aliases: &[],
    usage: "unhide [message]",
    args: &[Arg {
        name: "message",
        required: false,
        description: "the message's id on this platform; or send the command as a reply to it",
    }],
    moderator_only: true,
    summary: "put a hidden message back",
    help: "Puts a message hidden with `hide` back into the transcripts and, while its session runs, into the session's other rooms (as a new message at the end). Send it as a reply to the message, or give the message's id.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let message = args.message()?;
    args.finish()?;
    Ok(Command::Unhide { message })
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn names_a_message_or_relies_on_the_reply() {
        assert_eq!(
            parse("unhide $abc:example.org").unwrap(),
            Command::Unhide {
                message: Some("$abc:example.org".into())
            }
        );
        assert_eq!(parse("unhide").unwrap(), Command::Unhide { message: None });
        assert!(parse("unhide a b").is_err());
    }
}
