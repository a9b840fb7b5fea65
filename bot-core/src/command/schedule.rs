//! `schedule <chat> <when>`: add a one-off session of a chat.

use std::fmt;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::args::{quote, Args};
use super::{Arg, Command, CommandError, CommandSpec};

pub(super) static SPEC: CommandSpec = CommandSpec {
    name: "schedule",
    aliases: &[],
    usage: "schedule <chat> <when>",
    args: &[
        Arg {
            name: "chat",
            required: true,
            description: "the chat's short name or hashtag, e.g. interlibnet",
        },
        Arg {
            name: "when",
            required: true,
            description: "2025-03-14 19:00 (the chat's time zone) or a delay such as in 2h",
        },
    ],
    moderator_only: true,
    summary: "add a one-off session of a chat",
    help: "Adds an extra session of the chat. Say when as a date and time in the chat's own time \
           zone, `2025-03-14 19:00` (or `2025-03-14T19:00`), or as a delay from now: `in 30m`, \
           `in 2h`, `in 1h30m`, `in 90 minutes`, `in 2 hours`, `in 3 days`; anything from a \
           minute to a year ahead. Example: `schedule interlibnet in 2h`. The reply gives the \
           session's number, which `cancel` takes.",
    parse,
};

/// The accepted forms of `when`, for error messages.
const FORMS: &str =
    "use a date and time like `2025-03-14 19:00` (the chat's time zone) or a delay \
                     like `in 30m`, `in 1h30m`, `in 2 hours`";

/// The longest delay `in …` accepts.
const MAX_DELAY_MINUTES: i64 = 365 * 24 * 60;

/// When a scheduled session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A wall-clock time in the chat's own zone; the engine resolves it (and refuses one in the
    /// past), since only it knows the chat and the time now.
    Local(NaiveDateTime),
    /// This long after the command, between a minute and 365 days, in whole minutes.
    In(Duration),
}

/// Canonical text that parses back to the same value: `2025-03-14 19:00`, `in 1d2h30m`.
impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Local(at) => write!(f, "{}", at.format("%Y-%m-%d %H:%M")),
            When::In(delay) => {
                let minutes = delay.num_minutes();
                f.write_str("in ")?;
                let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
                if days > 0 {
                    write!(f, "{days}d")?;
                }
                if hours > 0 {
                    write!(f, "{hours}h")?;
                }
                if mins > 0 || minutes == 0 {
                    write!(f, "{mins}m")?;
                }
                Ok(())
            }
        }
    }
}

fn parse(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let chat = args.chat()?;
    let words = args.rest("when");
    let when = parse_when(args, &words)?;
    Ok(Command::Schedule { chat, when })
}

fn parse_when(args: &Args<'_>, words: &[&str]) -> Result<When, CommandError> {
    let Some((&first, rest)) = words.split_first() else {
        return Err(args.missing(&format!("a time; {FORMS}")));
    };
    if first.eq_ignore_ascii_case("in") {
        return parse_delay(args, rest).map(When::In);
    }
    // `2025-03-14T19:00` is one word; `2025-03-14 19:00` is two.
    let (date, time, rest) = match first.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time), rest),
        None => match rest.split_first() {
            Some((&time, rest)) => (first, Some(time), rest),
            None => (first, None, rest),
        },
    };
    let Some(date) = parse_date(date) else {
        let problem = if parse_time(first).is_some() {
            format!("{} needs a date as well", quote(first))
        } else if date.contains('-') {
            format!("{} is not a date (`YYYY-MM-DD`)", quote(date))
        } else {
            format!("{} is not a time", quote(first))
        };
        return Err(args.invalid(format!("{problem}; {FORMS}")));
    };
    let Some(time) = time else {
        return Err(args.invalid(format!(
            "{} needs a time of day as well, e.g. `{} 19:00`",
            quote(first),
            date.format("%Y-%m-%d")
        )));
    };
    let Some(time) = parse_time(time) else {
        return Err(args.invalid(format!(
            "{} is not a time of day (24-hour `HH:MM`, e.g. `19:00`)",
            quote(if time.is_empty() { first } else { time })
        )));
    };
    if let Some(extra) = rest.first() {
        return Err(args.extra(extra));
    }
    Ok(When::Local(date.and_time(time)))
}

