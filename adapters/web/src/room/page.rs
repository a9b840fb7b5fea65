//! `/r` (the rooms) and `/r/{room}`: the room page.
//!
//! The page is whole without JavaScript: during a session it holds everything the room was
//! shown so far (each message as it stands now: edits applied, deletions gone), and between
//! sessions the next session's time, the chat's description, the points to come when the chat
//! file allows, an RSVP form and the past transcripts. The room's script (`/room.js`) then
//! follows the room live from the last event the page holds, and posts the forms without
//! leaving the page.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bot_core::chat::{Chat, Visibility};
use bot_core::ids::{check_name, Platform, UserRef};
use bot_core::model::SessionState;

use super::account::{new_token, Viewer};
use super::event::{self, RoomEvent};
use super::{RoomHub, SCRIPT};
use crate::page::{esc, html, internal, not_found, room_layout, time};
use crate::rules::chat_options;
use crate::WebState;

/// Past sessions listed between sessions.
const PAST_SHOWN: usize = 10;

pub async fn script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// `/r/{room}/calendar.ics`: the room's chat as an iCal feed (its schedule and its one-off
/// sessions), for whoever may see the room: unlike `/c/{slug}.ics`, whatever the chat's
/// visibility, since the room page shows the same times; a passphrase room's only to who
/// joined it.
pub async fn calendar(
    State(state): State<WebState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(hub) = state.room.clone() else {
        return not_found();
    };
    let Some(chat) = hub.inner().chat_of(&room) else {
        return not_found();
    };
    let viewer = match Viewer::of(&hub.inner().store, &headers).await {
        Ok(viewer) => viewer,
        Err(e) => return internal(e),
    };
    match hub.inner().may_read(&room, &chat, viewer.as_ref()).await {
        Ok(true) => {}
        Ok(false) => return not_found(),
        Err(e) => return internal(e),
    }
    let name = format!("{} ({})", chat.title, chat.hashtag);
    crate::calendar::feed(&state, &name, &[&chat]).await
}

/// Every chat's browser room.
pub async fn rooms(State(state): State<WebState>) -> Response {
    let Some(hub) = state.room.as_ref() else {
        return not_found();
    };
    let mut body = String::from("<h1>Browser rooms</h1>");
    let mut any = false;
    body.push_str("<ul class=\"rooms\">");
    for chat in hub.inner().engine.chats() {
        for room in chat.rooms.iter().filter(|r| r.platform == Platform::Web) {
            any = true;
            let _ = write!(
                body,
                "<li><a href=\"/r/{id}\"><bdi>{title}</bdi></a> <span class=\"hashtag\"><bdi>{tag}</bdi></span></li>",
                id = esc(&room.id),
                title = esc(&chat.title),
                tag = esc(&chat.hashtag),
            );
        }
    }
    body.push_str("</ul>");
    if !any {
        body.push_str(
            "<p class=\"muted\">No chat has a browser room: add <code>\"web:NAME\"</code> to a chat file's <code>rooms</code>.</p>",
        );
    }
    html(StatusCode::OK, room_layout("Browser rooms", &body))
}

pub async fn room(
    State(state): State<WebState>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(hub) = state.room.clone() else {
        return not_found();
    };
    if check_name(&room).is_err() {
        return not_found();
    }
    let Some(chat) = hub.inner().chat_of(&room) else {
        return not_found();
    };
    match render(&state, &hub, &chat, &room, &headers).await {
        Ok(page) => html(StatusCode::OK, page),
        Err(e) => internal(e),
    }
}

