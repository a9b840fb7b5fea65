//! The JSON export: [`to_json`] writes a [`Transcript`] the one way it is ever written, and
//! [`from_json`] reads one back, checked.
//!
//! Writing is deterministic: fields in declaration order (`schema_version` first), two-space
//! indentation, times as RFC 3339 UTC with milliseconds, a final newline. The same transcript
//! always gives the same bytes.
//!
//! Reading rejects unknown fields, schema versions it does not know, and documents that do not
//! hold together (see [`check`]); every problem is reported with its JSON path. A reply may
//! point at a message that is not in the document (`reply_to` dangles when the parent was
//! deleted, was sent outside the session, or is on another platform); notes and highlights
//! are curated by hand and must name a message that is there.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use super::{Transcript, ACCEPTED_SCHEMA_VERSIONS, WITHHELD};
use crate::ids::{Platform, RoomRef, UserRef};
use crate::model::SessionState;
use crate::render::html::escape::is_web_url;

/// The transcript as its JSON document, ending with a newline.
pub fn to_json(transcript: &Transcript) -> String {
    let mut text = serde_json::to_string_pretty(transcript)
        .expect("a transcript always serialises: its maps have string keys");
    text.push('\n');
    text
}

/// One thing wrong with a document: where (a JSON path such as `messages[3].point`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

impl Problem {
    fn new(path: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Why a document was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Not JSON, or not the document's shape (a wrong type, an unknown or missing field).
    #[error("{0}")]
    Malformed(Problem),
    /// A `schema_version` this build does not read.
    #[error(
        "schema_version: version {found} is not supported (accepted: {})",
        accepted()
    )]
    UnsupportedVersion { found: String },
    /// Well-formed, but inconsistent: every problem found.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

fn accepted() -> String {
    ACCEPTED_SCHEMA_VERSIONS
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads and checks a transcript document.
pub fn from_json(text: &str) -> Result<Transcript, ImportError> {
    // The version first, so a document from a newer hashchat is refused for that reason and
    // not for the first field it does not know.
    #[derive(Deserialize)]
    struct Probe {
        schema_version: Option<serde_json::Value>,
    }
    if let Ok(probe) = serde_json::from_str::<Probe>(text) {
        match probe.schema_version {
            None => {
                return Err(ImportError::Malformed(Problem::new(
                    "schema_version",
                    "missing: this is not a hashchat transcript",
                )))
            }
            Some(v) => {
                let known = v
                    .as_u64()
                    .is_some_and(|n| ACCEPTED_SCHEMA_VERSIONS.iter().any(|a| u64::from(*a) == n));
                if !known {
                    return Err(ImportError::UnsupportedVersion {
                        found: v.to_string(),
                    });
                }
            }
        }
    }

    let mut deserializer = serde_json::Deserializer::from_str(text);
    let transcript: Transcript =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." {
                "(document)".into()
            } else {
                path
            };
            ImportError::Malformed(Problem::new(path, e.into_inner().to_string()))
        })?;
    deserializer.end().map_err(|e| {
        ImportError::Malformed(Problem::new(
            "(document)",
            format!("after the document: {e}"),
        ))
    })?;
    let problems = check(&transcript);
    if problems.is_empty() {
        Ok(transcript)
    } else {
        Err(ImportError::Invalid(problems))
    }
}

/// A platform's or a link's label: 1 to 64 characters, none of them control characters.
fn label_ok(label: &str) -> bool {
    let chars = label.chars().count();
    chars > 0 && chars <= 64 && !label.chars().any(char::is_control)
}

