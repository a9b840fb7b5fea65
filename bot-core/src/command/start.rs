//! `start <chat>`: begin a chat now rather than at its scheduled time.

use super::args::Args;
use super::{Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "start",
    aliases: &[],
    usage: "start <chat>",
    args: &[Arg {
        name: "chat",
        required: true,
        description: "the chat's short name or hashtag, e.g. interlibnet",
    }],
    moderator_only: true,
    summary: "start a chat now",
    help: "Starts the chat right away in its rooms: the intro goes out, then the first question \
           after the usual gap. Give the chat's short name or its hashtag, e.g. \
           `start interlibnet` or `start #interlibnet`.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let chat = args.chat()?;
    args.finish()?;
    Ok(Command::Start { chat })
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command, ErrorKind};

    #[test]
    fn takes_a_chat_name_or_hashtag() {
        let want = Command::Start {
            chat: "interlibnet".into(),
        };
        assert_eq!(parse("start interlibnet").unwrap(), want);
        assert_eq!(parse("start #InterLibNet").unwrap(), want);
        assert_eq!(parse("start chat:interlibnet").unwrap(), want);
        assert_eq!(parse("start chat: interlibnet").unwrap(), want);
    }

    #[test]
    fn says_what_a_chat_name_is() {
        let err = parse("start").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingArgument);
        assert_eq!(err.command(), Some("start"));
        assert_eq!(err.to_string(), "`start` needs a chat name: start <chat>");
        assert_eq!(
            parse("start lib_chat").unwrap_err().to_string(),
            "`lib_chat` is not a chat name (1 to 32 lowercase letters, digits or `-`, e.g. \
             `interlibnet`): start <chat>"
        );
        assert_eq!(
            parse("start interlibnet now").unwrap_err().to_string(),
            "too many words for `start` (`now` is extra): start <chat>"
        );
    }
}