async fn render(
    state: &WebState,
    hub: &RoomHub,
    chat: &Chat,
    room: &str,
    headers: &HeaderMap,
) -> Result<String, bot_core::store::StoreError> {
    let inner = hub.inner();
    let store = &inner.store;
    let viewer = Viewer::of(store, headers).await?;
    let name = match &viewer {
        Some(v) => {
            store
                .touch_local_member(room, &v.account.user_id, inner.engine.now())
                .await?
        }
        None => None,
    };
    let moderator = viewer.as_ref().is_some_and(|v| {
        v.account.moderator
            || chat
                .moderators
                .contains(&UserRef::new(Platform::Web, &v.account.user_id))
    });
    let options = chat_options(chat);
    let may_read = options.passphrase.is_none() || name.is_some();
    let head = store.local_room_head(room).await?;
    let live = inner.live_uid(room).await?;
    let session = match inner.engine.live_session_in(&super::room_ref(room)) {
        Some(id) => store.get_session(id).await?,
        None => None,
    };
    let csrf = viewer.as_ref().map(Viewer::form_token).unwrap_or_default();

    let mut body = String::new();
    let _ = write!(
        body,
        "<div id=\"room\" class=\"room{mod_class}\" data-room=\"{room_attr}\" data-after=\"{head}\" \
         data-live=\"{live_flag}\" data-csrf=\"{csrf}\" data-me=\"{me}\" data-points=\"{points}\">\
         <h1><bdi>{title}</bdi> <span class=\"hashtag\"><bdi>{tag}</bdi></span></h1>",
        mod_class = if moderator { " moderator" } else { "" },
        room_attr = esc(room),
        live_flag = u8::from(live.is_some()),
        me = esc(name.as_deref().unwrap_or("")),
        points = chat.points.len(),
        title = esc(&chat.title),
        tag = esc(&chat.hashtag),
    );
    let state_line = match &session {
        Some(s) if s.state == SessionState::Paused => {
            "Paused: the next point waits for a moderator.".to_owned()
        }
        Some(s) => match s.current_point {
            Some(n) => format!("Live now: Q{n} of {}.", chat.points.len()),
            None => "Live now: starting.".to_owned(),
        },
        None => "Between sessions.".to_owned(),
    };
    let _ = write!(
        body,
        "<p id=\"room-state\" class=\"room-state\" role=\"status\">{}</p>",
        esc(&state_line)
    );
    let _ = write!(
        body,
        "<p id=\"connection\" class=\"connection muted\" role=\"status\" aria-live=\"polite\"></p>"
    );

    // Who they are here.
    match &name {
        Some(name) => {
            let _ = write!(
                body,
                "<p class=\"you\">You are <strong><bdi>{}</bdi></strong>{}.</p>",
                esc(name),
                if moderator { ", a moderator" } else { "" }
            );
        }
        None => join_form(&mut body, room, options.passphrase.is_some()),
    }
    if moderator && name.is_some() {
        moderator_panel(&mut body, chat, room, &csrf);
    }

    if may_read {
        let events = match &live {
            Some(uid) => store.local_events_of_session(room, uid).await?,
            None => Vec::new(),
        };
        let me = viewer.as_ref().map(|v| v.account.user_id.as_str());
        body.push_str(
            "<section aria-label=\"The conversation\"><ol id=\"events\" class=\"events\" role=\"log\">",
        );
        body.push_str(&conversation(&events, me, chat.zone));
        body.push_str("</ol></section>");
        if live.is_some() && name.is_some() {
            composer(&mut body, room, &csrf, inner.limits.max_message_chars);
            if let Some(uploads) = &inner.uploads {
                share_form(&mut body, room, &csrf, uploads.max_bytes);
            }
        }
    }
    if live.is_none() {
        between_sessions(
            &mut body,
            state,
            chat,
            room,
            name.as_deref(),
            options.show_points,
        )
        .await?;
    }
    if !moderator {
        body.push_str("<p class=\"muted small\">Moderators: <a href=\"/signin\">sign in</a>.</p>");
    }
    body.push_str("</div>");
    Ok(room_layout(&chat.title, &body))
}

fn join_form(body: &mut String, room: &str, with_passphrase: bool) {
    let _ = write!(
        body,
        "<form id=\"join\" class=\"stack card\" method=\"post\" action=\"/r/{room}/join\">\
         <h2>Join the conversation</h2>\
         <label for=\"join-name\">Your name, as others will see it</label>\
         <input id=\"join-name\" name=\"name\" required maxlength=\"40\" autocomplete=\"nickname\">",
        room = esc(room)
    );
    if with_passphrase {
        body.push_str(
            "<label for=\"join-pass\">The chat's passphrase</label>\
             <input id=\"join-pass\" name=\"passphrase\" type=\"password\" required autocomplete=\"off\">",
        );
    }
    body.push_str(
        "<button type=\"submit\">Join</button><p class=\"form-status\" role=\"alert\"></p></form>",
    );
}

/// A hidden random name for one attempt at a post (see `actions::nonce`).
fn nonce_field() -> String {
    format!(
        "<input type=\"hidden\" name=\"nonce\" value=\"{}\">",
        &new_token()[..24]
    )
}

