//! Reading chat files: one TOML file per chat, every problem reported with its file and line.
//!
//! See `config/chats/interlibnet.toml` for a documented example. Array elements are numbered
//! from 1 in error messages, so `points[3].text` is the text of Q3.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono_tz::Tz;

pub use super::locate::LocatedError;
use super::locate::{closest, parse_document, read_text, Node, Reader, Spanned};
use super::schedule::{parse_start, parse_until, Repeat, Schedule};
use super::{CaptureHashtag, Chat, Point, Visibility};
use crate::ids::{Platform, RoomRef, UserRef};
use crate::platforms::Platforms;

#[derive(Debug, thiserror::Error)]
#[error("{} in chat files", crate::render::count(.0.len() as u64, "problem", "problems"))]
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
    "visibility",
    "capture_hashtag",
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

/// Parses and checks one chat file's text, its room and user ids by the rules of `platforms`;
/// `path` is only used in messages and `Chat::source`.
pub fn parse_chat(
    path: &Path,
    text: &str,
    platforms: &Platforms,
) -> Result<Chat, Vec<LocatedError>> {
    parse_with_slug_line(path, text, platforms).map(|(chat, _)| chat)
}

/// Reads and checks one chat file.
pub fn load_chat_file(path: &Path, platforms: &Platforms) -> Result<Chat, Vec<LocatedError>> {
    let text = read_text(path).map_err(|e| vec![e])?;
    parse_chat(path, &text, platforms)
}

/// Reads every `*.toml` file in `dir` (sorted by name) as a chat; slugs must be unique.
/// Returns every problem in every file, or all the chats.
pub fn load_chat_dir(dir: &Path, platforms: &Platforms) -> Result<Vec<Chat>, Vec<LocatedError>> {
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
            .and_then(|text| parse_with_slug_line(&file, &text, platforms));
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

fn parse_with_slug_line(
    path: &Path,
    text: &str,
    platforms: &Platforms,
) -> Result<(Chat, usize), Vec<LocatedError>> {
    let doc = parse_document(path, text).map_err(|e| vec![e])?;
    let mut r = Reader::new(path, text);
    let root = Node::root(doc.as_table());
    let sections = platforms.chat_sections();
    let accepted: Vec<&str> = CHAT_KEYS
        .iter()
        .copied()
        .chain(sections.iter().copied())
        .collect();
    r.unknown_keys(&root, &accepted);
    let platform_options = read_platform_tables(&mut r, &root, platforms, &sections);

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

    let visibility = match r.string(&root, "visibility", None) {
        None => Some(Visibility::default()),
        Some(s) => match Visibility::parse(&s.value) {
            Some(v) => Some(v),
            None => {
                r.error(
                    s.line,
                    s.field,
                    "must be `public`, `unlisted` or `private`".to_owned(),
                );
                None
            }
        },
    };
    let capture_hashtag = match r.string(&root, "capture_hashtag", None) {
        None => Some(CaptureHashtag::default()),
        Some(s) => match CaptureHashtag::parse(&s.value) {
            Some(c) => Some(c),
            None => {
                r.error(
                    s.line,
                    s.field,
                    "must be `archive`, `relay` or `off`".to_owned(),
                );
                None
            }
        },
    };
    let rooms = read_rooms(&mut r, &root, platforms);
    let moderators = read_moderators(&mut r, &root, platforms);
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
        ) if errors.is_empty()
            && description_ok
            && visibility.is_some()
            && capture_hashtag.is_some() =>
        {
            Ok((
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
                    visibility: visibility.unwrap_or_default(),
                    capture_hashtag: capture_hashtag.unwrap_or_default(),
                    platform_options: platform_options.unwrap_or_default(),
                    source: path.to_path_buf(),
                },
                slug_line,
            ))
        }
        _ if errors.is_empty() => Err(vec![LocatedError::new(
            path,
            0,
            "file",
            "could not be read as a chat",
        )]),
        _ => Err(errors),
    }
}

