//! What the demo's scripted participants say. Every name is marked as a demo so nobody mistakes
//! the output for a real conversation.

/// One scripted message: who, how many (virtual) minutes after its point was posted, and what.
pub struct Line {
    pub who: &'static str,
    pub after_minutes: f64,
    pub text: &'static str,
    /// Reply to the message this many lines earlier in the same point's script.
    pub replies_to_previous: Option<usize>,
}

pub const PARTICIPANTS: [(&str, &str); 4] = [
    ("ada", "Ada (demo)"),
    ("bram", "Bram (demo)"),
    ("chidi", "Chidi (demo)"),
    ("dana", "Dana (demo)"),
];

pub fn display_name(who: &str) -> &'static str {
    PARTICIPANTS
        .iter()
        .find(|(id, _)| *id == who)
        .map_or("Someone (demo)", |(_, name)| name)
}

const fn line(who: &'static str, after_minutes: f64, text: &'static str) -> Line {
    Line {
        who,
        after_minutes,
        text,
        replies_to_previous: None,
    }
}

const fn reply(who: &'static str, after_minutes: f64, text: &'static str, back: usize) -> Line {
    Line {
        who,
        after_minutes,
        text,
        replies_to_previous: Some(back),
    }
}

/// The lines for point `number` (1-based); points beyond the script get none.
pub fn lines_for_point(number: u32) -> &'static [Line] {
    const Q1: &[Line] = &[
        line("ada", 1.0, "A1: Events and opening hours, mostly. The best threads happen when people share what they are reading."),
        line("bram", 2.0, "A1 We started because the council asked us to, and stayed for the local history photos."),
        line("chidi", 3.5, "Same here: the old photo posts get ten times the replies of anything else."),
    ];
    const Q2: &[Line] = &[
        line(
            "dana",
            1.0,
            "A2: Write like the person at the desk, not like the press office.",
        ),
        reply(
            "ada",
            2.5,
            "Yes! And sign posts with initials so people know a human is there.",
            1,
        ),
    ];
    const Q3: &[Line] = &[
        line(
            "bram",
            1.0,
            "A3) Answer once in public so others see we listened, then move to a private channel.",
        ),
        line(
            "chidi",
            2.0,
            "A3: We keep a shared document of difficult replies that worked, for the whole team.",
        ),
    ];
    const Q4: &[Line] = &[
        line(
            "ada",
            1.0,
            "A4 No photos of children at events without written consent, ever.",
        ),
        line(
            "dana",
            2.0,
            "A9 (typo, I meant this question): we blur faces at story time by default.",
        ),
    ];
    const Q5: &[Line] = &[
        line("chidi", 1.0, "A5: Count conversations, not followers."),
        line(
            "bram",
            2.0,
            "A5 For one month a year we ask at the desk: how did you hear about this?",
        ),
    ];
    const Q6: &[Line] = &[
        line(
            "dana",
            1.0,
            "A6: Keep our own copy of everything. Platforms come and go; the community stays.",
        ),
        line(
            "ada",
            2.0,
            "A6 Export monthly, and link the archive from the library website.",
        ),
        line(
            "bram",
            3.0,
            "A2 (late, sorry) we also stopped calling people 'patrons' in posts.",
        ),
    ];
    match number {
        1 => Q1,
        2 => Q2,
        3 => Q3,
        4 => Q4,
        5 => Q5,
        6 => Q6,
        _ => &[],
    }
}
