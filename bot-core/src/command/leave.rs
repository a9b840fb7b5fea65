//! `leave <chat>`: stop being reminded about a chat.

use super::args::Args;
use super::{Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "leave",
    aliases: &[],
    usage: "leave <chat>",
    args: &[Arg {
        name: "chat",
        required: true,
        description: "the chat's short name or hashtag, e.g. interlibnet",
    }],
    moderator_only: false,
    summary: "stop getting a chat's reminders",
    help: "Takes you off the chat's reminder list, undoing `join`. You can still drop in \
           whenever it runs. Example: `leave interlibnet`.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let chat = args.chat()?;
    args.finish()?;
    Ok(Command::Leave { chat })
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn takes_one_chat() {
        assert_eq!(
            parse("LEAVE interLIBnet").unwrap(),
            Command::Leave {
                chat: "interlibnet".into()
            }
        );
        assert_eq!(
            parse("leave").unwrap_err().to_string(),
            "`leave` needs a chat name: leave <chat>"
        );
        assert!(parse("leave a!").is_err());
    }
}