/// The platforms' own tables of a chat file (`[discord]`), each read by the adapter that owns
/// it; `None` when one had problems (reported through `r`).
fn read_platform_tables(
    r: &mut Reader<'_>,
    root: &Node<'_>,
    platforms: &Platforms,
    sections: &[&'static str],
) -> Option<BTreeMap<Platform, serde_json::Value>> {
    let mut options = BTreeMap::new();
    let mut ok = true;
    for name in sections {
        let Some(node) = r.table(root, name) else {
            ok &= !root.table.contains_key(name);
            continue;
        };
        let Some(owner) = platforms.chat_section_owner(name) else {
            continue;
        };
        match owner.read_chat_section(r, &node) {
            Some(value) => {
                options.insert(owner.platform(), value);
            }
            None => ok = false,
        }
    }
    ok.then_some(options)
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

fn read_rooms(r: &mut Reader<'_>, root: &Node<'_>, platforms: &Platforms) -> Option<Vec<RoomRef>> {
    let items = r.strings(
        root,
        "rooms",
        Some("at least one room, written `platform:id`"),
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
        let parsed = s.value.parse::<RoomRef>().map_err(|e| e.to_string());
        match parsed.and_then(|room| platforms.check_room(&room).map(|()| room)) {
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
                r.error(s.line, s.field, e);
                ok = false;
            }
        }
    }
    ok.then_some(rooms)
}

fn read_moderators(
    r: &mut Reader<'_>,
    root: &Node<'_>,
    platforms: &Platforms,
) -> Option<Vec<UserRef>> {
    let Some(items) = r.strings(root, "moderators", None) else {
        // Absent is fine; present but not an array has been reported.
        return root.table.get("moderators").is_none().then(Vec::new);
    };
    let mut users = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    let mut ok = true;
    for s in items {
        let parsed = s.value.parse::<UserRef>().map_err(|e| e.to_string());
        match parsed.and_then(|user| platforms.check_user(&user).map(|()| user)) {
            Ok(user) if !seen.insert(user.clone()) => {
                r.error(s.line, s.field, format!("duplicate moderator `{user}`"));
                ok = false;
            }
            Ok(user) => users.push(user),
            Err(e) => {
                r.error(s.line, s.field, e);
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r##"slug = "demo"
title = "A demo chat"
hashtag = "#demo"
intro = "Hello"
wrap_up = "Bye"
time_zone = "Europe/London"
rooms = ["loopback:demo"]

[[points]]
text = "First?"

[[points]]
text = "Second?"
minutes = 5
"##;

    /// The error lines for `text`, as `check-config` prints them.
    fn errors(text: &str) -> Vec<String> {
        parse_chat(Path::new("chats/x.toml"), text, &Platforms::default())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    use crate::platforms::fake::with_fake;

    #[test]
    fn a_platform_table_is_read_by_its_adapter_and_kept_with_the_chat() {
        let text = format!("{GOOD}\n[fake]\nmode = \"b\"\n");
        let chat = parse_chat(Path::new("chats/x.toml"), &text, &with_fake()).unwrap();
        assert_eq!(
            chat.options_for(Platform::Discord),
            Some(&serde_json::json!({ "mode": "b" }))
        );
        assert_eq!(chat.options_for(Platform::Matrix), None);
        let plain = parse_chat(Path::new("chats/x.toml"), GOOD, &with_fake()).unwrap();
        assert!(plain.platform_options.is_empty());
    }

    #[test]
    fn a_platform_tables_problems_are_located_in_line_order_with_the_others() {
        // GOOD has 14 lines; the table starts on line 16.
        let text = format!("{GOOD}\n[fake]\nmode = \"c\"\nmood = 1\n")
            .replace("title = \"A demo chat\"", "title = \"\"");
        let errors: Vec<String> = parse_chat(Path::new("chats/x.toml"), &text, &with_fake())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "chats/x.toml:2: title: must not be empty",
                "chats/x.toml:17: fake.mode: must be `a` or `b`",
                "chats/x.toml:18: fake.mood: unknown key (did you mean `mode`?)",
            ]
        );
        let not_a_table = format!("fake = 3\n{GOOD}");
        assert_eq!(
            parse_chat(Path::new("chats/x.toml"), &not_a_table, &with_fake())
                .unwrap_err()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["chats/x.toml:1: fake: expected a table, found a number"]
        );
    }

    #[test]
    fn a_platform_table_no_adapter_claims_is_an_unknown_key() {
        let text = format!("{GOOD}\n[fake]\nmode = \"a\"\n");
        assert_eq!(
            errors(&text),
            ["chats/x.toml:16: fake: unknown key (accepted keys: slug, title, hashtag, description, intro, wrap_up, time_zone, minutes_between_points, intro_minutes, reminder_minutes, rooms, moderators, visibility, capture_hashtag, schedule, points)"]
        );
    }

    #[test]
    fn the_shipped_example_chat_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/chats/interlibnet.toml");
        let chat = load_chat_file(&path, &crate::platforms::shipped()).unwrap();
        assert_eq!(chat.slug, "interlibnet");
        assert_eq!(chat.hashtag, "#interlibnet");
        assert_eq!(chat.points.len(), 6);
        assert_eq!(chat.zone, chrono_tz::Europe::London);
        assert_eq!(
            chat.rooms,
            [
                "web:interlibnet".parse().unwrap(),
                "loopback:demo".parse().unwrap()
            ]
        );
        assert_eq!(chat.moderators, ["loopback:moderator".parse().unwrap()]);
        let schedule = chat.schedule.as_ref().unwrap();
        assert_eq!(schedule.repeat, Some(Repeat::Weeks(2)));
        assert_eq!(
            chat.describe_schedule().unwrap(),
            "every 2 weeks on Tuesday at 19:00 (Europe/London), from 1 December 2026"
        );
        let at = chrono::DateTime::parse_from_rfc3339("2027-04-01T00:00:00Z").unwrap();
        assert_eq!(
            chat.next_start_at_or_after(at.to_utc())
                .unwrap()
                .to_rfc3339(),
            "2027-04-06T18:00:00+00:00"
        );
    }

    #[test]
    fn a_minimal_chat_gets_the_defaults() {
        let chat = parse_chat(Path::new("x.toml"), GOOD, &Platforms::default()).unwrap();
        assert_eq!(chat.minutes_between_points, DEFAULT_MINUTES_BETWEEN_POINTS);
        assert_eq!(chat.intro_minutes, DEFAULT_INTRO_MINUTES);
        assert_eq!(chat.reminder_minutes, DEFAULT_REMINDER_MINUTES);
        assert_eq!(chat.description, "");
        assert_eq!(chat.schedule, None);
        assert!(chat.moderators.is_empty());
        assert_eq!(chat.points[1].minutes, Some(5));
        assert_eq!(chat.point_minutes(1), 10);
        assert_eq!(chat.point_minutes(2), 5);
    }

    #[test]
    fn inline_points_and_toml_datetimes_are_accepted() {
        let text = GOOD.split("[[points]]").next().unwrap().to_owned()
            + "points = [{ text = \"One\" }, { text = \"Two\", minutes = 3 }]\n"
            + "schedule = { start = 2026-12-01T19:00:00, every = \"month\", until = 2027-06-30 }\n";
        let chat = parse_chat(Path::new("x.toml"), &text, &Platforms::default()).unwrap();
        assert_eq!(chat.points.len(), 2);
        let schedule = chat.schedule.unwrap();
        assert_eq!(schedule.first, parse_start("2026-12-01 19:00").unwrap());
        assert_eq!(schedule.until, Some(parse_until("2027-06-30").unwrap()));
    }

    #[test]
    fn unknown_keys_are_reported_with_a_hint() {
        let text = GOOD.replace("title =", "titel =") + "\n[[points]]\ntext = \"x\"\nminuts = 3\n";
        assert_eq!(
            errors(&text),
            [
                "chats/x.toml:1: title: missing (required: the chat's title)",
                "chats/x.toml:2: titel: unknown key (did you mean `title`?)",
                "chats/x.toml:18: points[3].minuts: unknown key (did you mean `minutes`?)",
            ]
        );
        let text = format!("colour = \"red\"\n{GOOD}");
        assert_eq!(
            errors(&text),
            ["chats/x.toml:1: colour: unknown key (accepted keys: slug, title, hashtag, description, intro, wrap_up, time_zone, minutes_between_points, intro_minutes, reminder_minutes, rooms, moderators, visibility, capture_hashtag, schedule, points)"]
        );
    }

    #[test]
    fn an_unknown_zone_is_reported_on_its_line() {
        assert_eq!(
            errors(&GOOD.replace("Europe/London", "Europe/Londn")),
            ["chats/x.toml:6: time_zone: unknown time zone `Europe/Londn` (did you mean `Europe/London`?)"]
        );
        assert_eq!(
            errors(&GOOD.replace("Europe/London", "europe/london")),
            ["chats/x.toml:6: time_zone: unknown time zone `europe/london` (did you mean `Europe/London`?)"]
        );
        assert_eq!(
            errors(&GOOD.replace("Europe/London", "Moon/Base")),
            ["chats/x.toml:6: time_zone: unknown time zone `Moon/Base` (use an IANA name such as `Europe/London` or `America/New_York`)"]
        );
    }

    #[test]
    fn bad_and_duplicate_rooms_are_reported_each_on_its_line() {
        let text = GOOD.replace(
            "rooms = [\"loopback:demo\"]",
            "rooms = [\n  \"loopback:demo\",\n  \"loopback:has.dot\",\n  \"irc:x\",\n  \"loopback:demo\",\n]",
        );
        assert_eq!(
            errors(&text),
            [
                "chats/x.toml:9: rooms[2]: `has.dot` is not a name (1 to 64 letters, digits, `-` or `_`): a loopback room",
                "chats/x.toml:10: rooms[3]: unknown platform `irc` (accepted: discord, matrix, web, loopback)",
                "chats/x.toml:11: rooms[4]: duplicate room `loopback:demo` (already rooms[1])",
            ]
        );
        assert_eq!(
            errors(&GOOD.replace("[\"loopback:demo\"]", "[]")),
            ["chats/x.toml:7: rooms: needs at least one room"]
        );
        assert_eq!(
            errors(&GOOD.replace("\"loopback:demo\"]", "\"lobby\"]")),
            ["chats/x.toml:7: rooms[1]: expected `platform:id`, where the platform is one of: discord, matrix, web, loopback"]
        );
    }

    #[test]
    fn missing_points_and_empty_point_text_are_reported() {
        let no_points = GOOD.split("[[points]]").next().unwrap();
        assert_eq!(
            errors(no_points),
            ["chats/x.toml:1: points: missing (required: at least one `[[points]]` with a `text`)"]
        );
        let text =
            GOOD.replace("text = \"Second?\"", "text = \"  \"") + "\n[[points]]\nminutes = 3\n";
        assert_eq!(
            errors(&text),
            [
                "chats/x.toml:13: points[2].text: must not be empty",
                "chats/x.toml:16: points[3].text: missing (required: the point's text)",
            ]
        );
        assert_eq!(
            errors(&(no_points.to_owned() + "points = []\n")),
            ["chats/x.toml:9: points: needs at least one point"]
        );
    }

    #[test]
    fn over_long_texts_are_reported_in_characters_not_bytes() {
        // 1800 two-byte characters are fine; 1801 are not.
        let ok = GOOD.replace("Hello", &"é".repeat(MAX_TEXT_CHARS));
        assert!(parse_chat(Path::new("x.toml"), &ok, &Platforms::default()).is_ok());
        let long = GOOD
            .replace("Hello", &"é".repeat(MAX_TEXT_CHARS + 1))
            .replace("A demo chat", &"t".repeat(201))
            .replace("First?", &"q".repeat(2500));
        assert_eq!(
            errors(&long),
            [
                "chats/x.toml:2: title: too long: 201 characters (at most 200)",
                "chats/x.toml:4: intro: too long: 1801 characters (at most 1800, so a post fits in a Discord message)",
                "chats/x.toml:10: points[1].text: too long: 2500 characters (at most 1800, so a post fits in a Discord message)",
            ]
        );
    }

    #[test]
    fn every_semantic_problem_in_a_file_is_reported() {
        let text = r##"slug = "Bad Slug"
title = ""
hashtag = "demo"
intro = "Hello"
wrap_up = "Bye"
time_zone = "UTC"
minutes_between_points = 0
intro_minutes = "two"
reminder_minutes = 99999999999
rooms = "loopback:demo"
moderators = ["loopback:al.ice"]

[schedule]
start = "2026-12-01 7pm"
every = "fortnight"
until = "2020-01-01"

[[points]]
text = 42
minutes = -1
"##;
        assert_eq!(
            errors(text),
            [
                "chats/x.toml:1: slug: `Bad Slug` is not a slug (1 to 32 characters of a-z, 0-9 and `-`)",
                "chats/x.toml:2: title: must not be empty",
                "chats/x.toml:3: hashtag: `demo` must start with `#`, e.g. `#demo`",
                "chats/x.toml:7: minutes_between_points: 0 is out of range (1 to 240)",
                "chats/x.toml:8: intro_minutes: expected a whole number, found a string",
                "chats/x.toml:9: reminder_minutes: 99999999999 is out of range (0 to 10080)",
                "chats/x.toml:10: rooms: expected an array, found a string",
                "chats/x.toml:11: moderators[1]: `al.ice` is not a name (1 to 64 letters, digits, `-` or `_`): a loopback user",
                "chats/x.toml:14: schedule.start: `2026-12-01 7pm` is not a local date and time like `2026-12-01 19:00`",
                "chats/x.toml:15: schedule.every: `fortnight`: unknown unit `fortnight`; expected `day`, `N days`, `week`, `N weeks`, `month` or `N months`",
                "chats/x.toml:19: points[1].text: expected a string, found a number",
                "chats/x.toml:20: points[1].minutes: -1 is out of range (1 to 240)",
            ]
        );
    }

    #[test]
    fn until_before_start_is_reported_on_until() {
        let text = GOOD.to_owned()
            + "\n[schedule]\nstart = \"2026-12-01 19:00\"\nevery = \"week\"\nuntil = \"2026-11-30\"\n";
        assert_eq!(
            errors(&text),
            ["chats/x.toml:19: schedule.until: 2026-11-30 is before the start (2026-12-01)"]
        );
        let text = GOOD.to_owned() + "\n[schedule]\nevery = \"week\"\n";
        assert_eq!(
            errors(&text),
            ["chats/x.toml:16: schedule.start: missing (required: the first local date and time, e.g. `2026-12-01 19:00`)"]
        );
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let text = GOOD.replace("intro = \"Hello\"", "intro = \"Hello");
        let e = parse_chat(Path::new("x.toml"), &text, &Platforms::default()).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].line, e[0].field.as_str()), (4, "toml"));
        assert!(e[0].to_string().starts_with("x.toml:4: toml: syntax error"));
    }

    #[test]
    fn duplicate_slugs_across_files_are_reported_on_the_second_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join("b.toml"), format!("# another\n{GOOD}")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a chat").unwrap();
        let errors = load_chat_dir(dir.path(), &Platforms::default()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            format!(
                "{}:2: slug: duplicate slug `demo`: already used by {}",
                dir.path().join("b.toml").display(),
                dir.path().join("a.toml").display()
            )
        );
        std::fs::write(
            dir.path().join("b.toml"),
            GOOD.replace("\"demo\"\n", "\"demo-2\"\n"),
        )
        .unwrap();
        let chats = load_chat_dir(dir.path(), &Platforms::default()).unwrap();
        assert_eq!(
            chats.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(),
            ["demo", "demo-2"]
        );
        assert!(load_chat_dir(&dir.path().join("missing"), &Platforms::default()).is_err());
    }

    #[test]
    fn errors_in_several_files_are_all_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), GOOD.replace("#demo", "demo")).unwrap();
        std::fs::write(dir.path().join("b.toml"), [0xff, 0xfe, 0x00]).unwrap();
        let errors = load_chat_dir(dir.path(), &Platforms::default()).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(errors[0].file.ends_with("a.toml"));
        assert_eq!(errors[1].line, 0);
        assert!(errors[1].message.contains("not UTF-8"));
    }

    #[test]
    fn no_input_makes_it_panic() {
        let mut inputs: Vec<String> = vec![
            String::new(),
            "\0\0\0".into(),
            "[[[".into(),
            "slug = 99999999999999999999999999".into(),
            "points = 3\nschedule = 4\nrooms = [1, [2], {a = 3}]\nmoderators = \"x\"".into(),
            "points = [1, \"x\", []]\n[schedule]\nstart = 1969-01-01\nuntil = 10000-01-01".into(),
            "[schedule]\nstart = \"+262143-12-31 23:59\"\nevery = \"4294967296 days\"".into(),
            "[schedule]\nstart = \"9999-12-31 23:59\"\nevery = \"366 days\"\nuntil = \"9999-12-31\"".into(),
            "minutes_between_points = -9223372036854775808\nintro_minutes = 1.5\nreminder_minutes = true".into(),
            "time_zone = \"\"\nhashtag = \"#\"\nslug = \"\"\ntitle = 1979-05-27".into(),
            "[points]\ntext = \"x\"".into(),
            "a.b.c.d = 1\n\"\" = 2\n'💥' = 3".into(),
        ];
        // Pseudo-random printable garbage and mutations of a good file.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..300 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut text = GOOD.to_owned().into_bytes();
            let at = (seed % text.len() as u64) as usize;
            let byte = b" =\"[]{}#\n0x-'.,\\"[(seed >> 32) as usize % 16];
            text[at] = byte;
            inputs.push(String::from_utf8_lossy(&text).into_owned());
        }
        for text in inputs {
            let _ = parse_chat(Path::new("x.toml"), &text, &Platforms::default());
        }
        let schedule = Schedule {
            first: parse_start("9999-12-31 23:59").unwrap(),
            repeat: Some(Repeat::Days(366)),
            until: None,
        };
        let _ = schedule.next_at_or_after(chrono_tz::Pacific::Kiritimati, chrono::Utc::now());
    }
}