/// Every inconsistency in a transcript (empty when it holds together):
///
/// - `schema_version` is one this build reads;
/// - the chat's slug is non-empty, its hashtag starts with `#`, its time zone is an IANA name;
/// - the session's uid is 1 to 64 letters, digits, `-` or `_`; its state is a known state; its
///   rooms are `platform:id` with a known platform and a well-formed id; its link, if any, has
///   a label of 1 to 64 characters and an http(s) URL;
/// - points are numbered 1..n in order;
/// - posts have a known kind, a point (in range) exactly when the kind is `point`, a valid room,
///   a platform id, and no two are the same step in the same room;
/// - messages have a known platform and a valid room, a platform id that no other message of
///   that platform has, a point in range (or none), are in order (time sent, platform,
///   platform id), have edits oldest first with `edited_at` equal to the last edit's
///   `replaced_at` (and `null` without edits), and, when withheld, show only [`WITHHELD`];
/// - notes name a point in range and (if any) a message in the document; highlights name a
///   message in the document, once each; their authors are `platform:user`.
///
/// `reply_to` may name a message not in the document.
pub fn check(t: &Transcript) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut bad = |path: String, reason: String| problems.push(Problem::new(path, reason));
    let n = t.points.len() as u32;
    let point_ok = |p: u32| (1..=n).contains(&p);

    if !ACCEPTED_SCHEMA_VERSIONS.contains(&t.schema_version) {
        bad(
            "schema_version".into(),
            format!(
                "version {} is not supported (accepted: {})",
                t.schema_version,
                accepted()
            ),
        );
    }
    if t.chat.slug.trim().is_empty() {
        bad("chat.slug".into(), "must not be empty".into());
    }
    if !t.chat.hashtag.starts_with('#') || t.chat.hashtag.len() < 2 {
        bad("chat.hashtag".into(), "must start with `#`".into());
    }
    if t.chat.time_zone.parse::<chrono_tz::Tz>().is_err() {
        bad(
            "chat.time_zone".into(),
            format!(
                "`{}` is not an IANA time zone such as Europe/London",
                t.chat.time_zone
            ),
        );
    }

    let uid = &t.session.uid;
    if uid.is_empty()
        || uid.len() > 64
        || !uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bad(
            "session.uid".into(),
            "must be 1 to 64 letters, digits, `-` or `_`".into(),
        );
    }
    if let Err(e) = SessionState::from_str(&t.session.state) {
        bad(
            "session.state".into(),
            format!(
                "{e} (accepted: scheduled, announced, running, paused, ended, cancelled, missed)"
            ),
        );
    }
    for (i, room) in t.session.rooms.iter().enumerate() {
        if let Err(e) = RoomRef::from_str(room) {
            bad(format!("session.rooms[{i}]"), format!("`{room}`: {e}"));
        }
    }
    if let Some(link) = &t.session.link {
        if !label_ok(&link.label) {
            bad(
                "session.link.label".into(),
                "must be 1 to 64 characters without control characters".into(),
            );
        }
        if !is_web_url(&link.url) || link.url.len() > 2048 {
            bad(
                "session.link.url".into(),
                "must be an http(s) URL of at most 2048 bytes".into(),
            );
        }
    }

    for (i, point) in t.points.iter().enumerate() {
        if point.number as usize != i + 1 {
            bad(
                format!("points[{i}].number"),
                format!(
                    "is {}, expected {} (points are numbered 1..n in order)",
                    point.number,
                    i + 1
                ),
            );
        }
    }

    let mut post_keys = HashSet::new();
    for (i, post) in t.posts.iter().enumerate() {
        let path = |field: &str| format!("posts[{i}].{field}");
        match (post.kind.as_str(), post.point) {
            ("reminder" | "intro" | "wrap_up", None) => {}
            ("reminder" | "intro" | "wrap_up", Some(_)) => bad(
                path("point"),
                format!("must be null for a `{}` post", post.kind),
            ),
            ("point", Some(p)) if point_ok(p) => {}
            ("point", Some(p)) => bad(
                path("point"),
                format!("{p} is not a point of this chat (1..{n})"),
            ),
            ("point", None) => bad(path("point"), "a `point` post needs its point".into()),
            (other, _) => bad(
                path("kind"),
                format!("unknown kind `{other}` (accepted: reminder, intro, point, wrap_up)"),
            ),
        }
        if let Err(e) = RoomRef::from_str(&post.room) {
            bad(path("room"), format!("`{}`: {e}", post.room));
        }
        if post.platform_message_id.is_empty() {
            bad(path("platform_message_id"), "must not be empty".into());
        }
        if !post_keys.insert((post.kind.as_str(), post.point, post.room.as_str())) {
            bad(
                format!("posts[{i}]"),
                "a second post of the same step in the same room".into(),
            );
        }
    }

    let mut keys = HashSet::new();
    for (i, m) in t.messages.iter().enumerate() {
        let path = |field: &str| format!("messages[{i}].{field}");
        match Platform::from_str(&m.platform) {
            Ok(platform) => {
                if let Err(e) = RoomRef::from_str(&format!("{platform}:{}", m.room)) {
                    bad(path("room"), format!("`{}`: {e}", m.room));
                }
            }
            Err(e) => bad(path("platform"), e.to_string()),
        }
        if let Some(label) = &m.platform_label {
            if !label_ok(label) {
                bad(
                    path("platform_label"),
                    "must be 1 to 64 characters without control characters".into(),
                );
            }
        }
        if let Some(link) = &m.permalink {
            if !is_web_url(link) || link.len() > 2048 {
                bad(
                    path("permalink"),
                    "must be an http(s) URL of at most 2048 bytes".into(),
                );
            }
        }
        if m.platform_message_id.is_empty() {
            bad(path("platform_message_id"), "must not be empty".into());
        } else if !keys.insert(m.key()) {
            bad(
                path("platform_message_id"),
                format!(
                    "`{}` appears twice on {}",
                    m.platform_message_id, m.platform
                ),
            );
        }
        if let Some(p) = m.point.filter(|p| !point_ok(*p)) {
            bad(
                path("point"),
                format!("{p} is not a point of this chat (1..{n})"),
            );
        }
        for (k, &p) in m.also_answers.iter().enumerate() {
            if !point_ok(p) {
                bad(
                    path(&format!("also_answers[{k}]")),
                    format!("{p} is not a point of this chat (1..{n})"),
                );
            } else if m.point == Some(p) || m.also_answers[..k].contains(&p) {
                bad(
                    path(&format!("also_answers[{k}]")),
                    format!("Q{p} is already the message's point or listed before"),
                );
            }
        }
        if i > 0 && super::build::message_order(&t.messages[i - 1]) > super::build::message_order(m)
        {
            bad(
                format!("messages[{i}]"),
                "out of order: messages are ordered by sent_at, then platform, then platform_message_id".into(),
            );
        }
        for (j, pair) in m.edits.windows(2).enumerate() {
            if pair[1].replaced_at < pair[0].replaced_at {
                bad(
                    path(&format!("edits[{}].replaced_at", j + 1)),
                    "edits are oldest first".into(),
                );
            }
        }
        if m.edited_at != m.edits.last().map(|e| e.replaced_at) {
            bad(
                path("edited_at"),
                "must be the last edit's replaced_at (and null when there are no edits)".into(),
            );
        }
        for (j, r) in m.reactions.iter().enumerate() {
            if r.key.is_empty() || r.count == 0 {
                bad(
                    path(&format!("reactions[{j}]")),
                    "a reaction has a key and a count of at least 1".into(),
                );
            }
        }
        if m.reactions
            .windows(2)
            .any(|pair| pair[0].key >= pair[1].key)
        {
            bad(
                path("reactions"),
                "reactions are listed once per key, in key order".into(),
            );
        }
        if m.withheld
            && (m.body != WITHHELD
                || m.formatted_body.is_some()
                || !m.edits.is_empty()
                || !m.attachments.is_empty())
        {
            bad(
                path("withheld"),
                format!("a withheld message has body \"{WITHHELD}\" and no formatted body, edits or attachments"),
            );
        }
    }

    for (i, note) in t.notes.iter().enumerate() {
        if let Some(p) = note.point.filter(|p| !point_ok(*p)) {
            bad(
                format!("notes[{i}].point"),
                format!("{p} is not a point of this chat (1..{n})"),
            );
        }
        if let Some(key) = note.after_message.as_ref().filter(|k| !keys.contains(*k)) {
            bad(
                format!("notes[{i}].after_message"),
                format!("no message `{key}` in this transcript"),
            );
        }
        if let Err(e) = UserRef::from_str(&note.by) {
            bad(format!("notes[{i}].by"), format!("`{}`: {e}", note.by));
        }
    }
    let mut highlighted = HashSet::new();
    for (i, h) in t.highlights.iter().enumerate() {
        if !keys.contains(&h.message) {
            bad(
                format!("highlights[{i}].message"),
                format!("no message `{}` in this transcript", h.message),
            );
        } else if !highlighted.insert(h.message.as_str()) {
            bad(
                format!("highlights[{i}].message"),
                format!("`{}` is highlighted twice", h.message),
            );
        }
        if let Err(e) = UserRef::from_str(&h.by) {
            bad(format!("highlights[{i}].by"), format!("`{}`: {e}", h.by));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{
        Author, ChatRecord, MessageRecord, PointRecord, SessionRecord, SCHEMA_VERSION,
    };
    use chrono::{TimeZone, Utc};

    fn sample() -> Transcript {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap();
        let message = |id: &str, point| MessageRecord {
            platform: "loopback".into(),
            room: "main".into(),
            platform_message_id: id.into(),
            author: Author {
                id: "ann".into(),
                name: "Ann".into(),
                avatar_url: None,
            },
            platform_label: None,
            permalink: None,
            body: "A1 yes".into(),
            formatted_body: None,
            sent_at: at,
            point,
            also_answers: Vec::new(),
            reply_to: Some("gone".into()),
            edits: Vec::new(),
            edited_at: None,
            attachments: Vec::new(),
            reactions: Vec::new(),
            withheld: false,
            hidden: false,
        };
        Transcript {
            schema_version: SCHEMA_VERSION,
            chat: ChatRecord {
                slug: "c".into(),
                title: "T".into(),
                hashtag: "#c".into(),
                description: String::new(),
                time_zone: "Europe/London".into(),
            },
            session: SessionRecord {
                uid: "abc".into(),
                state: "ended".into(),
                scheduled_start: at,
                started_at: Some(at),
                ended_at: None,
                rooms: vec!["loopback:main".into()],
                link: None,
                host: None,
            },
            intro: None,
            points: vec![PointRecord {
                number: 1,
                text: "Q?".into(),
                posted_at: None,
            }],
            wrap_up: None,
            posts: Vec::new(),
            messages: vec![message("lb-1", Some(1)), message("lb-2", None)],
            notes: Vec::new(),
            highlights: Vec::new(),
        }
    }

    fn reason(text: &str) -> String {
        from_json(text).unwrap_err().to_string()
    }

    #[test]
    fn the_output_is_pretty_deterministic_and_reads_back() {
        let t = sample();
        let text = to_json(&t);
        assert_eq!(text, to_json(&t));
        assert!(text.starts_with("{\n  \"schema_version\": 2,\n  \"chat\""));
        assert!(text.contains("\"scheduled_start\": \"2026-12-01T19:00:00.000Z\""));
        assert!(text.ends_with("}\n"));
        assert_eq!(
            from_json(&text).unwrap(),
            t,
            "a dangling reply_to is allowed"
        );
    }

    #[test]
    fn a_sessions_link_is_optional_and_reads_back_as_written() {
        let mut t = sample();
        assert!(
            !to_json(&t).contains("\"link\""),
            "absent when there is none"
        );
        t.session.link = Some(crate::model::SessionLink {
            label: "Discord thread".into(),
            url: "https://discord.com/channels/1/2".into(),
        });
        let text = to_json(&t);
        assert!(
            text.contains("\"link\": {\n      \"label\": \"Discord thread\""),
            "{text}"
        );
        assert_eq!(from_json(&text).unwrap(), t);
    }

    #[test]
    fn type_errors_and_unknown_fields_name_their_path() {
        let text = to_json(&sample()).replace("\"point\": 1", "\"point\": \"one\"");
        assert!(
            reason(&text).starts_with("messages[0].point: invalid type"),
            "{}",
            reason(&text)
        );
        let text = to_json(&sample()).replace("\"hidden\": false", "\"hidden\": false, \"x\": 1");
        assert!(
            reason(&text).starts_with("messages[0]"),
            "{}",
            reason(&text)
        );
        assert!(
            reason(&text).contains("unknown field `x`"),
            "{}",
            reason(&text)
        );
        assert!(reason("{").contains("EOF"));
        assert_eq!(
            reason("{\"a\": 1}"),
            "schema_version: missing: this is not a hashchat transcript"
        );
    }

    #[test]
    fn unknown_versions_say_which_are_accepted() {
        let text = to_json(&sample()).replace("\"schema_version\": 2", "\"schema_version\": 7");
        assert_eq!(
            reason(&text),
            "schema_version: version 7 is not supported (accepted: 1, 2)"
        );
    }

    #[test]
    fn a_version_1_document_reads_as_written_and_version_2_adds_what_it_knows() {
        let mut t = sample();
        t.schema_version = 1;
        let v1 = to_json(&t);
        assert_eq!(from_json(&v1).unwrap(), t);
        let mut t = sample();
        t.messages[0].also_answers = vec![1];
        t.messages[1].point = Some(1);
        t.messages[1].also_answers = vec![];
        let mut two = sample();
        two.points.push(PointRecord {
            number: 2,
            text: "Q2?".into(),
            posted_at: None,
        });
        two.messages[0].also_answers = vec![2];
        two.session.host = Some(crate::transcript::HostRecord {
            id: "loopback:mod".into(),
            name: "Mo".into(),
        });
        let text = to_json(&two);
        assert!(
            text.contains("\"also_answers\": [\n        2\n      ]"),
            "{text}"
        );
        assert!(text.contains("\"host\": {"), "{text}");
        assert_eq!(from_json(&text).unwrap(), two);
        let Err(ImportError::Invalid(problems)) = from_json(&to_json(&t)) else {
            panic!("a point answered twice is reported");
        };
        assert_eq!(
            problems[0].path, "messages[0].also_answers[0]",
            "{problems:#?}"
        );
    }

    #[test]
    fn inconsistencies_are_all_reported_with_paths() {
        let mut t = sample();
        t.points[0].number = 2;
        t.messages[1].platform_message_id = "lb-1".into();
        t.messages[0].point = Some(9);
        t.session.rooms[0] = "discord:two words".into();
        t.messages[0].permalink = Some("javascript:alert(1)".into());
        t.messages[1].platform_label = Some("Bad\nlabel".into());
        t.session.state = "exploded".into();
        t.session.link = Some(crate::model::SessionLink {
            label: String::new(),
            url: "javascript:alert(1)".into(),
        });
        t.chat.time_zone = "Mars/Olympus".into();
        let Err(ImportError::Invalid(problems)) = from_json(&to_json(&t)) else {
            panic!("expected problems");
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "chat.time_zone",
                "session.state",
                "session.rooms[0]",
                "session.link.label",
                "session.link.url",
                "points[0].number",
                "messages[0].permalink",
                "messages[0].point",
                "messages[1].platform_label",
                "messages[1].platform_message_id",
            ],
            "{problems:#?}"
        );
        let mut t = sample();
        let reaction = |key: &str, count| crate::transcript::ReactionRecord {
            key: key.into(),
            count,
        };
        t.messages[0].reactions = vec![reaction("👍", 0), reaction("", 1)];
        t.messages[1].reactions = vec![reaction("👍", 2), reaction("🎉", 1)];
        let Err(ImportError::Invalid(problems)) = from_json(&to_json(&t)) else {
            panic!("expected problems");
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "messages[0].reactions[0]",
                "messages[0].reactions[1]",
                "messages[0].reactions",
                "messages[1].reactions",
            ],
            "zero counts, empty keys and keys out of order: {problems:#?}"
        );
        let mut t = sample();
        t.messages[1].platform = "myspace".into();
        assert!(reason(&to_json(&t)).contains("messages[1].platform: unknown platform `myspace`"));
        let mut t = sample();
        t.messages.swap(0, 1);
        t.messages[0].sent_at += chrono::Duration::seconds(1);
        assert!(reason(&to_json(&t)).contains("messages[1]: out of order"));
        let mut t = sample();
        t.highlights.push(crate::transcript::Highlight {
            message: "loopback:nope".into(),
            by: "loopback:mod".into(),
            at: t.session.scheduled_start,
        });
        assert!(reason(&to_json(&t)).contains("highlights[0].message: no message `loopback:nope`"));
    }
}
