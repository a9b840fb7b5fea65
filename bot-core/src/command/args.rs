//! Reading a command's arguments, and quoting what people typed back to them safely.

use std::str::SplitWhitespace;

use crate::model::SessionId;

use super::{CommandError, CommandSpec, ErrorKind};

/// The longest piece of user input an error quotes, in characters.
const QUOTE_CHARS: usize = 40;

/// The words after the command name, read one argument at a time.
pub(super) struct Args<'a> {
    spec: &'static CommandSpec,
    words: SplitWhitespace<'a>,
}

impl<'a> Args<'a> {
    pub(super) fn new(spec: &'static CommandSpec, words: SplitWhitespace<'a>) -> Self {
        Args { spec, words }
    }

    /// The next word, without a leading `name:`. Discord shows options as `chat:interlibnet`,
    /// and people copy that into Matrix.
    fn take(&mut self, name: &str) -> Option<&'a str> {
        let word = self.words.next()?;
        let stripped = word
            .get(..name.len() + 1)
            .filter(|head| {
                head.ends_with(':')
                    && head.as_bytes()[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            })
            .map(|head| &word[head.len()..]);
        match stripped {
            // `chat:` on its own, with the value after a space.
            Some("") => self.words.next(),
            Some(rest) => Some(rest),
            None => Some(word),
        }
    }

    /// A chat's slug; a leading `#` is allowed, since people type the hashtag.
    pub(super) fn chat(&mut self) -> Result<String, CommandError> {
        let word = self
            .take("chat")
            .ok_or_else(|| self.missing("a chat name"))?;
        parse_slug(word).ok_or_else(|| {
            self.invalid(format!(
                "{} is not a chat name (1 to 32 lowercase letters, digits or `-`, e.g. `interlibnet`)",
                quote(word)
            ))
        })
    }

    pub(super) fn session(&mut self) -> Result<SessionId, CommandError> {
        match self.optional_session()? {
            Some(id) => Ok(id),
            None => Err(self.missing("a session number")),
        }
    }

    /// A session number such as `12` or `#12`, if there is another word.
    pub(super) fn optional_session(&mut self) -> Result<Option<SessionId>, CommandError> {
        let Some(word) = self.take("session") else {
            return Ok(None);
        };
        parse_session(word).map(Some).ok_or_else(|| {
            self.invalid(format!(
                "{} is not a session number (a whole number such as `12` or `#12`, as `upcoming` shows)",
                quote(word)
            ))
        })
    }

    /// A message's platform id (a Matrix event id, a Discord message id), if one is given;
    /// without one, the engine uses the message the command replied to.
    pub(super) fn message(&mut self) -> Result<Option<String>, CommandError> {
        let Some(word) = self.take("message") else {
            return Ok(None);
        };
        let plausible = word.len() <= 255 && !word.chars().any(is_unsafe_to_echo);
        if plausible {
            Ok(Some(word.to_owned()))
        } else {
            Err(self.invalid(format!("{} is not a message id", quote(word))))
        }
    }

    /// A single word of free text (a help topic), if there is one.
    pub(super) fn optional_word(&mut self, name: &str) -> Option<&'a str> {
        self.take(name)
    }

    /// All remaining words; `name:` is stripped from the first.
    pub(super) fn rest(&mut self, name: &str) -> Vec<&'a str> {
        let mut words: Vec<&'a str> = self.take(name).into_iter().collect();
        words.extend(self.words.by_ref());
        words
    }

    /// Fails if anything is left over: `stop now` is more likely a mistake than a wish.
    pub(super) fn finish(&mut self) -> Result<(), CommandError> {
        match self.words.next() {
            None => Ok(()),
            Some(extra) => Err(self.extra(extra)),
        }
    }

    pub(super) fn extra(&self, word: &str) -> CommandError {
        let problem = if self.spec.args.is_empty() {
            format!(
                "`{}` takes no arguments, but got {}",
                self.spec.name,
                quote(word)
            )
        } else {
            format!(
                "too many words for `{}` ({} is extra)",
                self.spec.name,
                quote(word)
            )
        };
        self.error(ErrorKind::ExtraArgument, problem)
    }

    /// "`start` needs a chat name: start <chat>".
    pub(super) fn missing(&self, what: &str) -> CommandError {
        self.error(
            ErrorKind::MissingArgument,
            format!("`{}` needs {what}", self.spec.name),
        )
    }

    /// `problem` followed by the usage line.
    pub(super) fn invalid(&self, problem: String) -> CommandError {
        self.error(ErrorKind::InvalidArgument, problem)
    }

    fn error(&self, kind: ErrorKind, problem: String) -> CommandError {
        CommandError::new(
            kind,
            Some(self.spec.name),
            format!("{problem}: {}", self.spec.usage),
        )
    }
}

