//! Reading chat files: one TOML file per chat, every problem reported with its file and line.
//!
//! See `config/chats/interlibnet.toml` for a documented example. Array elements are numbered
//! from 1 in error messages, so `points[3].text` is the text of Q3.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono_tz::Tz;

pub use super::locate::LocatedError;
use super::locate::{closest, parse_document, read_text, Node, Reader, Spanned};
use super::schedule::{parse_start, parse_until, Repeat, Schedule};
use super::{Chat, Point};
use crate::ids::{RoomRef, UserRef};

#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in chat files", .0.len())]
pub struct ChatError(pub Vec<LocatedError>);

impl From<Vec<LocatedError>> for ChatError {
    fn from(errors: Vec<LocatedError>) -> Self {
        ChatError(errors)
    }
}

/// Keys accepted at the top of a chat file.
pub const CHAT_KEYS: &[&str] = &[
    "slug",
    "title",
    "hashtag",
    "description",
    "intro",
    "wrap_up",
    "time_zone",
    "minutes_between_points",
    "intro_minutes",
    "reminder_minutes",
    "rooms",
    "moderators",
    "schedule",
    "points",
];
/// Keys accepted in `[schedule]`.
pub const SCHEDULE_KEYS: &[&str] = &["start", "every", "until"];
/// Keys accepted in each `[[points]]`.
pub const POINT_KEYS: &[&str] = &["text", "minutes"];

/// Longest intro, wrap-up, point text or description: Discord caps a message at 2000
/// characters and the bot adds a prefix (`Q3 #interlibnet: …`).
pub const MAX_TEXT_CHARS: usize = 1800;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_SLUG_CHARS: usize = 32;
pub const MAX_HASHTAG_CHARS: usize = 100;
pub const MAX_POINTS: usize = 100;

pub const DEFAULT_MINUTES_BETWEEN_POINTS: u32 = 10;
pub const DEFAULT_INTRO_MINUTES: u32 = 2;
pub const DEFAULT_REMINDER_MINUTES: u32 = 60;

const WHY_TEXT: &str = ", so a post fits in a Discord message";

/// Parses and checks one chat file's text; `path` is only used in messages and `Chat::source`.
pub fn parse_chat(path: &Path, text: &str) -> Result<Chat, Vec<LocatedError>> {
    parse_with_slug_line(path, text).map(|(chat, _)| chat)
}

/// Reads and checks one chat file.
pub fn load_chat_file(path: &Path) -> Result<Chat, Vec<LocatedError>> {
    let text = read_text(path).map_err(|e| vec![e])?;
    parse_chat(path, &text)
}

/// Reads every `*.toml` file in `dir` (sorted by name) as a chat; slugs must be unique.
/// Returns every problem in every file, or all the chats.
pub fn load_chat_dir(dir: &Path) -> Result<Vec<Chat>, Vec<LocatedError>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![LocatedError::new(
            dir,
            0,
            "file",
            format!("cannot read chat directory: {e}"),
        )]
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();

    let mut chats = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        let parsed = read_text(&file)
            .map_err(|e| vec![e])
            .and_then(|text| parse_with_slug_line(&file, &text));
        match parsed {
            Ok((chat, slug_line)) => {
                if let Some(first) = seen.get(&chat.slug) {
                    errors.push(LocatedError::new(
                        &file,
                        slug_line,
                        "slug",
                        format!(
                            "duplicate slug `{}`: already used by {}",
                            chat.slug,
                            first.display()
                        ),
                    ));
                } else {
                    seen.insert(chat.slug.clone(), file.clone());
                    chats.push(chat);
                }
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(chats)
    } else {
        Err(errors)
    }
}

