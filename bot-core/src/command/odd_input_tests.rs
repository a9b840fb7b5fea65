//! Odd input of every kind fed to [`parse`](super::parse): it must never panic, and what it
//! says back must stay one short, printable line that quotes little of what was typed.

use super::args::is_unsafe_to_echo;
use super::{help, parse, Command, When};

/// Pieces that have broken parsers before: separators, numbers at the edges, hostile Unicode.
const PIECES: &[&str] = &[
    "start",
    "stop",
    "pause",
    "resume",
    "next",
    "skip",
    "schedule",
    "cancel",
    "upcoming",
    "join",
    "leave",
    "transcript",
    "help",
    "START",
    "Schedule",
    "interlibnet",
    "#interlibnet",
    "#",
    "##",
    "chat:",
    "session:",
    "when:",
    "in",
    "IN",
    "30m",
    "1h30m",
    "90",
    "minutes",
    "hours",
    "and",
    "0",
    "-1",
    "#12",
    "12",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    "2025-03-14",
    "2025-03-14T19:00",
    "19:00",
    "24:60",
    "2025-02-30",
    "0000-00-00",
    "T",
    ":",
    "-",
    "--",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u{0}",
    "\u{7f}",
    "\u{1b}[31m",
    "\u{202E}",
    "\u{2066}",
    "\u{200B}",
    "\u{FEFF}",
    "\u{2028}",
    "\u{E0041}",
    "é",
    "e\u{301}",
    "İ",
    "ß",
    "ﬁ",
    "١٢",
    "１２",
    "😀",
    "👩‍👩‍👧",
    "`",
    "``",
    "```",
    "@everyone",
    "<@123>",
    "*",
    "_",
    "\\",
    "\"",
    "'",
    "%s",
    "{}",
    "null",
    "\u{FFFD}",
    "\u{10FFFF}",
];

/// A small deterministic generator (xorshift64*), so failures reproduce without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn odd_string(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(8) {
        match rng.below(10) {
            0 => s.push(char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('x')),
            1 => s.push(char::from(rng.below(128) as u8)),
            2 | 3 => s.push(' '),
            _ => s.push_str(PIECES[rng.below(PIECES.len())]),
        }
    }
    s
}

/// What every outcome of `parse` must satisfy.
fn check(input: &str) {
    match parse(input) {
        Ok(command) => check_command(input, &command),
        Err(err) => {
            let text = err.to_string();
            assert!(
                !text.contains('\n'),
                "{input:?} gave a multi-line error: {text:?}"
            );
            assert!(
                !text.chars().any(is_unsafe_to_echo),
                "{input:?} echoed a control or invisible character: {text:?}"
            );
            // The longest fixed text plus two quoted snippets of at most 40 characters.
            assert!(
                text.chars().count() <= 360,
                "{input:?} gave a long error: {text:?}"
            );
        }
    }
}

fn check_command(input: &str, command: &Command) {
    match command {
        Command::Start { chat }
        | Command::Join { chat }
        | Command::Leave { chat }
        | Command::Schedule { chat, .. } => {
            assert!(
                (1..=32).contains(&chat.len())
                    && chat
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{input:?} gave chat {chat:?}"
            );
        }
        Command::Cancel { session }
        | Command::Transcript {
            session: Some(session),
        } => assert!(*session > 0, "{input:?}"),
        _ => {}
    }
    if let Command::Schedule {
        when: When::In(delay),
        ..
    } = command
    {
        let minutes = delay.num_minutes();
        assert!(
            (1..=365 * 24 * 60).contains(&minutes),
            "{input:?}: {minutes}"
        );
    }
    // Whatever was understood reads back the same from its canonical text.
    assert_eq!(
        parse(&command.to_string()).as_ref(),
        Ok(command),
        "{input:?}"
    );
}

#[test]
fn many_odd_strings_never_panic_and_errors_stay_short() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let input = odd_string(&mut rng);
        check(&input);
        // Help for any topic is safe to post too.
        let text = help(Some(&input));
        assert!(
            text.split('\n')
                .all(|line| !line.chars().any(is_unsafe_to_echo)),
            "{input:?}: {text:?}"
        );
        assert!(text.len() < 2_000, "{input:?}");
    }
}

#[test]
fn every_piece_after_every_command() {
    for name in [
        "start",
        "schedule",
        "cancel",
        "transcript",
        "help",
        "stop",
        "bogus",
    ] {
        for a in PIECES {
            check(&format!("{name} {a}"));
            check(&format!("{name}{a}"));
            for b in PIECES {
                check(&format!("{name} {a} {b}"));
                check(&format!("{name} interlibnet {a} {b}"));
            }
        }
    }
}

#[test]
fn huge_inputs_are_answered_briefly() {
    let unit = "\u{202E}é`x\u{0}";
    for input in [
        "a".repeat(100_000),
        unit.repeat(20_000),
        format!("start {}", "b".repeat(100_000)),
        format!("start #{}", "é".repeat(50_000)),
        format!("cancel {}", "9".repeat(100_000)),
        format!("schedule x in {}", "1h ".repeat(30_000)),
        format!("schedule x {}", "2025-03-14 ".repeat(10_000)),
        format!("stop {}", unit.repeat(20_000)),
        format!("help {}", "h".repeat(100_000)),
        " ".repeat(100_000),
        "start x ".repeat(12_000),
    ] {
        assert!(input.len() >= 50_000);
        check(&input);
    }
}

#[test]
fn errors_quote_at_most_forty_characters_of_input() {
    let long = "abcdefghij".repeat(10);
    for template in [
        "{}",
        "start {}",
        "cancel {}",
        "schedule x {} 19:00",
        "stop {}",
    ] {
        let err = parse(&template.replace("{}", &long))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("`{}…`", &long[..40])), "{err}");
        assert!(!err.contains(&long[..41]), "{err}");
    }
}