/// `interlibnet`, `#InterLibNet` → `interlibnet`; anything outside `[a-z0-9-]{1,32}` → `None`.
pub(super) fn parse_slug(word: &str) -> Option<String> {
    let word = word.strip_prefix('#').unwrap_or(word);
    let ok = (1..=32).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| word.to_ascii_lowercase())
}

/// `12`, `#12` → 12; zero, signs, and numbers past `i64::MAX` → `None`.
pub(super) fn parse_session(word: &str) -> Option<SessionId> {
    let digits = word.strip_prefix('#').unwrap_or(word);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<SessionId>().ok().filter(|id| *id > 0)
}

/// `text` in backticks, made safe to post back into a room: at most [`QUOTE_CHARS`] characters
/// (cut on a character boundary, with `…` after), control and invisible formatting characters
/// (bidi overrides, zero-width joiners, line separators) shown as `�`, and backticks, which
/// would end the quote, turned into `'`.
pub(super) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(QUOTE_CHARS + 8);
    out.push('`');
    let mut chars = text.chars();
    for c in chars.by_ref().take(QUOTE_CHARS) {
        out.push(match c {
            '`' => '\'',
            c if is_unsafe_to_echo(c) => '\u{FFFD}',
            c if c.is_whitespace() => ' ',
            c => c,
        });
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out.push('`');
    out
}

/// Characters that are invisible or change how the rest of a line is shown.
pub(super) fn is_unsafe_to_echo(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}'                    // Arabic letter mark
            | '\u{180E}'                  // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'     // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}'     // line/paragraph separators, bidi embeddings/overrides
            | '\u{2060}'..='\u{206F}'     // word joiner, invisible operators, bidi isolates
            | '\u{FEFF}'                  // byte order mark
            | '\u{FFF9}'..='\u{FFFB}'     // interlinear annotations
            | '\u{E0000}'..='\u{E007F}' // tags
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercased_and_may_carry_a_hash() {
        assert_eq!(parse_slug("interlibnet").as_deref(), Some("interlibnet"));
        assert_eq!(parse_slug("#InterLibNet").as_deref(), Some("interlibnet"));
        assert_eq!(parse_slug("a-1").as_deref(), Some("a-1"));
        assert_eq!(parse_slug(&"x".repeat(32)).map(|s| s.len()), Some(32));
        for bad in [
            "",
            "#",
            "##x",
            "a_b",
            "a.b",
            "é",
            "x".repeat(33).as_str(),
            "a b",
        ] {
            assert_eq!(parse_slug(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn session_numbers_are_positive() {
        assert_eq!(parse_session("12"), Some(12));
        assert_eq!(parse_session("#12"), Some(12));
        assert_eq!(parse_session("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "0",
            "-1",
            "+1",
            "#",
            "",
            "1.5",
            "9223372036854775808",
            "١٢",
            "x",
        ] {
            assert_eq!(parse_session(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn quotes_are_short_single_line_and_inert() {
        assert_eq!(quote("abc"), "`abc`");
        assert_eq!(quote("a`b"), "`a'b`");
        assert_eq!(quote("a\u{202E}b\nc"), "`a\u{FFFD}b\u{FFFD}c`");
        let long = "é".repeat(100);
        let quoted = quote(&long);
        assert_eq!(quoted.chars().count(), QUOTE_CHARS + 3);
        assert!(quoted.ends_with("…`"));
    }
}
