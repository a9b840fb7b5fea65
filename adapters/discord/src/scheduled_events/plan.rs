//! What a session's Discord scheduled event should be, and the requests that get it there from
//! what was last sent: pure functions, no I/O.
//!
//! Discord's rules, which [`plan`] keeps: an event is created only with a start in the future;
//! its status moves only SCHEDULED → ACTIVE, SCHEDULED → CANCELED and ACTIVE → COMPLETED, and
//! a completed or cancelled event never changes again; an EXTERNAL event (text channels have
//! no stage or voice entity) needs a location (1–100 characters) and an end; names are 1–100
//! characters and descriptions at most 1,000, counted in characters.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use bot_core::chat::Chat;
use bot_core::model::{Session, SessionState};
use bot_core::plan::session_length;

pub(crate) const NAME_MAX: usize = 100;
pub(crate) const DESCRIPTION_MAX: usize = 1000;
pub(crate) const LOCATION_MAX: usize = 100;
/// The description's last line names the session, so the bot knows its own events on
/// Discord's list again even if it died before recording one (and never makes a second).
pub(crate) const MARKER: &str = "hashchat session ";
/// Discord wants an end after the start; a chat with no points and no intro time gets this.
const SHORTEST: Duration = Duration::minutes(1);
/// Entity type 3: an event somewhere else than a stage or voice channel.
pub(crate) const EXTERNAL: u64 = 3;
/// Privacy level 2: members of the guild only (the one Discord allows).
pub(crate) const GUILD_ONLY: u64 = 2;

/// A scheduled event's status, with Discord's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Status {
    Scheduled,
    Active,
    Completed,
    Canceled,
}

impl Status {
    pub fn code(self) -> u64 {
        match self {
            Status::Scheduled => 1,
            Status::Active => 2,
            Status::Completed => 3,
            Status::Canceled => 4,
        }
    }

    pub fn from_code(code: u64) -> Option<Status> {
        [
            Status::Scheduled,
            Status::Active,
            Status::Completed,
            Status::Canceled,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// Discord never changes a completed or cancelled event again.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Canceled)
    }

    /// What a session in `state` shows as.
    pub fn of(state: SessionState) -> Status {
        match state {
            SessionState::Scheduled | SessionState::Announced => Status::Scheduled,
            SessionState::Running | SessionState::Paused => Status::Active,
            SessionState::Ended => Status::Completed,
            SessionState::Cancelled | SessionState::Missed => Status::Canceled,
        }
    }
}

/// The channel a session's event in one guild points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub guild: u64,
    pub channel: u64,
    /// The channel's name, when Discord gave one.
    pub name: Option<String>,
}

/// What an event says: the parts the bot sets and compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Fields {
    pub name: String,
    pub description: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub location: String,
}

impl Fields {
    /// The event of `session` of `chat`, pointing at `place`.
    pub fn of(session: &Session, chat: &Chat, place: &Place) -> Fields {
        Fields {
            name: name(&chat.title, &chat.slug),
            description: description(&chat.description, &session.uid),
            start: session.scheduled_start,
            end: session.scheduled_start + session_length(chat).max(SHORTEST),
            location: location(place),
        }
    }

    /// The body that creates this event.
    pub fn create_body(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "scheduled_start_time": time(self.start),
            "scheduled_end_time": time(self.end),
            "privacy_level": GUILD_ONLY,
            "entity_type": EXTERNAL,
            "entity_metadata": { "location": self.location },
        })
    }

    /// The fields of `self` that `new` changes, as an edit body; times only if the new start
    /// is still ahead (Discord moves no event into the past).
    fn changes_to(&self, new: &Fields, now: DateTime<Utc>) -> Map<String, Value> {
        let mut body = Map::new();
        if self.name != new.name {
            body.insert("name".into(), json!(new.name));
        }
        if self.description != new.description {
            body.insert("description".into(), json!(new.description));
        }
        if self.location != new.location {
            body.insert(
                "entity_metadata".into(),
                json!({ "location": new.location }),
            );
        }
        if new.start > now {
            if self.start != new.start {
                body.insert("scheduled_start_time".into(), json!(time(new.start)));
            }
            if self.end != new.end {
                body.insert("scheduled_end_time".into(), json!(time(new.end)));
            }
        }
        body
    }
}

/// Discord's timestamp form.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// At most `max` characters of `text`, an ellipsis marking a cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

fn name(title: &str, slug: &str) -> String {
    let title = title.trim();
    clip(if title.is_empty() { slug } else { title }, NAME_MAX)
}