fn parse_with_slug_line(path: &Path, text: &str) -> Result<(Chat, usize), Vec<LocatedError>> {
    let doc = parse_document(path, text).map_err(|e| vec![e])?;
    let mut r = Reader::new(path, text);
    let root = Node::root(doc.as_table());
    r.unknown_keys(&root, CHAT_KEYS);

    let slug = r
        .string(&root, "slug", Some("a short name of a-z, 0-9 and `-`"))
        .filter(|s| check(&mut r, s, check_slug(&s.value)));
    let title = r.text(
        &root,
        "title",
        Some("the chat's title"),
        MAX_TITLE_CHARS,
        "",
    );
    let hashtag = r
        .string(&root, "hashtag", Some("e.g. `#interlibnet`"))
        .filter(|s| check(&mut r, s, check_hashtag(&s.value)));
    let description = r.text(&root, "description", None, MAX_TEXT_CHARS, WHY_TEXT);
    let description_ok = description.is_some() || root.table.get("description").is_none();
    let intro = r.text(
        &root,
        "intro",
        Some("the message posted when the chat starts"),
        MAX_TEXT_CHARS,
        WHY_TEXT,
    );
    let wrap_up = r.text(
        &root,
        "wrap_up",
        Some("the message posted after the last point"),
        MAX_TEXT_CHARS,
        WHY_TEXT,
    );
    let zone = r
        .string(
            &root,
            "time_zone",
            Some("an IANA name such as `Europe/London`"),
        )
        .and_then(|s| match parse_zone(&s.value) {
            Ok(zone) => Some(zone),
            Err(message) => {
                r.error(s.line, s.field, message);
                None
            }
        });
    let minutes_between_points = r
        .integer(&root, "minutes_between_points", 1..=240)
        .map(|m| m.unwrap_or(DEFAULT_MINUTES_BETWEEN_POINTS));
    let intro_minutes = r
        .integer(&root, "intro_minutes", 0..=240)
        .map(|m| m.unwrap_or(DEFAULT_INTRO_MINUTES));
    let reminder_minutes = r
        .integer(&root, "reminder_minutes", 0..=10_080)
        .map(|m| m.unwrap_or(DEFAULT_REMINDER_MINUTES));

    let rooms = read_rooms(&mut r, &root);
    let moderators = read_moderators(&mut r, &root);
    let schedule = read_schedule(&mut r, &root);
    let points = read_points(&mut r, &root);

    let slug_line = slug.as_ref().map_or(1, |s| s.line);
    let errors = r.into_errors();
    match (
        slug,
        title,
        hashtag,
        intro,
        wrap_up,
        zone,
        minutes_between_points,
        intro_minutes,
        reminder_minutes,
        rooms,
        moderators,
        schedule,
        points,
    ) {
        (
            Some(slug),
            Some(title),
            Some(hashtag),
            Some(intro),
            Some(wrap_up),
            Some(zone),
            Some(minutes_between_points),
            Some(intro_minutes),
            Some(reminder_minutes),
            Some(rooms),
            Some(moderators),
            Some(schedule),
            Some(points),
        ) if errors.is_empty() && description_ok => Ok((
            Chat {
                slug: slug.value,
                title: title.value,
                hashtag: hashtag.value,
                description: description.map(|d| d.value).unwrap_or_default(),
                intro: intro.value,
                wrap_up: wrap_up.value,
                points,
                minutes_between_points,
                intro_minutes,
                reminder_minutes,
                zone,
                schedule,
                rooms,
                moderators,
                source: path.to_path_buf(),
            },
            slug_line,
        )),
        _ if errors.is_empty() => Err(vec![LocatedError::new(
            path,
            0,
            "file",
            "could not be read as a chat",
        )]),
        _ => Err(errors),
    }
}

/// Records `result`'s error against `s`; true when fine.
fn check(r: &mut Reader<'_>, s: &Spanned<String>, result: Result<(), String>) -> bool {
    match result {
        Ok(()) => true,
        Err(message) => {
            r.error(s.line, s.field.clone(), message);
            false
        }
    }
}