/// `YYYY-MM-DD` (month and day may drop their leading zero) that is a real date.
fn parse_date(word: &str) -> Option<NaiveDate> {
    let mut parts = word.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || !is_number(y, 4) || !is_number(m, 2) {
        return None;
    }
    if !is_number(d, 2) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// 24-hour `H:MM` or `HH:MM`.
fn parse_time(word: &str) -> Option<NaiveTime> {
    let (h, m) = word.split_once(':')?;
    if !is_number(h, 2) || m.len() != 2 || !is_number(m, 2) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// One to `max_len` ASCII digits.
fn is_number(s: &str, max_len: usize) -> bool {
    (1..=max_len).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// The words after `in`: amounts with units, run together or apart (`1h30m`, `1 h 30 m`,
/// `1 hour and 30 minutes`).
fn parse_delay(args: &Args<'_>, words: &[&str]) -> Result<Duration, CommandError> {
    if words.is_empty() {
        return Err(args.invalid(format!("`in` needs a length of time; {FORMS}")));
    }
    let shown = format!("in {}", words.join(" "));
    let bad = |why: &str| args.invalid(format!("{} {why}; {FORMS}", quote(&shown)));
    // Longer than any sensible delay; stops a flood of words from being scanned.
    if words.len() > 8 || shown.len() > 64 {
        return Err(bad("is not a delay"));
    }
    let text = words.join(" ").to_ascii_lowercase();
    let mut minutes: i64 = 0;
    let mut rest = text.as_str();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix("and ") {
            rest = after;
            continue;
        }
        if rest.is_empty() {
            break;
        }
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || digits > 6 {
            return Err(bad("is not a delay"));
        }
        let amount: i64 = rest[..digits].parse().map_err(|_| bad("is not a delay"))?;
        rest = rest[digits..].trim_start();
        let letters = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let per_unit = match &rest[..letters] {
            "m" | "min" | "mins" | "minute" | "minutes" => 1,
            "h" | "hr" | "hrs" | "hour" | "hours" => 60,
            "d" | "day" | "days" => 24 * 60,
            "w" | "week" | "weeks" => 7 * 24 * 60,
            "" if rest.is_empty() => return Err(bad("needs a unit (m, h, d)")),
            "" => return Err(bad("is not a delay")),
            "s" | "sec" | "secs" | "second" | "seconds" => {
                return Err(bad("is too soon: the shortest delay is 1 minute"))
            }
            _ => return Err(bad("has a unit I don't know (use m, h or d)")),
        };
        rest = &rest[letters..];
        // Both factors are small (at most 6 digits times a week in minutes), so this can't
        // overflow; the sum is checked against the bound as it grows.
        minutes += amount * per_unit;
        if minutes > MAX_DELAY_MINUTES {
            return Err(bad("is too far ahead: a year at most"));
        }
    }
    if minutes < 1 {
        return Err(bad("is too soon: the shortest delay is 1 minute"));
    }
    Ok(Duration::minutes(minutes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{parse as parse_command, ErrorKind};

    fn when(text: &str) -> When {
        match parse_command(&format!("schedule interlibnet {text}")) {
            Ok(Command::Schedule { when, .. }) => when,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn error(text: &str) -> String {
        parse_command(&format!("schedule interlibnet {text}"))
            .unwrap_err()
            .to_string()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> When {
        When::Local(
            NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_opt(h, mi, 0)
                .unwrap(),
        )
    }

    #[test]
    fn dates_and_times_in_both_forms() {
        assert_eq!(when("2025-03-14 19:00"), at(2025, 3, 14, 19, 0));
        assert_eq!(when("2025-03-14T19:00"), at(2025, 3, 14, 19, 0));
        assert_eq!(when("2025-03-14t07:05"), at(2025, 3, 14, 7, 5));
        assert_eq!(when("2025-3-4   9:30"), at(2025, 3, 4, 9, 30));
        assert_eq!(
            parse_command("schedule #InterLibNet when:2025-03-14 19:00").unwrap(),
            Command::Schedule {
                chat: "interlibnet".into(),
                when: at(2025, 3, 14, 19, 0)
            }
        );
    }

    #[test]
    fn delays_in_several_spellings() {
        let minutes = |text| match when(text) {
            When::In(d) => d.num_minutes(),
            other => panic!("{other:?}"),
        };
        assert_eq!(minutes("in 30m"), 30);
        assert_eq!(minutes("in 2h"), 120);
        assert_eq!(minutes("in 1h30m"), 90);
        assert_eq!(minutes("IN 1H 30M"), 90);
        assert_eq!(minutes("in 90 minutes"), 90);
        assert_eq!(minutes("in 2 hours"), 120);
        assert_eq!(minutes("in 1 hour and 30 minutes"), 90);
        assert_eq!(minutes("in 1 hour, 30 min"), 90);
        assert_eq!(minutes("in 3 days"), 3 * 1440);
        assert_eq!(minutes("in 1m"), 1);
        assert_eq!(minutes("in 365d"), MAX_DELAY_MINUTES);
        assert_eq!(minutes("in 52w"), 52 * 7 * 1440);
    }

    #[test]
    fn a_time_alone_is_not_enough() {
        let err = error("19:00");
        assert!(
            err.starts_with("`19:00` needs a date as well; use a date and time like"),
            "{err}"
        );
        assert!(err.ends_with(": schedule <chat> <when>"), "{err}");
        assert!(
            error("2025-03-14").contains("needs a time of day as well, e.g. `2025-03-14 19:00`")
        );
    }

    #[test]
    fn bad_times_say_what_is_accepted() {
        let missing = parse_command("schedule interlibnet").unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::MissingArgument);
        assert!(missing
            .to_string()
            .starts_with("`schedule` needs a time; use a date and time like"));
        assert!(parse_command("schedule")
            .unwrap_err()
            .to_string()
            .contains("a chat name"));
        for (text, says) in [
            ("tomorrow", "`tomorrow` is not a time"),
            (
                "2025-02-30 19:00",
                "`2025-02-30` is not a date (`YYYY-MM-DD`)",
            ),
            ("2025-03-14 25:00", "`25:00` is not a time of day"),
            ("2025-03-14 7pm", "`7pm` is not a time of day"),
            ("2025-03-14 19:00:30", "`19:00:30` is not a time of day"),
            ("25-03-14 19:00", "`25-03-14` is not a date"),
            ("2025-03-14T", "`2025-03-14T` is not a time of day"),
            ("in", "`in` needs a length of time"),
            ("in 30", "`in 30` needs a unit"),
            ("in 30s", "the shortest delay is 1 minute"),
            ("in 0m", "the shortest delay is 1 minute"),
            ("in 366d", "a year at most"),
            ("in 999999999h", "is not a delay"),
            ("in 1.5h", "is not a delay"),
            ("in 2 fortnights", "a unit I don't know"),
            ("in -5m", "is not a delay"),
            ("in h", "is not a delay"),
        ] {
            let err = error(text);
            assert!(err.contains(says), "{text}: {err}");
            assert!(err.ends_with(": schedule <chat> <when>"), "{text}: {err}");
        }
        let extra = parse_command("schedule x 2025-03-14 19:00 sharp").unwrap_err();
        assert_eq!(extra.kind(), ErrorKind::ExtraArgument);
        assert_eq!(
            extra.to_string(),
            "too many words for `schedule` (`sharp` is extra): schedule <chat> <when>"
        );
    }

    #[test]
    fn display_is_canonical() {
        assert_eq!(when("in 90 minutes").to_string(), "in 1h30m");
        assert_eq!(when("in 1 day 1 minute").to_string(), "in 1d1m");
        assert_eq!(when("in 2h").to_string(), "in 2h");
        assert_eq!(when("2025-3-4 9:30").to_string(), "2025-03-04 09:30");
    }
}
