//! `next`: post the next discussion point now.

use super::args::Args;
use super::{Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "next",
    aliases: &["skip"],
    usage: "next",
    args: &[],
    moderator_only: true,
    summary: "post the next question now",
    help: "Posts the next question now instead of waiting for its time; the ones after it keep their usual gaps.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    args.finish()?;
    Ok(Command::Next)
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command, ErrorKind};

    #[test]
    fn takes_no_arguments() {
        assert_eq!(parse("next").unwrap(), Command::Next);
        assert_eq!(parse(" NEXT ").unwrap(), Command::Next);
        let err = parse("next now").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ExtraArgument);
        assert_eq!(
            err.to_string(),
            "`next` takes no arguments, but got `now`: next"
        );
    }

    #[test]
    fn skip_is_another_name_for_it() {
        assert_eq!(parse("Skip").unwrap(), Command::Next);
        assert!(parse("skip 2").is_err());
    }
}