fn check_slug(slug: &str) -> Result<(), String> {
    let ok = (1..=MAX_SLUG_CHARS).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{slug}` is not a slug (1 to {MAX_SLUG_CHARS} characters of a-z, 0-9 and `-`)"
        ))
    }
}

fn check_hashtag(tag: &str) -> Result<(), String> {
    let Some(name) = tag.strip_prefix('#') else {
        return Err(format!(
            "`{tag}` must start with `#`, e.g. `#{}`",
            tag.trim()
        ));
    };
    if name.is_empty() {
        return Err("needs a name after `#`".to_owned());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || *c == '_')) {
        return Err(format!(
            "`{tag}`: only letters, digits and `_` may follow `#` (found `{bad}`)"
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_HASHTAG_CHARS {
        return Err(format!(
            "too long: {chars} characters after `#` (at most {MAX_HASHTAG_CHARS})"
        ));
    }
    Ok(())
}

fn parse_zone(name: &str) -> Result<Tz, String> {
    if let Ok(zone) = name.parse::<Tz>() {
        return Ok(zone);
    }
    let lower = name.to_lowercase();
    let exact_but_case = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|z| z.name().to_lowercase() == lower);
    let hint = match exact_but_case {
        Some(z) => format!(" (did you mean `{}`?)", z.name()),
        None => {
            let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
            match closest(name, &names) {
                Some(close) => format!(" (did you mean `{close}`?)"),
                None => {
                    " (use an IANA name such as `Europe/London` or `America/New_York`)".to_owned()
                }
            }
        }
    };
    Err(format!("unknown time zone `{name}`{hint}"))
}

fn read_rooms(r: &mut Reader<'_>, root: &Node<'_>) -> Option<Vec<RoomRef>> {
    let items = r.strings(
        root,
        "rooms",
        Some("at least one room, e.g. `discord:123456789012345678`"),
    )?;
    let line = r.line(root.table.get("rooms").and_then(|i| i.span()));
    if items.is_empty() && r.errors.iter().all(|e| e.field != "rooms") {
        r.error(line.unwrap_or(1), "rooms", "needs at least one room");
        return None;
    }
    let mut rooms = Vec::with_capacity(items.len());
    let mut seen: HashMap<RoomRef, String> = HashMap::new();
    let mut ok = true;
    for s in items {
        match s.value.parse::<RoomRef>() {
            Ok(room) => {
                if let Some(first) = seen.get(&room) {
                    r.error(
                        s.line,
                        s.field,
                        format!("duplicate room `{room}` (already {first})"),
                    );
                    ok = false;
                } else {
                    seen.insert(room.clone(), s.field);
                    rooms.push(room);
                }
            }
            Err(e) => {
                r.error(s.line, s.field, e.to_string());
                ok = false;
            }
        }
    }
    ok.then_some(rooms)
}

fn read_moderators(r: &mut Reader<'_>, root: &Node<'_>) -> Option<Vec<UserRef>> {
    let Some(items) = r.strings(root, "moderators", None) else {
        // Absent is fine; present but not an array has been reported.
        return root.table.get("moderators").is_none().then(Vec::new);
    };
    let mut users = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    let mut ok = true;
    for s in items {
        match s.value.parse::<UserRef>() {
            Ok(user) if !seen.insert(user.clone()) => {
                r.error(s.line, s.field, format!("duplicate moderator `{user}`"));
                ok = false;
            }
            Ok(user) => users.push(user),
            Err(e) => {
                r.error(s.line, s.field, e.to_string());
                ok = false;
            }
        }
    }
    ok.then_some(users)
}

/// `Some(None)` when there is no `[schedule]`; `None` after an error.
fn read_schedule(r: &mut Reader<'_>, root: &Node<'_>) -> Option<Option<Schedule>> {
    if root.table.get("schedule").is_none() {
        return Some(None);
    }
    let node = r.table(root, "schedule")?;
    r.unknown_keys(&node, SCHEDULE_KEYS);
    let start = r
        .string_or_datetime(
            &node,
            "start",
            Some("the first local date and time, e.g. `2026-12-01 19:00`"),
        )
        .and_then(|s| match parse_start(&s.value) {
            Ok(t) => Some((t, s)),
            Err(m) => {
                r.error(s.line, s.field, m);
                None
            }
        });
    let every = match r.string(&node, "every", None) {
        None => node.table.get("every").is_none().then_some(None),
        Some(s) => match s.value.parse::<Repeat>() {
            Ok(repeat) => Some(Some(repeat)),
            Err(m) => {
                r.error(s.line, s.field, m);
                None
            }
        },
    };
    let until = match r.string_or_datetime(&node, "until", None) {
        None => node.table.get("until").is_none().then_some(None),
        Some(s) => match parse_until(&s.value) {
            Ok(d) => Some(Some((d, s))),
            Err(m) => {
                r.error(s.line, s.field, m);
                None
            }
        },
    };
    let ((first, _), repeat, until) = (start?, every?, until?);
    if let Some((date, s)) = &until {
        if *date < first.date() {
            r.error(
                s.line,
                s.field.clone(),
                format!("{date} is before the start ({})", first.date()),
            );
            return None;
        }
    }
    Some(Some(Schedule {
        first,
        repeat,
        until: until.map(|(d, _)| d),
    }))
}

fn read_points(r: &mut Reader<'_>, root: &Node<'_>) -> Option<Vec<Point>> {
    let tables = r.tables(
        root,
        "points",
        Some("at least one `[[points]]` with a `text`"),
    )?;
    if tables.is_empty() {
        let line = r
            .line(root.table.get("points").and_then(|i| i.span()))
            .unwrap_or(1);
        r.error(line, "points", "needs at least one point");
        return None;
    }
    if tables.len() > MAX_POINTS {
        let (_, line, _) = tables[MAX_POINTS];
        r.error(
            line,
            "points",
            format!("too many points: {} (at most {MAX_POINTS})", tables.len()),
        );
        return None;
    }
    let mut points = Vec::with_capacity(tables.len());
    let mut ok = true;
    for (table, line, path) in tables {
        let node = Node { table, path, line };
        r.unknown_keys(&node, POINT_KEYS);
        let text = r.text(
            &node,
            "text",
            Some("the point's text"),
            MAX_TEXT_CHARS,
            WHY_TEXT,
        );
        let minutes = r.integer(&node, "minutes", 1..=240);
        match (text, minutes) {
            (Some(text), Some(minutes)) => points.push(Point {
                text: text.value,
                minutes,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(points)
}
