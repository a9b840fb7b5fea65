//! The commands people type, the same on every platform.
//!
//! An adapter strips its own prefix (`!chat` on Matrix; Discord's `/chat` slash command is
//! flattened to the same words) and hands the rest to [`parse`]. Each command lives in its own
//! file with its parsing, whether it is for moderators only, its usage line and its help text side
//! by side; this module only holds the table of them and the dispatch. Everything user-facing
//! (the overview from [`help`], errors, the slash-command definitions an adapter registers from
//! [`commands`]) is derived from that table, so a command is described in exactly one place.
//!
//! Parsing never panics and never trusts its input: errors quote at most a short, sanitised
//! snippet of what was typed, because they are posted back into a room.

mod args;
mod cancel;
mod help;
mod hide;
mod highlight;
mod join;
mod leave;
mod next;
mod note;
mod optin;
mod optout;
mod pause;
mod purge;
mod resume;
mod schedule;
mod start;
mod stop;
mod transcript;
mod unhide;
mod upcoming;

#[cfg(test)]
mod odd_input_tests;

use std::fmt;

use crate::model::SessionId;

use args::{quote, Args};

pub use note::MAX_NOTE_CHARS;
pub use schedule::When;

/// A parsed command, ready for the engine.
///
/// Which session `stop`, `pause`, `resume` and `next` act on (the one running in the room the
/// command came from) and whether the person may run it are the engine's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start {
        chat: String,
    },
    Stop,
    Pause,
    Resume,
    Next,
    Schedule {
        chat: String,
        when: When,
    },
    Cancel {
        session: SessionId,
    },
    Upcoming,
    Join {
        chat: String,
    },
    Leave {
        chat: String,
    },
    Transcript {
        session: Option<SessionId>,
    },
    Note {
        text: String,
    },
    /// `None`: the message the command replied to.
    Highlight {
        message: Option<String>,
    },
    Hide {
        message: Option<String>,
    },
    Unhide {
        message: Option<String>,
    },
    OptOut,
    OptIn,
    Purge,
    Help {
        topic: Option<String>,
    },
}

impl Command {
    /// The description of this command in the table.
    pub fn spec(&self) -> &'static CommandSpec {
        match self {
            Command::Start { .. } => &start::SPEC,
            Command::Stop => &stop::SPEC,
            Command::Pause => &pause::SPEC,
            Command::Resume => &resume::SPEC,
            Command::Next => &next::SPEC,
            Command::Schedule { .. } => &schedule::SPEC,
            Command::Cancel { .. } => &cancel::SPEC,
            Command::Upcoming => &upcoming::SPEC,
            Command::Join { .. } => &join::SPEC,
            Command::Leave { .. } => &leave::SPEC,
            Command::Transcript { .. } => &transcript::SPEC,
            Command::Note { .. } => &note::SPEC,
            Command::Highlight { .. } => &highlight::SPEC,
            Command::Hide { .. } => &hide::SPEC,
            Command::Unhide { .. } => &unhide::SPEC,
            Command::OptOut => &optout::SPEC,
            Command::OptIn => &optin::SPEC,
            Command::Purge => &purge::SPEC,
            Command::Help { .. } => &help::SPEC,
        }
    }

    /// The command's canonical name (`next`, even when it was typed as `skip`).
    pub fn name(&self) -> &'static str {
        self.spec().name
    }

    pub fn moderator_only(&self) -> bool {
        self.spec().moderator_only
    }
}

/// The canonical text of the command, which [`parse`] reads back to the same value: for logs,
/// and for telling someone what was understood.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Command::Start { chat } | Command::Join { chat } | Command::Leave { chat } => {
                write!(f, " {chat}")
            }
            Command::Schedule { chat, when } => write!(f, " {chat} {when}"),
            Command::Cancel { session } => write!(f, " {session}"),
            Command::Transcript { session: Some(s) } => write!(f, " {s}"),
            Command::Help { topic: Some(t) } => write!(f, " {t}"),
            Command::Note { text } => write!(f, " {text}"),
            Command::Highlight { message: Some(m) }
            | Command::Hide { message: Some(m) }
            | Command::Unhide { message: Some(m) } => write!(f, " {m}"),
            Command::Stop
            | Command::Pause
            | Command::Resume
            | Command::Next
            | Command::Upcoming
            | Command::Transcript { session: None }
            | Command::Highlight { message: None }
            | Command::Hide { message: None }
            | Command::Unhide { message: None }
            | Command::OptOut
            | Command::OptIn
            | Command::Purge
            | Command::Help { topic: None } => Ok(()),
        }
    }
}

