//! `note <text>`: a curator's note in the transcript.

use super::args::{quote, Args};
use super::{Arg, Command, CommandError, CommandSpec};

/// The longest note, in characters: what every platform can show in one message.
pub const MAX_NOTE_CHARS: usize = 1800;

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "note",
    aliases: &[],
    usage: "note <text>",
    args: &[Arg {
        name: "text",
        required: true,
        description: "the note, as it should read in the transcript",
    }],
    moderator_only: true,
    summary: "add a curator's note to the transcript",
    help: "Adds a note to the transcript of the session in this room (during it or after it), \
           shown with your name. It goes under the point on screen; send it as a reply to a \
           message to place it right after that message. Example: `note Great thread, see \
           also the library's guide to consent forms.`",
    parse,
};

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let words = args.rest("text");
    if words.is_empty() {
        return Err(args.missing("the note's text"));
    }
    let text = words.join(" ");
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(args.invalid(format!(
            "the note is longer than {MAX_NOTE_CHARS} characters (it starts {})",
            quote(&text)
        )));
    }
    Ok(Command::Note { text })
}

#[cfg(test)]
mod tests {
    use crate::command::{parse, Command};

    #[test]
    fn takes_the_rest_of_the_line_as_text() {
        assert_eq!(
            parse("note  Good   point, everyone").unwrap(),
            Command::Note {
                text: "Good point, everyone".into()
            }
        );
        assert_eq!(
            parse("note").unwrap_err().to_string(),
            "`note` needs the note's text: note <text>"
        );
        assert!(parse(&format!("note {}", "x".repeat(1801))).is_err());
    }
}
