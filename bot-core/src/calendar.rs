//! iCalendar (RFC 5545) feeds of the scheduled chats, for calendar apps to subscribe to.
//!
//! [`feed`] turns chats and sessions into the text of one `.ics` file. It is a pure function of
//! its inputs (no store, no clock), so the web server decides what goes into a feed (every chat,
//! or one) and this module only decides how it is written:
//!
//! - a chat with a repeating schedule is one `VEVENT` whose `DTSTART` is the first occurrence as a
//!   local time with the chat's `TZID`, and whose `RRULE` comes from [`Schedule::to_rrule`]; so
//!   19:00 stays 19:00 local time across daylight-saving switches. Cancelled occurrences are
//!   `EXDATE`s of that event;
//! - a chat with a one-off schedule, and each session scheduled by command, is a single `VEVENT`;
//! - every `TZID` used has its `VTIMEZONE`, generated from chrono-tz by finding the zone's
//!   UTC-offset transitions (see [`vtimezone`]).
//!
//! The text is written by a small serializer here (escaping, folding at 75 octets, CRLF), because
//! a `VTIMEZONE` has to be built by hand anyway. The tests read the output back with the
//! `icalendar` crate's parser.
//!
//! [`Schedule::to_rrule`]: crate::chat::Schedule::to_rrule

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use crate::chat::{resolve_local, Chat};
use crate::model::{Session, SessionOrigin};
use crate::plan::session_length;

/// The `PRODID` of every feed.
pub const PRODID: &str = "-//hashchat//hashchat//EN";

/// Longest physical line, in octets, without its CRLF (RFC 5545 §3.1).
const FOLD_AT: usize = 75;

/// How far the `VTIMEZONE` transitions reach: from a year before the earliest event of the zone
/// to this many years after `now` (or after the latest event, if later). A feed is fetched again
/// regularly, so the window moves along with it.
const YEARS_AHEAD: u64 = 10;

/// The zone scan's step. Offsets are compared this far apart and a change is then bisected to
/// the second; two transitions closer together than this would be missed (none are in the
/// time-zone database's range of interest).
const SCAN_STEP: TimeDelta = TimeDelta::hours(12);

/// The text of an iCalendar feed.
///
/// - `name`: the calendar's name (`X-WR-CALNAME`).
/// - `chats`: the chats in the feed. Each one with a schedule becomes an event: a repeating one
///   with its `RRULE`, a one-off one as a single event. A chat without a schedule adds nothing.
///   When there is exactly one chat, its zone is also the feed's `X-WR-TIMEZONE`.
/// - `one_offs`: sessions scheduled by command, each with its chat; each becomes an event of its
///   own (`UID` `session-<uid>@hashchat`), in its chat's zone. Only sessions whose origin is
///   [`SessionOrigin::Command`] and which are still upcoming (scheduled or announced) are used;
///   others are ignored.
/// - `cancelled`: cancelled sessions, each with its chat. Those that came from a chat's schedule
///   ([`SessionOrigin::Recurrence`]) become `EXDATE`s of the chat's repeating event, or mark its
///   one-off event `STATUS:CANCELLED`; a cancelled session of a chat that is not in `chats`, or
///   one scheduled by command, adds nothing.
/// - `base_url`: when given, each event links to `{base_url}/c/{slug}`.
/// - `now`: the `DTSTAMP` of every event, and where the time-zone window is measured from.
///
/// The result uses CRLF line endings, is folded at 75 octets and is deterministic: the same
/// inputs give the same bytes.
pub fn feed(
    name: &str,
    chats: &[&Chat],
    one_offs: &[(&Session, &Chat)],
    cancelled: &[(&Session, &Chat)],
    base_url: Option<&str>,
    now: DateTime<Utc>,
) -> String {
    let mut zones = ZoneWindows::default();
    let mut events = String::new();
    let stamp = utc_stamp(now);

    for chat in chats {
        let Some(schedule) = &chat.schedule else {
            continue;
        };
        let zone = chat.zone;
        let start = resolve_local(zone, schedule.first);
        zones.note(zone, start);
        let cancelled_starts: Vec<DateTime<Utc>> = cancelled
            .iter()
            .filter(|(session, _)| {
                session.chat_slug == chat.slug && session.origin == SessionOrigin::Recurrence
            })
            .map(|(session, _)| session.scheduled_start)
            .collect();

        let mut event = Lines::default();
        event.push("BEGIN", &[], "VEVENT");
        event.push(
            "UID",
            &[],
            &escape_text(&format!("chat-{}@hashchat", chat.slug)),
        );
        event.push("DTSTAMP", &[], &stamp);
        event.push(
            "DTSTART",
            &[("TZID", zone.name())],
            &local_stamp(schedule.first),
        );
        event.push("DURATION", &[], &duration(chat));
        match schedule.to_rrule(zone) {
            Some(rule) => {
                event.push("RRULE", &[], &rule);
                for at in &cancelled_starts {
                    zones.note(zone, *at);
                    let (params, value) = zoned_stamp(zone, *at);
                    event.push("EXDATE", &params, &value);
                }
            }
            None => {
                if cancelled_starts.contains(&start) {
                    event.push("STATUS", &[], "CANCELLED");
                }
            }
        }
        describe(&mut event, chat, base_url);
        event.push("END", &[], "VEVENT");
        events.push_str(&event.text);
    }

    for (session, chat) in one_offs {
        if session.origin != SessionOrigin::Command || !session.state.is_upcoming() {
            continue;
        }
        let zone = chat.zone;
        zones.note(zone, session.scheduled_start);
        let mut event = Lines::default();
        event.push("BEGIN", &[], "VEVENT");
        event.push(
            "UID",
            &[],
            &escape_text(&format!("session-{}@hashchat", session.uid)),
        );
        event.push("DTSTAMP", &[], &stamp);
        let (params, value) = zoned_stamp(zone, session.scheduled_start);
        event.push("DTSTART", &params, &value);
        event.push("DURATION", &[], &duration(chat));
        describe(&mut event, chat, base_url);
        event.push("END", &[], "VEVENT");
        events.push_str(&event.text);
    }

    let mut cal = Lines::default();
    cal.push("BEGIN", &[], "VCALENDAR");
    cal.push("VERSION", &[], "2.0");
    cal.push("PRODID", &[], PRODID);
    cal.push("CALSCALE", &[], "GREGORIAN");
    cal.push("METHOD", &[], "PUBLISH");
    cal.push("X-WR-CALNAME", &[], &escape_text(name));
    if let [chat] = chats {
        cal.push("X-WR-TIMEZONE", &[], chat.zone.name());
    }
    for (zone, earliest, latest) in zones.0.values() {
        let from = earliest
            .checked_sub_days(Days::new(366))
            .unwrap_or(*earliest);
        let until = (*latest).max(now);
        let until = until
            .checked_add_days(Days::new(366 * YEARS_AHEAD))
            .unwrap_or(until);
        cal.text.push_str(&vtimezone(*zone, from, until));
    }
    cal.text.push_str(&events);
    cal.push("END", &[], "VCALENDAR");
    cal.text
}