/// One command as users see it: its name, arguments and help. Adapters build their platform's
/// command definitions (Discord slash-command options, for one) from these.
#[derive(Debug)]
pub struct CommandSpec {
    pub name: &'static str,
    /// Other words that run the same command.
    pub aliases: &'static [&'static str],
    /// `name <required> [optional]`, without any platform prefix.
    pub usage: &'static str,
    pub args: &'static [Arg],
    pub moderator_only: bool,
    /// A few words for the overview and for slash-command descriptions.
    pub summary: &'static str,
    /// The full help, a short paragraph.
    pub help: &'static str,
    parse: fn(&mut Args<'_>) -> Result<Command, CommandError>,
}

/// One argument of a command, in order.
#[derive(Debug)]
pub struct Arg {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
}

/// Every command, in the order the overview lists them.
static COMMANDS: [&CommandSpec; 19] = [
    &start::SPEC,
    &stop::SPEC,
    &pause::SPEC,
    &resume::SPEC,
    &next::SPEC,
    &schedule::SPEC,
    &cancel::SPEC,
    &note::SPEC,
    &highlight::SPEC,
    &hide::SPEC,
    &unhide::SPEC,
    &purge::SPEC,
    &upcoming::SPEC,
    &join::SPEC,
    &leave::SPEC,
    &transcript::SPEC,
    &optout::SPEC,
    &optin::SPEC,
    &help::SPEC,
];

/// Every command, moderators' first, in the order the overview lists them.
pub fn commands() -> &'static [&'static CommandSpec] {
    &COMMANDS
}

/// The command called `name` (already lowercased), by name or alias.
fn lookup(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .copied()
        .find(|spec| spec.name == name || spec.aliases.contains(&name))
}

/// Reads a command from the text after the platform's prefix.
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let mut words = text.split_whitespace();
    let Some(word) = words.next() else {
        return Err(CommandError::new(
            ErrorKind::Empty,
            None,
            "no command given; try `help` for the list of commands".to_owned(),
        ));
    };
    // No command is longer than this; lowercasing a 100 kB word only to reject it is waste.
    let name = if word.len() <= 32 {
        word.to_lowercase()
    } else {
        String::new()
    };
    let Some(spec) = lookup(&name) else {
        return Err(unknown_command(word));
    };
    let mut args = Args::new(spec, words);
    (spec.parse)(&mut args)
}

/// The overview listing every command with its usage, or one command's help. An unknown
/// topic is named (quoted safely) and the commands listed.
pub fn help(topic: Option<&str>) -> String {
    help::render(topic)
}

fn command_names() -> String {
    let names: Vec<&str> = COMMANDS.iter().map(|spec| spec.name).collect();
    names.join(", ")
}

fn unknown_command(word: &str) -> CommandError {
    let hint = match suggest(word) {
        Some(name) => format!("; did you mean `{name}`?"),
        None => ".".to_owned(),
    };
    CommandError::new(
        ErrorKind::UnknownCommand,
        None,
        format!(
            "unknown command {}{hint} Commands: {}",
            quote(word),
            command_names()
        ),
    )
}

/// The command `word` most likely meant: one typo away (two for longer names), counting a swap
/// of neighbours as one, or an unambiguous start of a name (`trans` for `transcript`).
fn suggest(word: &str) -> Option<&'static str> {
    if word.chars().count() > 32 {
        return None;
    }
    let word = word.to_lowercase();
    let word = word.trim_start_matches(['/', '!']);
    if word.is_empty() {
        return None;
    }
    let candidates = COMMANDS.iter().flat_map(|spec| {
        std::iter::once(spec.name)
            .chain(spec.aliases.iter().copied())
            .map(move |n| (n, spec.name))
    });
    let mut best: Option<(usize, &'static str)> = None;
    for (typed_as, canonical) in candidates {
        let distance = edit_distance(word, typed_as);
        let allowed = if typed_as.len() <= 4 { 1 } else { 2 };
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, canonical));
        }
    }
    if let Some((_, name)) = best {
        return Some(name);
    }
    if word.chars().count() >= 3 {
        let mut starts = COMMANDS.iter().filter(|spec| spec.name.starts_with(word));
        if let (Some(only), None) = (starts.next(), starts.next()) {
            return Some(only.name);
        }
    }
    None
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// neighbouring characters each cost one. Inputs are short (see [`suggest`]).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            d[i * width + j] = if i == 0 {
                j
            } else if j == 0 {
                i
            } else {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[(i - 1) * width + j] + 1)
                    .min(d[i * width + j - 1] + 1)
                    .min(d[(i - 1) * width + j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[(i - 2) * width + j - 2] + 1);
                }
                v
            };
        }
    }
    d[a.len() * width + b.len()]
}

