//! Guild scheduled events: list, create, get, edit (including status changes), delete.

use serde_json::{json, Value};

use super::{Reply, Req, Unknown};
use crate::ids::*;
use crate::state::{permissions, ScheduledEvent, World};

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

pub(super) fn route(w: &mut World, r: &Req<'_>, m: &str, segs: &[&str]) -> Option<Reply> {
    let ["guilds", g, "scheduled-events", rest @ ..] = segs else {
        return None;
    };
    let gid = GuildId(id(g)?);
    if !w.guilds.contains_key(&gid) {
        return Some(Reply::unknown(Unknown::Guild));
    }
    let bot = w.bot_id();
    let perms = w.member_permissions(gid, bot);
    // Create Events covers making events and changing one's own; Manage Events, everyone's.
    let can_create = perms & (permissions::MANAGE_EVENTS | permissions::CREATE_EVENTS) != 0;
    let can_manage = |e: &ScheduledEvent| {
        perms & permissions::MANAGE_EVENTS != 0 || (can_create && e.creator_id == bot)
    };
    Some(match (m, rest) {
        ("GET", []) => {
            let v: Vec<Value> = w
                .scheduled_events
                .values()
                .filter(|e| e.guild_id == gid)
                .map(|e| w.scheduled_event_json(e))
                .collect();
            Reply::ok(json!(v))
        }
        ("POST", []) => {
            if !can_create {
                return Some(Reply::error(403, 50013, "Missing Permissions"));
            }
            let eid = ScheduledEventId(w.next_id());
            let mut e = ScheduledEvent {
                id: eid,
                guild_id: gid,
                channel_id: None,
                creator_id: bot,
                name: String::new(),
                description: None,
                start: String::new(),
                end: None,
                privacy_level: 2,
                status: 1,
                entity_type: 3,
                location: None,
                image: None,
            };
            if let Err(reply) = apply(w, &mut e, &r.body, true) {
                return Some(reply);
            }
            let v = w.scheduled_event_json(&e);
            w.scheduled_events.insert(eid, e);
            w.dispatch_scheduled_event("GUILD_SCHEDULED_EVENT_CREATE", v.clone(), gid);
            Reply::ok(v)
        }
        ("GET", [eid]) => match id(eid)
            .and_then(|e| w.scheduled_events.get(&ScheduledEventId(e)))
            .filter(|e| e.guild_id == gid)
        {
            Some(e) => Reply::ok(w.scheduled_event_json(e)),
            None => Reply::unknown(Unknown::ScheduledEvent),
        },
        ("PATCH", [eid]) => {
            let Some(mut e) = id(eid)
                .and_then(|e| w.scheduled_events.get(&ScheduledEventId(e)))
                .filter(|e| e.guild_id == gid)
                .cloned()
            else {
                return Some(Reply::unknown(Unknown::ScheduledEvent));
            };
            if !can_manage(&e) {
                return Some(Reply::error(403, 50013, "Missing Permissions"));
            }
            if let Err(reply) = apply(w, &mut e, &r.body, false) {
                return Some(reply);
            }
            let v = w.scheduled_event_json(&e);
            w.scheduled_events.insert(e.id, e);
            w.dispatch_scheduled_event("GUILD_SCHEDULED_EVENT_UPDATE", v.clone(), gid);
            Reply::ok(v)
        }
        ("DELETE", [eid]) => {
            let key = id(eid).map(ScheduledEventId);
            match key
                .and_then(|k| w.scheduled_events.get(&k))
                .filter(|e| e.guild_id == gid)
            {
                Some(e) if !can_manage(e) => Reply::error(403, 50013, "Missing Permissions"),
                Some(e) => {
                    let v = w.scheduled_event_json(e);
                    let k = e.id;
                    w.scheduled_events.remove(&k);
                    w.dispatch_scheduled_event("GUILD_SCHEDULED_EVENT_DELETE", v, gid);
                    Reply::no_content()
                }
                None => Reply::unknown(Unknown::ScheduledEvent),
            }
        }
        _ => return None,
    })
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn time_field(body: &Value, key: &str) -> Result<Option<String>, Reply> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(Reply::invalid_form(
            key,
            "DATE_TIME_TYPE_CONVERT",
            "Could not parse datetime.",
        )),
    }
}