fn description(text: &str, uid: &str) -> String {
    let marker = format!("{MARKER}{uid}");
    // The chat's text, then a blank line, then the marker: all within Discord's limit.
    let room = DESCRIPTION_MAX.saturating_sub(marker.chars().count() + 2);
    let text = clip(text.trim(), room);
    if text.is_empty() {
        marker
    } else {
        format!("{text}\n\n{marker}")
    }
}

/// `#general · https://discord.com/channels/…/…`, the name shortened to fit 100 characters.
fn location(place: &Place) -> String {
    let link = format!(
        "https://discord.com/channels/{}/{}",
        place.guild, place.channel
    );
    match place
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(name) => {
            let room = LOCATION_MAX.saturating_sub(link.chars().count() + 4);
            format!("#{} · {link}", clip(name, room))
        }
        None => link,
    }
}

/// The session uid an event's description names on its last line, if it has the marker.
pub(crate) fn marked_session(description: &str) -> Option<&str> {
    let uid = description
        .trim_end()
        .lines()
        .last()?
        .strip_prefix(MARKER)?;
    (!uid.is_empty() && uid.len() <= 64 && uid.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(uid)
}

/// What a session wants on Discord in one guild.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Wanted {
    pub status: Status,
    /// What the event should say, while the session is to come and its chat is configured.
    pub fields: Option<Fields>,
}

impl Wanted {
    pub fn of(session: &Session, chat: Option<&Chat>, place: Option<&Place>) -> Wanted {
        let status = Status::of(session.state);
        let fields = match (status, chat, place) {
            (Status::Scheduled, Some(chat), Some(place)) => Some(Fields::of(session, chat, place)),
            _ => None,
        };
        Wanted { status, fields }
    }
}

/// What the bot last sent (or found) for one session's event in one guild: kept in the store
/// (see `Recorded::to_json`), so a restart neither loses the event nor makes another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub event: u64,
    /// `None` once the event is gone from Discord (someone deleted it, or the bot did).
    pub status: Option<Status>,
    pub fields: Fields,
}

impl Recorded {
    pub fn to_json(&self) -> String {
        json!({
            "event": self.event.to_string(),
            "status": self.status.map(Status::code),
            "name": self.fields.name,
            "description": self.fields.description,
            "start": time(self.fields.start),
            "end": time(self.fields.end),
            "location": self.fields.location,
        })
        .to_string()
    }

    pub fn from_json(text: &str) -> Result<Recorded, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let status = match &v["status"] {
            Value::Null => None,
            s => Some(
                s.as_u64()
                    .and_then(Status::from_code)
                    .ok_or("status is not 1 to 4")?,
            ),
        };
        Ok(Recorded {
            event: snowflake(&v["event"]).ok_or("event is not a snowflake")?,
            status,
            fields: fields_of(&v, "start", "end", |v| v["location"].as_str())?,
        })
    }

    /// An event from Discord's answer (its list, or one event).
    pub fn from_discord(event: &Value) -> Result<Recorded, String> {
        Ok(Recorded {
            event: snowflake(&event["id"]).ok_or("id is not a snowflake")?,
            status: Some(
                event["status"]
                    .as_u64()
                    .and_then(Status::from_code)
                    .ok_or("status is not 1 to 4")?,
            ),
            fields: fields_of(event, "scheduled_start_time", "scheduled_end_time", |v| {
                v["entity_metadata"]["location"].as_str()
            })?,
        })
    }
}

pub(crate) fn snowflake(v: &Value) -> Option<u64> {
    v.as_str()?.parse().ok()
}

fn fields_of(
    v: &Value,
    start: &str,
    end: &str,
    location: impl Fn(&Value) -> Option<&str>,
) -> Result<Fields, String> {
    let at = |key: &str| {
        v[key]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("{key} is not a time"))
    };
    let start = at(start)?;
    Ok(Fields {
        name: v["name"].as_str().unwrap_or_default().to_owned(),
        description: v["description"].as_str().unwrap_or_default().to_owned(),
        start,
        // An event without an end is not one of ours, but may still be adopted and ended.
        end: at(end).unwrap_or(start),
        location: location(v).unwrap_or_default().to_owned(),
    })
}

/// One request towards Discord (or the store) on the way from what was sent to what is wanted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Create(Fields),
    /// Edit these fields (only those that changed), leaving the event saying `Fields`.
    Edit(Map<String, Value>, Fields),
    SetStatus(Status),
    Delete,
    /// The event is done with: drop its record.
    Forget,
}