fn moderator_panel(body: &mut String, chat: &Chat, room: &str, csrf: &str) {
    let _ = write!(
        body,
        "<section class=\"mod-panel card\" aria-labelledby=\"mod-title\"><h2 id=\"mod-title\">Moderate</h2><div class=\"mod-buttons\">"
    );
    for (label, text) in [
        ("Start", format!("start {}", chat.slug)),
        ("Pause", "pause".to_owned()),
        ("Resume", "resume".to_owned()),
        ("Next point", "next".to_owned()),
        ("Stop", "stop".to_owned()),
    ] {
        let _ = write!(
            body,
            "<form class=\"command\" method=\"post\" action=\"/r/{room}/command\">\
             <input type=\"hidden\" name=\"text\" value=\"{text}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{nonce}\
             <button type=\"submit\" data-command=\"{label_attr}\">{label}</button></form>",
            room = esc(room),
            text = esc(&text),
            csrf = esc(csrf),
            nonce = nonce_field(),
            label_attr = esc(&label.to_lowercase()),
            label = esc(label),
        );
    }
    let _ = write!(
        body,
        "</div><form class=\"command stack\" method=\"post\" action=\"/r/{room}/command\">\
         <label for=\"command-text\">Any command (as after <code>/chat</code> elsewhere)</label>\
         <input id=\"command-text\" name=\"text\" required maxlength=\"300\" placeholder=\"help\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{nonce}\
         <button type=\"submit\">Run</button></form>\
         <p class=\"form-status\" role=\"alert\"></p></section>",
        room = esc(room),
        csrf = esc(csrf),
        nonce = nonce_field(),
    );
}

fn composer(body: &mut String, room: &str, csrf: &str, max_chars: usize) {
    let _ = write!(
        body,
        "<form id=\"say\" class=\"composer card\" method=\"post\" action=\"/r/{room}/say\">\
         <p id=\"replying\" class=\"replying\" hidden><span></span> \
         <button type=\"button\" id=\"cancel-reply\">Cancel reply</button></p>\
         <label for=\"say-body\">Your message (start an answer with A1, A2, …)</label>\
         <textarea id=\"say-body\" name=\"body\" rows=\"2\" required maxlength=\"{max_chars}\"></textarea>\
         <input type=\"hidden\" name=\"reply_to\" value=\"\" disabled>\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{nonce}\
         <button type=\"submit\">Send</button>\
         <p class=\"form-status\" role=\"alert\"></p></form>",
        room = esc(room),
        csrf = esc(csrf),
        nonce = nonce_field(),
    );
}

/// The form for a file (with a caption), when the room takes files: a plain multipart form,
/// which works without the script too.
fn share_form(body: &mut String, room: &str, csrf: &str, max_bytes: u64) {
    let _ = write!(
        body,
        "<form id=\"share\" class=\"share card stack\" method=\"post\" action=\"/r/{room}/upload\" \
         enctype=\"multipart/form-data\">\
         <label for=\"share-file\">Share a picture or a PDF (at most {mb} MB)</label>\
         <input id=\"share-file\" name=\"file\" type=\"file\" required \
         accept=\"image/png,image/jpeg,image/gif,image/webp,application/pdf\">\
         <label for=\"share-body\">Caption (optional)</label>\
         <input id=\"share-body\" name=\"body\" maxlength=\"1500\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">{nonce}\
         <button type=\"submit\">Share</button><p class=\"form-status\" role=\"alert\"></p></form>",
        room = esc(room),
        mb = max_bytes / (1024 * 1024),
        csrf = esc(csrf),
        nonce = nonce_field(),
    );
}