/// Applies a create or edit body, with Discord's rules: names of 1–100 characters,
/// descriptions of at most 1,000, locations of 1–100; external events need a location and an
/// end time; a new start must be in the future and the end after the start; status moves
/// only scheduled → active/canceled and active → completed, and an ended or cancelled event
/// changes no more.
fn apply(w: &World, e: &mut ScheduledEvent, b: &Value, creating: bool) -> Result<(), Reply> {
    if e.status == 3 || e.status == 4 {
        return Err(Reply::invalid_form(
            "status",
            "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION",
            "Cannot edit a completed or canceled event.",
        ));
    }
    if let Some(n) = b.get("name").and_then(Value::as_str) {
        if n.is_empty() || n.chars().count() > 100 {
            return Err(Reply::invalid_form(
                "name",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
        e.name = n.to_string();
    } else if creating {
        return Err(Reply::invalid_form(
            "name",
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ));
    }
    if let Some(d) = b.get("description") {
        if d.as_str().is_some_and(|d| d.chars().count() > 1000) {
            return Err(Reply::invalid_form(
                "description",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 1000 or fewer in length.",
            ));
        }
        e.description = d.as_str().map(str::to_string);
    }
    if let Some(s) = time_field(b, "scheduled_start_time")? {
        if parse_time(&s) <= Some(chrono::Utc::now()) {
            return Err(Reply::invalid_form(
                "scheduled_start_time",
                "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST",
                "Cannot schedule event in the past.",
            ));
        }
        e.start = s;
    } else if creating {
        return Err(Reply::invalid_form(
            "scheduled_start_time",
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ));
    }
    if b.get("scheduled_end_time").is_some() {
        e.end = time_field(b, "scheduled_end_time")?;
    }
    if let Some(t) = b.get("entity_type").and_then(Value::as_u64) {
        if !(1..=3).contains(&t) {
            return Err(Reply::invalid_form(
                "entity_type",
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3}.",
            ));
        }
        e.entity_type = t as u8;
    }
    if let Some(c) = b.get("channel_id") {
        e.channel_id = parse_snowflake(c).map(ChannelId);
        if let Some(cid) = e.channel_id {
            if !w.channels.contains_key(&cid) {
                return Err(Reply::unknown(Unknown::Channel));
            }
        }
    }
    if let Some(meta) = b.get("entity_metadata") {
        e.location = meta
            .get("location")
            .and_then(Value::as_str)
            .map(str::to_string);
        if e.location
            .as_deref()
            .is_some_and(|l| l.chars().count() > 100)
        {
            return Err(Reply::invalid_form(
                "entity_metadata.location",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
    }
    if let Some(p) = b.get("privacy_level").and_then(Value::as_u64) {
        if p != 2 {
            return Err(Reply::invalid_form(
                "privacy_level",
                "BASE_TYPE_CHOICES",
                "Value must be one of {2}.",
            ));
        }
    }
    if let Some(img) = b.get("image") {
        e.image = img
            .as_str()
            .map(|s| crate::state::image_hash(s.len() as u64, e.id.0));
    }
    if e.entity_type == 3 {
        if e.location.as_deref().is_none_or(str::is_empty) {
            return Err(Reply::invalid_form(
                "entity_metadata.location",
                "BASE_TYPE_REQUIRED",
                "This field is required",
            ));
        }
        if e.end.is_none() {
            return Err(Reply::invalid_form(
                "scheduled_end_time",
                "BASE_TYPE_REQUIRED",
                "This field is required for external events",
            ));
        }
        if e.end.as_deref().and_then(parse_time) <= parse_time(&e.start) {
            return Err(Reply::invalid_form(
                "scheduled_end_time",
                "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
                "Cannot schedule event to end before starting.",
            ));
        }
        e.channel_id = None;
    } else if e.channel_id.is_none() {
        return Err(Reply::invalid_form(
            "channel_id",
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ));
    }
    if let Some(s) = b.get("status").and_then(Value::as_u64) {
        let ok = matches!((e.status, s), (1, 2) | (1, 4) | (2, 3)) || e.status as u64 == s;
        if creating || !ok {
            return Err(Reply::invalid_form(
                "status",
                "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION",
                "Invalid status transition.",
            ));
        }
        e.status = s as u8;
    }
    Ok(())
}