/// Why a command could not be read. Its `Display` is one line, fit to post back as a reply:
/// what was wrong, then what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    kind: ErrorKind,
    command: Option<&'static str>,
    message: String,
}

/// What sort of mistake it was, for callers that answer some differently (an empty command might
/// get the whole overview rather than a one-line hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing but whitespace after the prefix.
    Empty,
    UnknownCommand,
    MissingArgument,
    /// An argument that is not of the accepted form.
    InvalidArgument,
    /// More words than the command takes.
    ExtraArgument,
}

impl CommandError {
    fn new(kind: ErrorKind, command: Option<&'static str>, message: String) -> Self {
        CommandError {
            kind,
            command,
            message,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The command whose arguments were wrong, when the command itself was recognised.
    pub fn command(&self) -> Option<&'static str> {
        self.command
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn names_are_case_insensitive_and_whitespace_tolerant() {
        assert_eq!(parse("STOP").unwrap(), Command::Stop);
        assert_eq!(parse("  \t pause \n").unwrap(), Command::Pause);
        assert_eq!(
            parse("Start   Interlibnet").unwrap(),
            Command::Start {
                chat: "interlibnet".into()
            }
        );
    }

    #[test]
    fn empty_input_points_at_help() {
        for text in ["", "   ", "\n\t"] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Empty);
            assert!(err.to_string().contains("`help`"), "{err}");
        }
    }

    #[test]
    fn unknown_commands_get_a_suggestion_and_the_list() {
        assert_eq!(
            error("strat interlibnet"),
            "unknown command `strat`; did you mean `start`? Commands: start, stop, pause, resume, \
             next, schedule, cancel, note, highlight, hide, unhide, purge, upcoming, join, \
             leave, transcript, optout, optin, help"
        );
        assert!(error("stpo").contains("did you mean `stop`?"));
        assert!(error("trans").contains("did you mean `transcript`?"));
        assert!(error("sched x").contains("did you mean `schedule`?"));
        assert!(error("upcomming").contains("did you mean `upcoming`?"));
        let far = error("banana");
        assert!(
            far.starts_with("unknown command `banana`. Commands: start,"),
            "{far}"
        );
        assert_eq!(
            parse("strat").unwrap_err().kind(),
            ErrorKind::UnknownCommand
        );
    }

    #[test]
    fn aliases_run_the_canonical_command() {
        let skip = parse("skip").unwrap();
        assert_eq!(skip, Command::Next);
        assert_eq!(skip.name(), "next");
    }

    #[test]
    fn moderator_only_matches_the_brief() {
        let moderators = [
            "start",
            "stop",
            "pause",
            "resume",
            "next",
            "schedule",
            "cancel",
            "note",
            "highlight",
            "hide",
            "unhide",
            "purge",
        ];
        for spec in commands() {
            assert_eq!(
                spec.moderator_only,
                moderators.contains(&spec.name),
                "{}",
                spec.name
            );
        }
        assert!(parse("cancel 3").unwrap().moderator_only());
        assert!(!parse("join interlibnet").unwrap().moderator_only());
    }

    #[test]
    fn the_table_is_consistent() {
        for spec in commands() {
            // The usage line is written out for reading; it must agree with the argument list.
            let mut derived = spec.name.to_owned();
            for arg in spec.args {
                if arg.required {
                    derived.push_str(&format!(" <{}>", arg.name));
                } else {
                    derived.push_str(&format!(" [{}]", arg.name));
                }
            }
            assert_eq!(spec.usage, derived);
            assert_eq!(lookup(spec.name).unwrap().name, spec.name);
            assert!(!spec.summary.is_empty() && !spec.help.is_empty());
            assert!(
                spec.summary.len() <= 100,
                "Discord caps descriptions at 100"
            );
            for arg in spec.args {
                assert!(arg.description.len() <= 100);
            }
            for alias in spec.aliases {
                assert!(lookup(alias).is_some());
            }
        }
        let names: Vec<&str> = commands().iter().map(|s| s.name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn display_reads_back_to_the_same_command() {
        for text in [
            "start interlibnet",
            "stop",
            "pause",
            "resume",
            "next",
            "schedule interlibnet 2025-03-14 19:00",
            "schedule interlibnet in 1h30m",
            "cancel 12",
            "upcoming",
            "join a-b",
            "leave x",
            "transcript",
            "transcript 7",
            "help",
            "help schedule",
        ] {
            let command = parse(text).unwrap();
            assert_eq!(command.to_string(), text);
            assert_eq!(parse(&command.to_string()).unwrap(), command);
        }
    }

    #[test]
    fn edit_distance_counts_swaps_once() {
        assert_eq!(edit_distance("strat", "start"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