/// The session's events as they stand: edits applied, deleted messages gone, events meant for
/// someone else left out.
fn conversation(
    events: &[bot_core::store::LocalRoomEvent],
    me: Option<&str>,
    zone: chrono_tz::Tz,
) -> String {
    let mut parsed: Vec<(i64, RoomEvent, chrono::DateTime<chrono::Utc>)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for stored in events {
        if stored.audience.as_deref().is_some_and(|a| Some(a) != me) {
            continue;
        }
        let Some(event) = RoomEvent::from_json(&stored.body) else {
            continue;
        };
        match event {
            RoomEvent::Edit {
                target,
                body,
                formatted_body,
            } => {
                if let Some(&i) = index.get(&target) {
                    if let RoomEvent::Message {
                        body: b,
                        formatted_body: f,
                        ..
                    } = &mut parsed[i].1
                    {
                        *b = body;
                        *f = formatted_body;
                    }
                }
            }
            RoomEvent::Delete { target } => {
                if let Some(&i) = index.get(&target) {
                    parsed[i].1 = RoomEvent::Delete { target };
                }
            }
            event => {
                index.insert(stored.seq, parsed.len());
                parsed.push((stored.seq, event, stored.at));
            }
        }
    }
    let author_of = |seq: i64| -> Option<&str> {
        match &parsed[*index.get(&seq)?].1 {
            RoomEvent::Message { author, .. } => Some(author),
            RoomEvent::Post { label, .. } => Some(label),
            _ => None,
        }
    };
    let mut out = String::new();
    for (seq, event, at) in &parsed {
        let parent = match event {
            RoomEvent::Message { reply_to, .. } => reply_to.and_then(author_of),
            RoomEvent::Reaction { target, .. } => target.and_then(author_of),
            _ => None,
        };
        if let Some(html) = event::render(*seq, event, *at, zone, parent) {
            let _ = write!(out, "<li>{html}</li>");
        }
    }
    out
}

async fn between_sessions(
    body: &mut String,
    state: &WebState,
    chat: &Chat,
    room: &str,
    name: Option<&str>,
    show_points: bool,
) -> Result<(), bot_core::store::StoreError> {
    let store = &state.store;
    let now = state.clock.now();
    let next = store
        .upcoming_sessions(crate::upcoming::LIMIT)
        .await?
        .into_iter()
        .filter(|s| s.chat_slug == chat.slug && s.scheduled_start >= now)
        .min_by_key(|s| s.scheduled_start);
    body.push_str("<section class=\"between card\" aria-labelledby=\"next-title\">");
    match &next {
        Some(s) => {
            let _ = write!(
                body,
                "<h2 id=\"next-title\">Next session</h2><p class=\"next\">{}</p>",
                time(s.scheduled_start, chat.zone)
            );
        }
        None => body.push_str(
            "<h2 id=\"next-title\">Next session</h2><p class=\"next\">None is scheduled; a moderator can start one.</p>",
        ),
    }
    let _ = write!(
        body,
        "<p><a href=\"/r/{}/calendar.ics\">Add the chat's sessions to your calendar (iCal)</a></p>",
        esc(room)
    );
    if !chat.description.trim().is_empty() {
        let _ = write!(
            body,
            "<p class=\"description\"><bdi>{}</bdi></p>",
            esc(&chat.description)
        );
    }
    if show_points && !chat.points.is_empty() {
        body.push_str("<h2>Points to come</h2><ol class=\"points\">");
        for point in &chat.points {
            let _ = write!(body, "<li><bdi>{}</bdi></li>", esc(&point.text));
        }
        body.push_str("</ol>");
    }
    let _ = write!(
        body,
        "<form id=\"rsvp\" class=\"stack\" method=\"post\" action=\"/r/{room}/rsvp\">\
         <h2>Coming?</h2><label for=\"rsvp-name\">Your name</label>\
         <input id=\"rsvp-name\" name=\"name\" required maxlength=\"40\" value=\"{name}\">\
         <button type=\"submit\">I’ll be there</button><p class=\"form-status\" role=\"alert\"></p></form>",
        room = esc(room),
        name = esc(name.unwrap_or("")),
    );
    if chat.visibility != Visibility::Private {
        let past = store
            .archive_page(
                &[bot_core::store::ArchiveWindow {
                    chat_slugs: vec![chat.slug.clone()],
                    ..Default::default()
                }],
                0,
                PAST_SHOWN as u64,
            )
            .await?
            .sessions;
        if !past.is_empty() {
            body.push_str("<h2>Past sessions</h2><ul class=\"past\">");
            for s in past.iter().map(|s| &s.session) {
                let _ = write!(
                    body,
                    "<li><a href=\"/s/{uid}\">{when}</a></li>",
                    uid = esc(&s.uid),
                    when = time(s.started_at.unwrap_or(s.scheduled_start), chat.zone),
                );
            }
            body.push_str("</ul>");
        }
    }
    body.push_str("</section>");
    Ok(())
}