/// The requests that take the event from `recorded` to `wanted`, in order; none when they
/// agree, or when Discord cannot get there (a start already past, an event someone else
/// ended or deleted).
pub(crate) fn plan(
    recorded: Option<&Recorded>,
    wanted: &Wanted,
    now: DateTime<Utc>,
) -> Vec<Action> {
    use Status::*;
    let Some(recorded) = recorded else {
        return match &wanted.fields {
            Some(fields) if wanted.status == Scheduled && fields.start > now => {
                vec![Action::Create(fields.clone())]
            }
            _ => Vec::new(),
        };
    };
    let Some(status) = recorded.status else {
        // Deleted on Discord by a moderator: not put back; forgotten once the session is over.
        return forget_if(wanted.status.is_final());
    };
    let done = |mut steps: Vec<Action>| {
        steps.push(Action::Forget);
        steps
    };
    match (status, wanted.status) {
        (Scheduled, Scheduled) => match &wanted.fields {
            Some(fields) => {
                let changes = recorded.fields.changes_to(fields, now);
                if changes.is_empty() {
                    Vec::new()
                } else {
                    let mut sent = fields.clone();
                    if fields.start <= now {
                        (sent.start, sent.end) = (recorded.fields.start, recorded.fields.end);
                    }
                    vec![Action::Edit(changes, sent)]
                }
            }
            None => Vec::new(),
        },
        (Scheduled, Active) => vec![Action::SetStatus(Active)],
        // A session that ran while the event could not be started: started, then ended, since
        // Discord has no way from scheduled to completed.
        (Scheduled, Completed) => done(vec![
            Action::SetStatus(Active),
            Action::SetStatus(Completed),
        ]),
        (Scheduled, Canceled) => done(vec![Action::SetStatus(Canceled)]),
        (Active, Completed) => done(vec![Action::SetStatus(Completed)]),
        // An active event cannot be cancelled: it goes.
        (Active, Canceled) => done(vec![Action::Delete]),
        // Discord has no way back to scheduled, and a final event stays as it is.
        (Active, Scheduled | Active) => Vec::new(),
        (Completed | Canceled, wanted) => forget_if(wanted.is_final()),
    }
}

