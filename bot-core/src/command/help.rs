//! `help [command]`: the overview of every command, or one command explained.

use super::args::{quote, Args};
use super::{command_names, commands, lookup, suggest, Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "help",
    aliases: &[],
    usage: "help [command]",
    args: &[Arg {
        name: "command",
        required: false,
        description: "a command to explain, e.g. schedule",
    }],
    moderator_only: false,
    summary: "list the commands, or explain one",
    help: "Lists every command, or explains one in a few lines: `help schedule`.",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let topic = args.optional_word("command").map(normalise);
    args.finish()?;
    Ok(Command::Help { topic })
}

/// `Schedule`, `/schedule`, `!schedule` → `schedule`.
fn normalise(topic: &str) -> String {
    topic.trim_start_matches(['/', '!']).to_lowercase()
}

/// The overview listing every command with its usage, or the help for `topic`. An unknown topic
/// is named (quoted safely) and the commands listed.
pub(super) fn render(topic: Option<&str>) -> String {
    let topic = topic.map(|t| normalise(t.trim()));
    match topic.as_deref() {
        None | Some("") => overview(),
        Some(name) => match lookup(name) {
            Some(spec) => explain(spec),
            None => {
                let hint = match suggest(name) {
                    Some(near) => format!(" Did you mean `{near}`?"),
                    None => String::new(),
                };
                format!(
                    "There's no command {}.{hint}\nCommands: {}\n`help` lists them with what they do.",
                    quote(name),
                    command_names()
                )
            }
        },
    }
}

fn overview() -> String {
    // How a command is typed is the platform's: the engine says so above this (see
    // `Adapter::command_prefix`).
    let mut out = String::from("hashchat commands:\n");
    for (heading, for_moderators) in [("For moderators:", true), ("For everyone:", false)] {
        out.push_str(heading);
        out.push('\n');
        for spec in commands()
            .iter()
            .filter(|s| s.moderator_only == for_moderators)
        {
            out.push_str(&format!("  `{}` — {}\n", spec.usage, spec.summary));
        }
    }
    out.push_str(
        "`<chat>` is the chat's short name or hashtag; `<session>` is a number from `upcoming`.\n\
         `help <command>` tells you more, e.g. `help schedule`.",
    );
    out
}

fn explain(spec: &CommandSpec) -> String {
    let mut out = format!("`{}`", spec.usage);
    if spec.moderator_only {
        out.push_str(" (moderators only)");
    }
    out.push('\n');
    out.push_str(spec.help);
    for alias in spec.aliases {
        out.push_str(&format!(" Also works as `{alias}`."));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::command::{commands, help, parse, Command};

    #[test]
    fn takes_an_optional_topic() {
        assert_eq!(parse("help").unwrap(), Command::Help { topic: None });
        assert_eq!(
            parse("HELP /Schedule").unwrap(),
            Command::Help {
                topic: Some("schedule".into())
            }
        );
        assert!(parse("help start stop").is_err());
    }

    #[test]
    fn overview_lists_every_command_with_its_usage() {
        let text = help(None);
        for spec in commands() {
            assert!(
                text.contains(&format!("`{}`", spec.usage)),
                "{}",
                spec.usage
            );
        }
        assert_eq!(help(Some("  ")), text);
        let moderators = text.find("For moderators:").unwrap();
        let everyone = text.find("For everyone:").unwrap();
        assert!(moderators < text.find("`start <chat>`").unwrap());
        assert!(everyone < text.find("`upcoming`").unwrap());
        assert!(everyone > text.find("`cancel <session>`").unwrap());
    }

    #[test]
    fn one_command_explained() {
        let text = help(Some("schedule"));
        assert!(text.starts_with("`schedule <chat> <when>` (moderators only)\n"));
        assert!(text.contains("in 1h30m"));
        assert!(help(Some("UPCOMING")).starts_with("`upcoming`\n"));
        // An alias finds its command, and the command's help names the alias.
        assert!(help(Some("skip")).starts_with("`next` (moderators only)"));
        assert!(help(Some("next")).contains("`skip`"));
    }

    #[test]
    fn unknown_topic_says_so_safely() {
        let text = help(Some("strat"));
        assert!(text.starts_with("There's no command `strat`. Did you mean `start`?"));
        assert!(text.contains("Commands: start, stop,"));
        let nasty = format!("\u{202E}x`{}", "y".repeat(10_000));
        let text = help(Some(&nasty));
        assert!(text.len() < 400, "{text}");
        assert!(!text.contains('\u{202E}'));
        assert!(text.lines().next().unwrap().contains("`\u{FFFD}x'yyy"));
    }
}
