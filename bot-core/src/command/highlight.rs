//! `highlight [message]`: make a message stand out in the transcript.

use super::args::Args;
use super::{Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "highlight",
    aliases: &[],
    usage: "highlight [message]",
    args: &[Arg {
        name: "message",
        required: false,
        description: "the message's id on this platform; or send the command as a reply to it",
    }],
    moderator_only: true,
    summary: "make a message stand out in the transcript",
    help: "Marks a message as a highlight of the session: it stands out in every transcript. Send it as a reply to the message, or give the message's id.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let message = args.message()?;
    args.finish()?;
    Ok(Command::Highlight { message })
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn names_a_message_or_relies_on_the_reply() {
        assert_eq!(
            parse("highlight $abc:example.org").unwrap(),
            Command::Highlight {
                message: Some("$abc:example.org".into())
            }
        );
        assert_eq!(
            parse("highlight").unwrap(),
            Command::Highlight { message: None }
        );
        assert!(parse("highlight a b").is_err());
    }
}