fn forget_if(yes: bool) -> Vec<Action> {
    if yes {
        vec![Action::Forget]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bot_core::chat::parse_chat;
    use bot_core::ids::{Platform, RoomRef};
    use bot_core::model::SessionOrigin;
    use bot_core::platforms::Platforms;
    use chrono::TimeZone;

    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 19, minute, 0).unwrap()
    }

    /// Three points: Q1 and Q2 ten minutes each, Q3 fifteen; two minutes from the intro.
    fn chat() -> Chat {
        let text = r##"
slug = "interlibnet"
title = "Libraries and social media"
hashtag = "#interlibnet"
description = "A chat for library people"
intro = "Welcome!"
wrap_up = "Thanks"
time_zone = "Europe/London"
minutes_between_points = 10
intro_minutes = 2
rooms = ["discord:20"]
[[points]]
text = "Point 1?"
[[points]]
text = "Point 2?"
[[points]]
text = "Point 3?"
minutes = 15
"##;
        let platforms = Platforms::with([crate::rules()]);
        parse_chat(Path::new("interlibnet.toml"), text, &platforms).expect("a valid chat")
    }

    fn session(state: SessionState) -> Session {
        Session {
            id: 7,
            uid: "0123456789abcdef0123456789abcdef".into(),
            chat_slug: "interlibnet".into(),
            state,
            origin: SessionOrigin::Recurrence,
            scheduled_start: at(30),
            started_at: None,
            ended_at: None,
            next_step: 1,
            next_due_at: Some(at(30)),
            paused_remaining_ms: None,
            current_point: None,
            rooms: vec![RoomRef::new(Platform::Discord, "20")],
        }
    }

    fn place() -> Place {
        Place {
            guild: 10,
            channel: 20,
            name: Some("general".into()),
        }
    }

    fn recorded(status: Status) -> Recorded {
        Recorded {
            event: 99,
            status: Some(status),
            fields: Fields::of(&session(SessionState::Scheduled), &chat(), &place()),
        }
    }

    fn wanted(state: SessionState) -> Wanted {
        Wanted::of(&session(state), Some(&chat()), Some(&place()))
    }

    #[test]
    fn an_upcoming_sessions_event_has_the_chats_title_its_plan_and_its_channel() {
        let f = Fields::of(&session(SessionState::Scheduled), &chat(), &place());
        assert_eq!(f.name, "Libraries and social media");
        assert_eq!(
            f.description,
            "A chat for library people\n\nhashchat session 0123456789abcdef0123456789abcdef"
        );
        assert_eq!(f.start, at(30));
        // Intro 2 minutes, Q1 and Q2 10 each, Q3 15: the wrap-up 37 minutes after the start.
        assert_eq!(f.end, at(30) + Duration::minutes(37));
        assert_eq!(f.location, "#general · https://discord.com/channels/10/20");
        let body = f.create_body();
        assert_eq!(body["entity_type"], 3);
        assert_eq!(body["privacy_level"], 2);
        assert_eq!(body["entity_metadata"]["location"], f.location);
        assert_eq!(body["scheduled_start_time"], "2026-12-01T19:30:00.000Z");
        assert_eq!(body["scheduled_end_time"], "2026-12-01T20:07:00.000Z");
        assert_eq!(body.get("channel_id"), None, "external events have none");
    }

    #[test]
    fn a_session_with_no_length_still_ends_after_it_starts() {
        let mut c = chat();
        c.points.clear();
        c.intro_minutes = 0;
        let f = Fields::of(&session(SessionState::Scheduled), &c, &place());
        assert_eq!(f.end - f.start, Duration::minutes(1));
    }

    #[test]
    fn long_texts_are_cut_to_discords_limits_counted_in_characters() {
        let mut c = chat();
        c.title = "é".repeat(200);
        c.description = "ü".repeat(1800);
        let mut p = place();
        p.guild = u64::MAX;
        p.channel = u64::MAX;
        p.name = Some("ß".repeat(100));
        let f = Fields::of(&session(SessionState::Scheduled), &c, &p);
        assert_eq!(f.name.chars().count(), NAME_MAX);
        assert!(f.name.ends_with('…'));
        assert_eq!(f.description.chars().count(), DESCRIPTION_MAX);
        assert!(
            f.description.len() > DESCRIPTION_MAX,
            "bytes are not the limit"
        );
        assert_eq!(
            marked_session(&f.description),
            Some("0123456789abcdef0123456789abcdef"),
            "the marker survives the cut"
        );
        assert_eq!(f.location.chars().count(), LOCATION_MAX);
        assert!(f.location.ends_with(&format!("/{}/{}", u64::MAX, u64::MAX)));
        // Short enough already: left alone.
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "ab…");
    }

    #[test]
    fn an_empty_title_or_description_or_unknown_channel_name_still_makes_a_valid_event() {
        let mut c = chat();
        c.title = "  ".into();
        c.description = String::new();
        let mut p = place();
        p.name = None;
        let f = Fields::of(&session(SessionState::Scheduled), &c, &p);
        assert_eq!(f.name, "interlibnet");
        assert_eq!(
            f.description,
            "hashchat session 0123456789abcdef0123456789abcdef"
        );
        assert_eq!(f.location, "https://discord.com/channels/10/20");
    }

    #[test]
    fn only_the_last_line_marks_a_session() {
        assert_eq!(
            marked_session("text\n\nhashchat session abc123\n"),
            Some("abc123")
        );
        assert_eq!(marked_session("hashchat session abc\nmore"), None);
        assert_eq!(marked_session("hashchat session "), None);
        assert_eq!(marked_session("hashchat session a b"), None);
        assert_eq!(marked_session(""), None);
    }

    #[test]
    fn records_round_trip_and_discords_events_are_read() {
        for status in [Some(Status::Active), None] {
            let mut r = recorded(Status::Scheduled);
            r.status = status;
            assert_eq!(Recorded::from_json(&r.to_json()), Ok(r));
        }
        assert!(Recorded::from_json("{}").is_err());
        assert!(Recorded::from_json("not json").is_err());
        let event = json!({
            "id": "99", "status": 1, "name": "Libraries and social media",
            "description": recorded(Status::Scheduled).fields.description,
            "scheduled_start_time": "2026-12-01T19:30:00+00:00",
            "scheduled_end_time": "2026-12-01T20:07:00.000Z",
            "entity_metadata": { "location": "#general · https://discord.com/channels/10/20" },
        });
        assert_eq!(
            Recorded::from_discord(&event),
            Ok(recorded(Status::Scheduled))
        );
    }

    #[test]
    fn an_upcoming_session_is_created_once_and_only_while_its_start_is_ahead() {
        let w = wanted(SessionState::Scheduled);
        assert_eq!(
            plan(None, &w, at(0)),
            [Action::Create(w.fields.clone().unwrap())]
        );
        assert_eq!(plan(None, &wanted(SessionState::Announced), at(0)).len(), 1);
        assert!(plan(None, &w, at(30)).is_empty(), "a start not ahead");
        assert!(plan(Some(&recorded(Status::Scheduled)), &w, at(0)).is_empty());
        for state in [
            SessionState::Running,
            SessionState::Ended,
            SessionState::Cancelled,
        ] {
            assert!(
                plan(None, &wanted(state), at(0)).is_empty(),
                "{state}: no event made for a session not to come"
            );
        }
        let no_chat = Wanted::of(&session(SessionState::Scheduled), None, Some(&place()));
        assert!(plan(None, &no_chat, at(0)).is_empty());
    }

    #[test]
    fn only_what_changed_is_edited() {
        let mut c = chat();
        c.title = "Libraries and the social web".into();
        let w = Wanted::of(&session(SessionState::Scheduled), Some(&c), Some(&place()));
        let steps = plan(Some(&recorded(Status::Scheduled)), &w, at(0));
        let [Action::Edit(body, sent)] = steps.as_slice() else {
            panic!("{steps:?}")
        };
        assert_eq!(
            Value::Object(body.clone()),
            json!({ "name": "Libraries and the social web" })
        );
        assert_eq!(sent, w.fields.as_ref().unwrap());

        c.points.pop();
        let mut s = session(SessionState::Scheduled);
        s.scheduled_start = at(40);
        let w = Wanted::of(&s, Some(&c), Some(&place()));
        let steps = plan(Some(&recorded(Status::Scheduled)), &w, at(0));
        let [Action::Edit(body, _)] = steps.as_slice() else {
            panic!("{steps:?}")
        };
        assert_eq!(
            Value::Object(body.clone()),
            json!({
                "name": "Libraries and the social web",
                "scheduled_start_time": "2026-12-01T19:40:00.000Z",
                "scheduled_end_time": "2026-12-01T20:02:00.000Z",
            })
        );
        // Once the start is past, times are left as they are; the text still follows.
        let steps = plan(Some(&recorded(Status::Scheduled)), &w, at(45));
        let [Action::Edit(body, sent)] = steps.as_slice() else {
            panic!("{steps:?}")
        };
        assert_eq!(
            Value::Object(body.clone()),
            json!({ "name": "Libraries and the social web" })
        );
        assert_eq!(sent.start, at(30), "what Discord still says");
    }

    #[test]
    fn the_status_follows_the_session_by_discords_allowed_transitions() {
        use Action::*;
        use Status::*;
        let cases = [
            (Scheduled, SessionState::Running, vec![SetStatus(Active)]),
            (Scheduled, SessionState::Paused, vec![SetStatus(Active)]),
            (Active, SessionState::Paused, vec![]),
            (
                Active,
                SessionState::Ended,
                vec![SetStatus(Completed), Forget],
            ),
            (
                Scheduled,
                SessionState::Ended,
                vec![SetStatus(Active), SetStatus(Completed), Forget],
            ),
            (
                Scheduled,
                SessionState::Cancelled,
                vec![SetStatus(Canceled), Forget],
            ),
            (
                Scheduled,
                SessionState::Missed,
                vec![SetStatus(Canceled), Forget],
            ),
            (Active, SessionState::Cancelled, vec![Delete, Forget]),
            (Active, SessionState::Scheduled, vec![]),
            (Completed, SessionState::Ended, vec![Forget]),
            (Canceled, SessionState::Cancelled, vec![Forget]),
            // Ended or cancelled on Discord by someone else: left so.
            (Canceled, SessionState::Scheduled, vec![]),
            (Completed, SessionState::Running, vec![]),
        ];
        for (on_discord, state, expected) in cases {
            assert_eq!(
                plan(Some(&recorded(on_discord)), &wanted(state), at(0)),
                expected,
                "{on_discord:?} with the session {state}"
            );
        }
    }

    #[test]
    fn an_event_deleted_on_discord_is_not_put_back() {
        let mut gone = recorded(Status::Scheduled);
        gone.status = None;
        assert!(plan(Some(&gone), &wanted(SessionState::Scheduled), at(0)).is_empty());
        assert!(plan(Some(&gone), &wanted(SessionState::Running), at(0)).is_empty());
        assert_eq!(
            plan(Some(&gone), &wanted(SessionState::Ended), at(0)),
            [Action::Forget]
        );
    }
}