/// The earliest and latest instant each zone is used at, ordered by zone name.
#[derive(Default)]
struct ZoneWindows(BTreeMap<&'static str, (Tz, DateTime<Utc>, DateTime<Utc>)>);

impl ZoneWindows {
    fn note(&mut self, zone: Tz, at: DateTime<Utc>) {
        let entry = self.0.entry(zone.name()).or_insert((zone, at, at));
        entry.1 = entry.1.min(at);
        entry.2 = entry.2.max(at);
    }
}

/// `SUMMARY`, `DESCRIPTION` and `URL` of a chat's event.
fn describe(event: &mut Lines, chat: &Chat, base_url: Option<&str>) {
    event.push(
        "SUMMARY",
        &[],
        &escape_text(&format!("{} ({})", chat.title, chat.hashtag)),
    );
    if !chat.description.trim().is_empty() {
        event.push("DESCRIPTION", &[], &escape_text(&chat.description));
    }
    if let Some(base) = base_url {
        let url = format!("{}/c/{}", base.trim_end_matches('/'), chat.slug);
        event.push("URL", &[], &strip_controls(&url));
    }
}

/// A `VTIMEZONE` for `zone`, valid from `from` to `until`.
///
/// The zone's observance (UTC offset, whether it is daylight time, abbreviation) is sampled every
/// 12 hours and each change is bisected to the exact second. The first sub-component states the
/// observance in force at `from`; each transition after it is a `STANDARD` or `DAYLIGHT`
/// sub-component whose `DTSTART` is the local time just before the transition, read in the old
/// offset, as RFC 5545 requires. A zone without transitions gets a single `STANDARD`.
pub fn vtimezone(zone: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let initial = Observance::at(zone, from);
    let mut lines = Lines::default();
    lines.push("BEGIN", &[], "VTIMEZONE");
    lines.push("TZID", &[], zone.name());
    lines.push("X-LIC-LOCATION", &[], zone.name());
    // Start the first observance at a local midnight, in its own offset.
    let local_from = (from.naive_utc() + TimeDelta::seconds(i64::from(initial.offset)))
        .date()
        .and_time(chrono::NaiveTime::MIN);
    initial.write(&mut lines, local_from, initial.offset);
    let mut at = from;
    let mut current = initial;
    while at < until {
        let Some(next) = at.checked_add_signed(SCAN_STEP) else {
            break;
        };
        if Observance::at(zone, next) == current {
            at = next;
            continue;
        }
        // Bisect: `lo` still has the current observance, `hi` does not.
        let (mut lo, mut hi) = (at, next);
        while hi - lo > TimeDelta::seconds(1) {
            let mid = lo + (hi - lo) / 2;
            if Observance::at(zone, mid) == current {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let after = Observance::at(zone, hi);
        let onset = hi.naive_utc() + TimeDelta::seconds(i64::from(current.offset));
        after.write(&mut lines, onset, current.offset);
        current = after;
        at = hi;
    }
    lines.push("END", &[], "VTIMEZONE");
    lines.text
}

/// What a zone says about one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observance {
    /// Seconds east of UTC.
    offset: i32,
    daylight: bool,
    name: Option<String>,
}

impl Observance {
    fn at(zone: Tz, at: DateTime<Utc>) -> Observance {
        let offset = zone.offset_from_utc_datetime(&at.naive_utc());
        Observance {
            offset: offset.fix().local_minus_utc(),
            daylight: !offset.dst_offset().is_zero(),
            name: offset.abbreviation().map(str::to_owned),
        }
    }

    /// A `STANDARD` or `DAYLIGHT` sub-component beginning at `onset` (local time in `from`).
    fn write(&self, lines: &mut Lines, onset: NaiveDateTime, from: i32) {
        let kind = if self.daylight {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        lines.push("BEGIN", &[], kind);
        lines.push("DTSTART", &[], &local_stamp(onset));
        lines.push("TZOFFSETFROM", &[], &utc_offset(from));
        lines.push("TZOFFSETTO", &[], &utc_offset(self.offset));
        if let Some(name) = &self.name {
            lines.push("TZNAME", &[], &escape_text(name));
        }
        lines.push("END", &[], kind);
    }
}

/// `DURATION` of a chat's session: intro and points, e.g. `PT1H2M`.
fn duration(chat: &Chat) -> String {
    let minutes = session_length(chat).num_minutes().max(0);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("PT{m}M"),
        (h, 0) => format!("PT{h}H"),
        (h, m) => format!("PT{h}H{m}M"),
    }
}

/// A date-time value without zone: `20261201T190000`.
fn local_stamp(local: NaiveDateTime) -> String {
    local.format("%Y%m%dT%H%M%S").to_string()
}

/// A UTC date-time value: `20261201T190000Z`.
fn utc_stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `at` as a value with `TZID=zone`, or in UTC when its local time does not name it uniquely
/// (the second pass through a repeated hour, which a local time with `TZID` cannot express).
fn zoned_stamp(zone: Tz, at: DateTime<Utc>) -> (Vec<(&'static str, &'static str)>, String) {
    let local = at.with_timezone(&zone).naive_local();
    if resolve_local(zone, local) == at {
        (vec![("TZID", zone.name())], local_stamp(local))
    } else {
        (Vec::new(), utc_stamp(at))
    }
}

/// A `utc-offset` value: `+0100`, `-0500`, `+0545`, with seconds only when there are some.
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// Escapes a TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines (any of
/// CRLF, CR, LF becomes `\n`). Other control characters, which TEXT cannot hold, are dropped.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Drops control characters (for values that are not TEXT, such as a URI).
fn strip_controls(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// A parameter value: quoted when it holds `:`, `;` or `,`; never with a `"` or a control.
fn param_value(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    if clean.contains([':', ';', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// Content lines being written, each folded and ended with CRLF.
#[derive(Default)]
struct Lines {
    text: String,
}

impl Lines {
    /// Appends `NAME;KEY=VALUE…:value`. `value` must already be in its value type's syntax
    /// (TEXT escaped with [`escape_text`]); it must hold no line breaks.
    fn push(&mut self, name: &str, params: &[(&str, &str)], value: &str) {
        let mut line = String::from(name);
        for (key, val) in params {
            line.push(';');
            line.push_str(key);
            line.push('=');
            line.push_str(&param_value(val));
        }
        line.push(':');
        line.push_str(value);
        fold_into(&mut self.text, &line);
    }
}

/// Appends `line` folded to physical lines of at most 75 octets (continuations start with a
/// space), never splitting a UTF-8 character, each ended with CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = FOLD_AT;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space of a continuation counts towards its 75 octets.
        limit = FOLD_AT - 1;
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use chrono::{NaiveDate, Timelike};
    use chrono_tz::{America, Asia, Europe};
    use icalendar::parser::{read_calendar, unfold, Calendar, Component, Property};

    use super::*;
    use crate::chat::{Point, Repeat, Schedule};
    use crate::ids::{Platform, RoomRef};
    use crate::model::SessionState;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn now() -> DateTime<Utc> {
        at(2026, 11, 1, 12, 0)
    }

    /// The example chat (config/chats/interlibnet.toml): every 2 weeks on Tuesday 19:00
    /// Europe/London from 2026-12-01.
    fn chat() -> Chat {
        Chat {
            slug: "interlibnet".into(),
            title: "Libraries and social media".into(),
            hashtag: "#interlibnet".into(),
            description: "A chat for library people".into(),
            intro: "Welcome!".into(),
            wrap_up: "Thanks, everyone".into(),
            points: (1..=6)
                .map(|n| Point {
                    text: format!("Point {n}?"),
                    minutes: None,
                })
                .collect(),
            minutes_between_points: 10,
            intro_minutes: 2,
            reminder_minutes: 60,
            zone: Europe::London,
            schedule: Some(Schedule {
                first: local(2026, 12, 1, 19, 0),
                repeat: Some(Repeat::Weeks(2)),
                until: None,
            }),
            rooms: vec![RoomRef::new(Platform::Loopback, "demo")],
            moderators: Vec::new(),
            visibility: Default::default(),
            capture_hashtag: Default::default(),
            platform_options: Default::default(),
            source: PathBuf::from("interlibnet.toml"),
        }
    }

    fn weekly(slug: &str, zone: Tz, first: NaiveDateTime) -> Chat {
        Chat {
            slug: slug.into(),
            zone,
            schedule: Some(Schedule {
                first,
                repeat: Some(Repeat::Weeks(1)),
                until: None,
            }),
            ..chat()
        }
    }

    fn session(
        uid: &str,
        chat: &Chat,
        origin: SessionOrigin,
        state: SessionState,
        start: DateTime<Utc>,
    ) -> Session {
        Session {
            id: 1,
            uid: uid.into(),
            chat_slug: chat.slug.clone(),
            state,
            origin,
            scheduled_start: start,
            started_at: None,
            ended_at: None,
            next_step: 0,
            next_due_at: Some(start),
            paused_remaining_ms: None,
            current_point: None,
            rooms: chat.rooms.clone(),
        }
    }

    /// Parses a feed back with the `icalendar` crate, after checking the physical form: CRLF
    /// only, every physical line at most 75 octets, and every `TZID` with its `VTIMEZONE`.
    fn parse(text: &str) -> Calendar<'static> {
        assert!(text.ends_with("\r\n"));
        assert!(
            !text.replace("\r\n", "").contains(['\r', '\n']),
            "bare CR or LF"
        );
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "line of {} octets: {line:?}", line.len());
        }
        let unfolded: &'static str = Box::leak(unfold(text).into_boxed_str());
        let cal = read_calendar(unfolded).expect("the feed parses");
        let zones: Vec<&str> = cal
            .components
            .iter()
            .filter(|c| c.name.as_str() == "VTIMEZONE")
            .map(|c| value(c, "TZID"))
            .collect();
        let mut used = Vec::new();
        for c in &cal.components {
            collect_tzids(c, &mut used);
        }
        assert!(!used.is_empty() || !text.contains("TZID="));
        for tzid in &used {
            assert!(zones.contains(&tzid.as_str()), "no VTIMEZONE for {tzid}");
        }
        cal
    }

    fn collect_tzids(c: &Component<'_>, out: &mut Vec<String>) {
        for p in &c.properties {
            if let Some(tzid) = param(p, "TZID") {
                out.push(tzid.to_owned());
            }
        }
        for sub in &c.components {
            collect_tzids(sub, out);
        }
    }

    fn param<'a>(p: &'a Property<'_>, key: &str) -> Option<&'a str> {
        p.params
            .iter()
            .find(|q| q.key.as_str() == key)
            .and_then(|q| q.val.as_ref().map(|v| v.as_str()))
    }

    fn value<'a>(c: &'a Component<'_>, name: &str) -> &'a str {
        c.find_prop(name)
            .unwrap_or_else(|| panic!("no {name} in {}", c.name.as_str()))
            .val
            .as_str()
    }

    fn components<'a>(cal: &'a Calendar<'_>, name: &str) -> Vec<&'a Component<'a>> {
        cal.components
            .iter()
            .filter(|c| c.name.as_str() == name)
            .collect()
    }

    fn offset_secs(text: &str) -> i64 {
        let sign = if text.starts_with('-') { -1 } else { 1 };
        let digits = &text[1..];
        let h: i64 = digits[0..2].parse().unwrap();
        let m: i64 = digits[2..4].parse().unwrap();
        let s: i64 = digits.get(4..6).map_or(0, |s| s.parse().unwrap());
        sign * (h * 3600 + m * 60 + s)
    }

    fn parse_local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S").unwrap()
    }

    /// A local time read the way a calendar app reads it: with the observance of the
    /// `VTIMEZONE` in force (onset = sub-component `DTSTART` less its `TZOFFSETFROM`).
    fn to_utc(vtimezone: &Component<'_>, local: NaiveDateTime) -> DateTime<Utc> {
        let mut observances: Vec<(NaiveDateTime, i64)> = vtimezone
            .components
            .iter()
            .map(|o| {
                let from = offset_secs(value(o, "TZOFFSETFROM"));
                let to = offset_secs(value(o, "TZOFFSETTO"));
                (
                    parse_local(value(o, "DTSTART")) - TimeDelta::seconds(from),
                    to,
                )
            })
            .collect();
        observances.sort();
        for (i, (onset, to)) in observances.iter().enumerate() {
            let utc = local - TimeDelta::seconds(*to);
            let before_next = observances.get(i + 1).is_none_or(|(next, _)| utc < *next);
            if *onset <= utc && before_next {
                return Utc.from_utc_datetime(&utc);
            }
        }
        panic!("{local} is outside the VTIMEZONE");
    }

    /// The event's occurrences up to `end`, expanded from its `DTSTART`, `RRULE` (the
    /// FREQ=WEEKLY;BYDAY on DTSTART's weekday or FREQ=DAILY that hashchat writes) and
    /// `EXDATE`s, and read through the feed's own `VTIMEZONE`.
    fn expand(cal: &Calendar<'_>, event: &Component<'_>, end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let dtstart = event.find_prop("DTSTART").unwrap();
        let tzid = param(dtstart, "TZID").unwrap();
        let vtimezone = components(cal, "VTIMEZONE")
            .into_iter()
            .find(|z| value(z, "TZID") == tzid)
            .unwrap();
        let first = parse_local(dtstart.val.as_str());
        let rule: BTreeMap<&str, &str> = value(event, "RRULE")
            .split(';')
            .map(|part| part.split_once('=').unwrap())
            .collect();
        let interval: i64 = rule["INTERVAL"].parse().unwrap();
        let step = match rule["FREQ"] {
            "WEEKLY" => {
                let day = first.format("%a").to_string().to_uppercase();
                assert_eq!(rule["BYDAY"], &day[..2]);
                TimeDelta::weeks(interval)
            }
            "DAILY" => TimeDelta::days(interval),
            other => panic!("unexpected FREQ {other}"),
        };
        let exdates: Vec<NaiveDateTime> = event
            .properties
            .iter()
            .filter(|p| p.name.as_str() == "EXDATE")
            .map(|p| {
                assert_eq!(param(p, "TZID"), Some(tzid));
                parse_local(p.val.as_str())
            })
            .collect();
        let mut out = Vec::new();
        let mut local = first;
        loop {
            let utc = to_utc(vtimezone, local);
            if utc > end {
                return out;
            }
            if !exdates.contains(&local) {
                out.push(utc);
            }
            local += step;
        }
    }

    fn events<'a>(cal: &'a Calendar<'_>) -> Vec<&'a Component<'a>> {
        components(cal, "VEVENT")
    }

    #[test]
    fn calendar_example_chat_is_one_recurring_event() {
        let chat = chat();
        let text = feed(
            "Libraries and social media",
            &[&chat],
            &[],
            &[],
            Some("https://chat.example.org/"),
            now(),
        );
        assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        let cal = parse(&text);
        let prop = |name: &str| {
            cal.properties
                .iter()
                .find(|p| p.name.as_str() == name)
                .map(|p| p.val.as_str())
        };
        assert_eq!(prop("VERSION"), Some("2.0"));
        assert_eq!(prop("PRODID"), Some("-//hashchat//hashchat//EN"));
        assert_eq!(prop("CALSCALE"), Some("GREGORIAN"));
        assert_eq!(prop("METHOD"), Some("PUBLISH"));
        assert_eq!(prop("X-WR-CALNAME"), Some("Libraries and social media"));
        assert_eq!(prop("X-WR-TIMEZONE"), Some("Europe/London"));

        let events = events(&cal);
        assert_eq!(events.len(), 1);
        let event = events[0];
        assert_eq!(value(event, "UID"), "chat-interlibnet@hashchat");
        let dtstart = event.find_prop("DTSTART").unwrap();
        assert_eq!(param(dtstart, "TZID"), Some("Europe/London"));
        assert_eq!(dtstart.val.as_str(), "20261201T190000");
        assert_eq!(value(event, "RRULE"), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU");
        assert_eq!(value(event, "DURATION"), "PT1H2M");
        assert_eq!(value(event, "DTSTAMP"), "20261101T120000Z");
        assert_eq!(
            value(event, "SUMMARY"),
            "Libraries and social media (#interlibnet)"
        );
        assert_eq!(value(event, "DESCRIPTION"), "A chat for library people");
        assert_eq!(
            value(event, "URL"),
            "https://chat.example.org/c/interlibnet"
        );
        assert!(event.find_prop("EXDATE").is_none());
        assert!(event.find_prop("STATUS").is_none());
        assert_eq!(components(&cal, "VTIMEZONE").len(), 1);

        // Without a base URL there is no URL; the same inputs give the same bytes.
        let bare = feed("x", &[&chat], &[], &[], None, now());
        assert!(!bare.contains("\r\nURL:"));
        assert_eq!(bare, feed("x", &[&chat], &[], &[], None, now()));
    }

    /// Every occurrence up to 2028, expanded from the feed alone, is 19:00 local as chrono-tz
    /// computes it; and the expected UTC hour switches with summer time.
    fn check_dst(zone: Tz, first: NaiveDateTime, checks: &[(DateTime<Utc>, bool)]) {
        let chat = weekly("weekly", zone, first);
        let text = feed("all", &[&chat], &[], &[], None, now());
        let cal = parse(&text);
        let got = expand(&cal, events(&cal)[0], at(2028, 12, 31, 0, 0));
        let schedule = chat.schedule.as_ref().unwrap();
        let expected: Vec<DateTime<Utc>> = (0..)
            .map_while(|k| {
                let local = schedule.occurrence(k)?;
                let t = zone.from_local_datetime(&local).single().unwrap();
                (t <= at(2028, 12, 31, 0, 0)).then(|| t.with_timezone(&Utc))
            })
            .collect();
        assert!(expected.len() > 100);
        assert_eq!(got, expected);
        for t in &got {
            assert_eq!(t.with_timezone(&zone).hour(), 19);
        }
        for (t, present) in checks {
            assert_eq!(got.contains(t), *present, "{t}");
        }
    }

    #[test]
    fn calendar_london_keeps_19_local_across_switches() {
        // BST: 2026-03-29 .. 2026-10-25, 2027-03-28 .. 2027-10-31.
        check_dst(
            Europe::London,
            local(2026, 1, 6, 19, 0),
            &[
                (at(2026, 3, 24, 19, 0), true),
                (at(2026, 3, 31, 18, 0), true),
                (at(2026, 10, 20, 18, 0), true),
                (at(2026, 10, 27, 19, 0), true),
                (at(2027, 3, 23, 19, 0), true),
                (at(2027, 3, 30, 18, 0), true),
                (at(2027, 10, 26, 18, 0), true),
                (at(2027, 11, 2, 19, 0), true),
                (at(2027, 3, 30, 19, 0), false),
            ],
        );
        // The example chat itself, every two weeks from 2026-12-01.
        let chat = chat();
        let cal = parse(&feed("x", &[&chat], &[], &[], None, now()));
        let got = expand(&cal, events(&cal)[0], at(2027, 12, 31, 0, 0));
        assert_eq!(got[0], at(2026, 12, 1, 19, 0));
        assert!(got.contains(&at(2027, 3, 23, 19, 0)));
        assert!(got.contains(&at(2027, 4, 6, 18, 0)));
        assert!(got.contains(&at(2027, 10, 19, 18, 0)));
        assert!(got.contains(&at(2027, 11, 2, 19, 0)));
    }

    #[test]
    fn calendar_new_york_keeps_19_local_across_switches() {
        // EDT: 2026-03-08 .. 2026-11-01, 2027-03-14 .. 2027-11-07. 19:00 EST is 00:00 UTC.
        check_dst(
            America::New_York,
            local(2026, 1, 6, 19, 0),
            &[
                (at(2026, 3, 4, 0, 0), true),
                (at(2026, 3, 10, 23, 0), true),
                (at(2026, 10, 27, 23, 0), true),
                (at(2026, 11, 4, 0, 0), true),
                (at(2027, 3, 10, 0, 0), true),
                (at(2027, 3, 16, 23, 0), true),
                (at(2027, 11, 2, 23, 0), true),
                (at(2027, 11, 10, 0, 0), true),
            ],
        );
    }

    #[test]
    fn calendar_vtimezone_transitions_are_exact() {
        let chat = chat();
        let cal = parse(&feed("x", &[&chat], &[], &[], None, now()));
        let zone = components(&cal, "VTIMEZONE")[0];
        assert_eq!(value(zone, "TZID"), "Europe/London");
        let subs: Vec<(&str, &str, &str, &str, &str)> = zone
            .components
            .iter()
            .map(|o| {
                (
                    o.name.as_str(),
                    value(o, "DTSTART"),
                    value(o, "TZOFFSETFROM"),
                    value(o, "TZOFFSETTO"),
                    value(o, "TZNAME"),
                )
            })
            .collect();
        // 01:00 GMT -> 02:00 BST on 2027-03-28; 02:00 BST -> 01:00 GMT on 2027-10-31.
        assert!(subs.contains(&("DAYLIGHT", "20270328T010000", "+0000", "+0100", "BST")));
        assert!(subs.contains(&("STANDARD", "20271031T020000", "+0100", "+0000", "GMT")));
        // One observance to start with, then two transitions a year for about eleven years.
        assert!((19..=25).contains(&subs.len()), "{}", subs.len());
        for o in &subs[1..] {
            assert_ne!(o.2, o.3);
        }
    }

    #[test]
    fn calendar_zone_without_dst_has_one_standard() {
        let chat = weekly("tokyo", Asia::Tokyo, local(2026, 12, 1, 19, 0));
        let cal = parse(&feed("x", &[&chat], &[], &[], None, now()));
        let zone = components(&cal, "VTIMEZONE")[0];
        assert_eq!(value(zone, "TZID"), "Asia/Tokyo");
        assert_eq!(zone.components.len(), 1);
        let standard = &zone.components[0];
        assert_eq!(standard.name.as_str(), "STANDARD");
        assert_eq!(value(standard, "TZOFFSETFROM"), "+0900");
        assert_eq!(value(standard, "TZOFFSETTO"), "+0900");
        assert_eq!(value(standard, "TZNAME"), "JST");
        let got = expand(&cal, events(&cal)[0], at(2027, 1, 1, 0, 0));
        assert_eq!(got[0], at(2026, 12, 1, 10, 0));
    }

    #[test]
    fn calendar_cancelled_occurrence_is_an_exdate() {
        let chat = chat();
        let cancelled = session(
            "c1",
            &chat,
            SessionOrigin::Recurrence,
            SessionState::Cancelled,
            at(2027, 4, 6, 18, 0),
        );
        // Another chat's cancellation and a cancelled command session add nothing.
        let other = weekly("other", Europe::London, local(2026, 12, 2, 19, 0));
        let elsewhere = session(
            "c2",
            &other,
            SessionOrigin::Recurrence,
            SessionState::Cancelled,
            at(2027, 4, 20, 18, 0),
        );
        let by_command = session(
            "c3",
            &chat,
            SessionOrigin::Command,
            SessionState::Cancelled,
            at(2027, 4, 20, 18, 0),
        );
        let text = feed(
            "x",
            &[&chat],
            &[],
            &[
                (&cancelled, &chat),
                (&elsewhere, &other),
                (&by_command, &chat),
            ],
            None,
            now(),
        );
        let cal = parse(&text);
        let event = events(&cal)[0];
        let exdates: Vec<&Property<'_>> = event
            .properties
            .iter()
            .filter(|p| p.name.as_str() == "EXDATE")
            .collect();
        assert_eq!(exdates.len(), 1);
        assert_eq!(param(exdates[0], "TZID"), Some("Europe/London"));
        assert_eq!(exdates[0].val.as_str(), "20270406T190000");
        let got = expand(&cal, event, at(2027, 5, 1, 0, 0));
        assert!(got.contains(&at(2027, 3, 23, 19, 0)));
        assert!(!got.contains(&at(2027, 4, 6, 18, 0)));
        assert!(got.contains(&at(2027, 4, 20, 18, 0)));

        // A cancelled one-off chat is marked cancelled.
        let once = Chat {
            slug: "once".into(),
            schedule: Some(Schedule {
                first: local(2027, 6, 1, 19, 0),
                repeat: None,
                until: None,
            }),
            ..chat.clone()
        };
        let gone = session(
            "c4",
            &once,
            SessionOrigin::Recurrence,
            SessionState::Cancelled,
            at(2027, 6, 1, 18, 0),
        );
        let cal = parse(&feed("x", &[&once], &[], &[(&gone, &once)], None, now()));
        assert_eq!(value(events(&cal)[0], "STATUS"), "CANCELLED");
    }

    #[test]
    fn calendar_one_offs_are_single_events_in_the_chat_zone() {
        let chat = chat();
        let ny = Chat {
            slug: "ny".into(),
            zone: America::New_York,
            schedule: None,
            ..chat.clone()
        };
        let once = Chat {
            slug: "once".into(),
            schedule: Some(Schedule {
                first: local(2027, 6, 1, 19, 0),
                repeat: None,
                until: None,
            }),
            ..chat.clone()
        };
        let uid = "0123456789abcdef0123456789abcdef";
        let planned = session(
            uid,
            &ny,
            SessionOrigin::Command,
            SessionState::Announced,
            at(2027, 7, 4, 23, 0),
        );
        // Not command-scheduled, or not upcoming: ignored.
        let recurring = session(
            "r",
            &chat,
            SessionOrigin::Recurrence,
            SessionState::Scheduled,
            at(2026, 12, 1, 19, 0),
        );
        let over = session(
            "e",
            &ny,
            SessionOrigin::Command,
            SessionState::Ended,
            at(2026, 10, 1, 23, 0),
        );
        let text = feed(
            "all",
            &[&chat, &ny, &once],
            &[(&planned, &ny), (&recurring, &chat), (&over, &ny)],
            &[],
            None,
            now(),
        );
        let cal = parse(&text);
        assert!(cal
            .properties
            .iter()
            .all(|p| p.name.as_str() != "X-WR-TIMEZONE"));
        let events = events(&cal);
        let uids: Vec<&str> = events.iter().map(|e| value(e, "UID")).collect();
        assert_eq!(
            uids,
            [
                "chat-interlibnet@hashchat",
                "chat-once@hashchat",
                "session-0123456789abcdef0123456789abcdef@hashchat"
            ]
        );
        let once_event = events[1];
        assert!(once_event.find_prop("RRULE").is_none());
        assert_eq!(value(once_event, "DTSTART"), "20270601T190000");
        let session_event = events[2];
        let dtstart = session_event.find_prop("DTSTART").unwrap();
        assert_eq!(param(dtstart, "TZID"), Some("America/New_York"));
        assert_eq!(dtstart.val.as_str(), "20270704T190000");
        assert!(session_event.find_prop("RRULE").is_none());
        let mut zones: Vec<&str> = components(&cal, "VTIMEZONE")
            .iter()
            .map(|z| value(z, "TZID"))
            .collect();
        zones.sort();
        assert_eq!(zones, ["America/New_York", "Europe/London"]);
    }

    #[test]
    fn calendar_repeated_hour_second_pass_is_written_in_utc() {
        let chat = chat();
        // 2027-10-31 01:30 happens twice in London; this is the second (GMT) one.
        let late = session(
            "late",
            &chat,
            SessionOrigin::Command,
            SessionState::Scheduled,
            at(2027, 10, 31, 1, 30),
        );
        let early = session(
            "early",
            &chat,
            SessionOrigin::Command,
            SessionState::Scheduled,
            at(2027, 10, 31, 0, 30),
        );
        let cal = parse(&feed(
            "x",
            &[],
            &[(&late, &chat), (&early, &chat)],
            &[],
            None,
            now(),
        ));
        let events = events(&cal);
        let late_start = events[0].find_prop("DTSTART").unwrap();
        assert_eq!(late_start.val.as_str(), "20271031T013000Z");
        assert!(param(late_start, "TZID").is_none());
        let early_start = events[1].find_prop("DTSTART").unwrap();
        assert_eq!(early_start.val.as_str(), "20271031T013000");
        assert_eq!(param(early_start, "TZID"), Some("Europe/London"));
    }

    #[test]
    fn calendar_escapes_text() {
        assert_eq!(escape_text(r"a,b;c\d"), r"a\,b\;c\\d");
        assert_eq!(
            escape_text("one\r\ntwo\nthree\rfour"),
            r"one\ntwo\nthree\nfour"
        );
        assert_eq!(escape_text("bell\u{7}\ttab"), "bell\ttab");
        assert_eq!(escape_text("caf\u{e9} \u{1f4da}"), "caf\u{e9} \u{1f4da}");

        let description =
            "Books, zines; and \\ backslashes.\nNew line \u{1f4da}\u{1f389}, caf\u{e9}";
        let chat = Chat {
            description: description.into(),
            ..chat()
        };
        let text = feed(
            "Caf\u{e9}, books; \u{1f4da}",
            &[&chat],
            &[],
            &[],
            None,
            now(),
        );
        assert!(text.contains(r"Books\, zines\; and \\ backslashes.\nNew line"));
        let cal = parse(&text);
        assert_eq!(value(events(&cal)[0], "DESCRIPTION"), description);
    }

    #[test]
    fn calendar_folds_at_75_octets_without_splitting_characters() {
        for prefix in ["", "a", "ab", "abc"] {
            let line = format!("DESCRIPTION:{prefix}{}", "\u{1f4da}é-".repeat(60));
            let mut out = String::new();
            fold_into(&mut out, &line);
            let physical: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
            assert!(physical.len() > 4);
            for (i, p) in physical.iter().enumerate() {
                assert!(p.len() <= 75, "{} octets", p.len());
                assert_eq!(i > 0, p.starts_with(' '));
            }
            // Full use of each line: a fold only falls short by less than one character.
            assert!(physical[0].len() > 71);
            assert_eq!(unfold(&out), format!("{line}\r\n"));
        }
        let mut short = String::new();
        fold_into(&mut short, "SUMMARY:short");
        assert_eq!(short, "SUMMARY:short\r\n");
        let exact = format!("X:{}", "a".repeat(73));
        let mut out = String::new();
        fold_into(&mut out, &exact);
        assert_eq!(out, format!("{exact}\r\n"));

        // A long description in a whole feed round-trips.
        let chat = Chat {
            description: "\u{1f4da} A long description, with commas; and more. ".repeat(20),
            ..chat()
        };
        let cal = parse(&feed("x", &[&chat], &[], &[], None, now()));
        assert_eq!(value(events(&cal)[0], "DESCRIPTION"), chat.description);
    }

    #[test]
    fn calendar_hostile_text_cannot_inject_properties() {
        let title = "Evil\r\nBEGIN:VEVENT\r\nUID:evil\r\nEND:VEVENT\r\nX-EVIL:1";
        let chat = Chat {
            title: title.into(),
            hashtag: "#x;y,z".into(),
            description: "line\nATTACH:http://evil.example\r\nEND:VCALENDAR".into(),
            ..chat()
        };
        let uid = "u\r\nX-EVIL:2";
        let planned = session(
            uid,
            &chat,
            SessionOrigin::Command,
            SessionState::Scheduled,
            at(2027, 1, 5, 19, 0),
        );
        let text = feed(
            "name\r\nX-EVIL:3",
            &[&chat],
            &[(&planned, &chat)],
            &[],
            Some("https://x.example\r\nX-EVIL:4"),
            now(),
        );
        for line in text.split("\r\n") {
            assert!(!line.starts_with("X-EVIL"), "{line}");
            assert!(!line.starts_with("ATTACH"), "{line}");
            assert!(!line.starts_with("UID:evil"), "{line}");
        }
        let cal = parse(&text);
        assert_eq!(components(&cal, "VEVENT").len(), 2);
        assert!(cal
            .properties
            .iter()
            .all(|p| !p.name.as_str().starts_with("X-EVIL")));
        let events = events(&cal);
        for event in &events {
            assert!(event
                .properties
                .iter()
                .all(|p| !p.name.as_str().starts_with("X-EVIL") && p.name.as_str() != "ATTACH"));
            assert_eq!(
                value(event, "SUMMARY"),
                "Evil\nBEGIN:VEVENT\nUID:evil\nEND:VEVENT\nX-EVIL:1 (#x;y,z)"
            );
        }
        assert_eq!(value(events[0], "UID"), "chat-interlibnet@hashchat");
        assert_eq!(value(events[1], "UID"), "session-u\nX-EVIL:2@hashchat");
    }
}
