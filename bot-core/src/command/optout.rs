//! `optout`: keep your words out of transcripts.

use super::args::Args;
use super::{Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "optout",
    aliases: &[],
    usage: "optout",
    args: &[],
    moderator_only: false,
    summary: "keep your words out of transcripts",
    help: "Your messages read \"withheld at the author's request\" in every transcript, past and future, on every platform you use with this account. The archive keeps them until a moderator purges them. `optin` undoes it.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::OptOut)
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn takes_no_arguments() {
        assert_eq!(parse("optout").unwrap(), Command::OptOut);
        assert!(parse("optout please").is_err());
    }
}