#[cfg(test)]
mod visibility_tests {
    use std::path::Path;

    use super::parse_chat;
    use crate::chat::Visibility;
    use crate::platforms::Platforms;

    const BASE: &str =
        "slug = \"v\"\ntitle = \"V\"\nhashtag = \"#v\"\nintro = \"hi\"\nwrap_up = \"bye\"\n\
                        time_zone = \"UTC\"\nrooms = [\"web:lobby\"]\n";

    #[test]
    fn visibility_defaults_to_public_and_accepts_the_three_words() {
        let points = "[[points]]\ntext = \"Q?\"\n";
        let chat = parse_chat(
            Path::new("v.toml"),
            &format!("{BASE}{points}"),
            &Platforms::default(),
        )
        .unwrap();
        assert_eq!(chat.visibility, Visibility::Public);
        for (word, expected) in [
            ("unlisted", Visibility::Unlisted),
            ("private", Visibility::Private),
        ] {
            let text = format!("{BASE}visibility = \"{word}\"\n{points}");
            assert_eq!(
                parse_chat(Path::new("v.toml"), &text, &Platforms::default())
                    .unwrap()
                    .visibility,
                expected
            );
        }
        let text = format!("{BASE}visibility = \"secret\"\n{points}");
        let errors = parse_chat(Path::new("v.toml"), &text, &Platforms::default()).unwrap_err();
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["v.toml:8: visibility: must be `public`, `unlisted` or `private`"]
        );
    }

    #[test]
    fn capture_hashtag_defaults_to_archive_and_accepts_the_three_words() {
        use crate::chat::CaptureHashtag;
        let points = "[[points]]\ntext = \"Q?\"\n";
        let read = |extra: &str| {
            parse_chat(
                Path::new("v.toml"),
                &format!("{BASE}{extra}{points}"),
                &Platforms::default(),
            )
        };
        assert_eq!(read("").unwrap().capture_hashtag, CaptureHashtag::Archive);
        for (word, expected) in [
            ("archive", CaptureHashtag::Archive),
            ("relay", CaptureHashtag::Relay),
            ("off", CaptureHashtag::Off),
        ] {
            let chat = read(&format!("capture_hashtag = \"{word}\"\n")).unwrap();
            assert_eq!(chat.capture_hashtag, expected);
        }
        let errors = read("capture_hashtag = \"everything\"\n").unwrap_err();
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["v.toml:8: capture_hashtag: must be `archive`, `relay` or `off`"]
        );
    }
}
