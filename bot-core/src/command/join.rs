//! `join <chat>`: sign up for a chat and be reminded before it starts.

use super::args::Args;
use super::{Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "join",
    aliases: &[],
    usage: "join <chat>",
    args: &[Arg {
        name: "chat",
        required: true,
        description: "the chat's short name or hashtag, e.g. interlibnet",
    }],
    moderator_only: false,
    summary: "get reminded before a chat",
    help: "Signs you up for the chat: you're mentioned in its reminder before each session. \
           `leave` undoes it. Example: `join interlibnet`.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let chat = args.chat()?;
    args.finish()?;
    Ok(Command::Join { chat })
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn takes_one_chat() {
        assert_eq!(
            parse("join #interlibnet").unwrap(),
            Command::Join {
                chat: "interlibnet".into()
            }
        );
        assert_eq!(
            parse("join").unwrap_err().to_string(),
            "`join` needs a chat name: join <chat>"
        );
        assert!(parse("join a b").is_err());
    }
}
