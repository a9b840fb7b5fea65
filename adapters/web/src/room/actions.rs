//! The room's forms: join, say, react, command, block, RSVP.
//!
//! Every post is checked in the same order: from this origin, within the address's rate, a
//! known browser with its form token (join and RSVP may make the browser known), not blocked,
//! then the fields. A refusal says why in words. The room's script posts with the header
//! `x-hashchat-room: 1` and gets JSON (`{"ok":true}` or `{"error":"…"}`), keeping the text in
//! its box; a plain form post gets the room back, or a page that says why and shows the text
//! that was not sent, so nothing typed is lost either way.

// A refusal is a `Response`, handed straight back to axum: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bot_core::adapter::{CommandInvocation, Inbound, Reaction};
use bot_core::chat::Chat;
use bot_core::ids::{check_name, Platform, UserRef};
use bot_core::model::IncomingMessage;
use bot_core::store::NameClaim;
use serde::Deserialize;

use super::account::{
    new_token, new_user_id, same_origin, same_secret, set_cookie, token_hash, Viewer,
};
use super::adapter::message_id;
use super::event::RoomEvent;
use super::limits::{wait_words, Rate};
use super::{room_ref, RoomHub};
use crate::page::{esc, html, layout};
use crate::WebState;

/// The largest form the room accepts, in bytes: a message at its longest, percent-encoded, and
/// the other fields.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// How the platform is named to people on the other platforms.
pub const LABEL: &str = "Web";

/// The header the room's script sends with every post.
const SCRIPT_HEADER: &str = "x-hashchat-room";

/// The address a request came from: as the server's listener saw it, or, when the room is
/// told it sits behind a reverse proxy (`[web] behind_proxy`), the last address in
/// `X-Forwarded-For` (the one the proxy itself added; earlier ones are the client's word).
/// `unknown` where the server was started without addresses (tests' routers).
pub struct ClientAddress(pub String);

impl FromRequestParts<WebState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let behind_proxy = state.room.as_ref().is_some_and(|h| h.inner().behind_proxy);
        let forwarded = behind_proxy
            .then(|| forwarded_for(&parts.headers))
            .flatten();
        Ok(ClientAddress(forwarded.unwrap_or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
        })))
    }
}

/// The last address of the request's `X-Forwarded-For` headers, when it is one.
fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()?;
    last.trim()
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// One request's context: who asks, where, and how they want the answer.
pub(super) struct Ask {
    room: String,
    by_script: bool,
    address: String,
}

impl Ask {
    pub(super) fn new(room: &str, headers: &HeaderMap, address: ClientAddress) -> Ask {
        Ask {
            room: room.to_owned(),
            by_script: headers.contains_key(SCRIPT_HEADER),
            address: address.0,
        }
    }

    /// A refusal: `why` in words; `kept` is the text that was not sent, shown back on a plain
    /// form post.
    pub(super) fn refuse(&self, status: StatusCode, why: &str, kept: Option<&str>) -> Response {
        if self.by_script {
            let body = serde_json::json!({ "error": why }).to_string();
            return (status, [("content-type", "application/json")], body).into_response();
        }
        let mut page = format!(
            "<h1>Not done</h1><p class=\"notice\" role=\"alert\">{}</p>",
            esc(why)
        );
        if let Some(kept) = kept.filter(|k| !k.is_empty()) {
            page.push_str(&format!(
                "<p><label for=\"kept\">What you wrote, to copy and send again:</label></p>\
                 <textarea id=\"kept\" readonly rows=\"6\">{}</textarea>",
                esc(kept)
            ));
        }
        page.push_str(&format!(
            "<p><a href=\"/r/{}\">Back to the room</a></p>",
            esc(&self.room)
        ));
        html(status, layout("Not done", &page, false))
    }

    /// Done: JSON for the script, the room again for a form.
    fn done(&self, extra: serde_json::Value, cookie: Option<String>) -> Response {
        let mut response = if self.by_script {
            let mut body = serde_json::json!({ "ok": true });
            if let (Some(body), serde_json::Value::Object(extra)) = (body.as_object_mut(), extra) {
                body.extend(extra);
            }
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                body.to_string(),
            )
                .into_response()
        } else {
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(to) = HeaderValue::from_str(&format!("/r/{}", self.room)) {
                r.headers_mut().insert(LOCATION, to);
            }
            r
        };
        if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(SET_COOKIE, cookie);
        }
        response
    }

    fn failed(&self, e: impl std::fmt::Display, kept: Option<&str>) -> Response {
        tracing::error!(error = %e, room = %self.room, "a browser room request failed");
        self.refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "Something went wrong on the server; nothing was lost on your side. Try again in a moment.",
            kept,
        )
    }
}

fn hub(state: &WebState) -> Option<&RoomHub> {
    state.room.as_ref()
}

/// The fields of a form, or why they are not a form.
fn fields<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    serde_urlencoded::from_bytes(body).map_err(|e| format!("the form was not understood ({e})"))
}

/// A name as shown, and as compared: trimmed, inner spaces folded.
pub fn clean_name(name: &str, max: usize) -> Result<(String, String), String> {
    let shown = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if shown.is_empty() {
        return Err("Enter a name to join with.".to_owned());
    }
    if shown.chars().count() > max {
        return Err(format!("A name is at most {max} characters."));
    }
    if shown
        .chars()
        .any(|c| c.is_control() || bot_core::render::is_bidi_control(c))
    {
        return Err("A name cannot contain control characters.".to_owned());
    }
    let key = shown.to_lowercase();
    Ok((shown, key))
}

/// The chat's passphrase for its browser room, when its file sets one.
pub fn passphrase(chat: &Chat) -> Option<String> {
    crate::rules::chat_options(chat).passphrase
}

/// Is `user` a moderator of `chat` here: signed in with the moderators' secret, or named in
/// the chat file.
fn moderates(chat: &Chat, viewer: &Viewer) -> bool {
    viewer.account.moderator
        || chat
            .moderators
            .contains(&UserRef::new(Platform::Web, &viewer.account.user_id))
}

/// What every post but a join needs: the room, this origin, the address's rate, a known and
/// unblocked browser with its form token, and its name here.
struct Member {
    viewer: Viewer,
    name: String,
    chat: std::sync::Arc<Chat>,
}

async fn member(
    state: &WebState,
    ask: &Ask,
    headers: &HeaderMap,
    csrf: &str,
    kept: Option<&str>,
) -> Result<(RoomHub, Member), Response> {
    let Some(hub) = hub(state).cloned() else {
        return Err(ask.refuse(
            StatusCode::NOT_FOUND,
            "There is no browser room here.",
            kept,
        ));
    };
    let Some(chat) = hub.inner().chat_of(&ask.room) else {
        return Err(ask.refuse(StatusCode::NOT_FOUND, "There is no such room.", kept));
    };
    if !same_origin(headers) {
        return Err(ask.refuse(
            StatusCode::FORBIDDEN,
            "That form came from another site.",
            kept,
        ));
    }
    let limits = &hub.inner().limits;
    if let Err(wait) = hub
        .inner()
        .limiter
        .take(&format!("addr:{}", ask.address), limits.per_address)
    {
        return Err(too_fast(ask, wait, kept));
    }
    let viewer = match Viewer::of(&hub.inner().store, headers).await {
        Ok(Some(viewer)) => viewer,
        Ok(None) => {
            return Err(ask.refuse(
                StatusCode::UNAUTHORIZED,
                "Join the room with a name first.",
                kept,
            ))
        }
        Err(e) => return Err(ask.failed(e, kept)),
    };
    if !viewer.owns_form(csrf) {
        return Err(ask.refuse(
            StatusCode::FORBIDDEN,
            "This page is out of date: reload it and try again.",
            kept,
        ));
    }
    if viewer.account.blocked {
        return Err(ask.refuse(
            StatusCode::FORBIDDEN,
            "A moderator has blocked you from posting in this room.",
            kept,
        ));
    }
    let name = match hub
        .inner()
        .store
        .touch_local_member(&ask.room, &viewer.account.user_id, hub.inner().engine.now())
        .await
    {
        Ok(Some(name)) => name,
        Ok(None) => {
            return Err(ask.refuse(
                StatusCode::UNAUTHORIZED,
                "Join the room with a name first.",
                kept,
            ))
        }
        Err(e) => return Err(ask.failed(e, kept)),
    };
    Ok((hub, Member { viewer, name, chat }))
}

fn too_fast(ask: &Ask, wait: std::time::Duration, kept: Option<&str>) -> Response {
    ask.refuse(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "You are sending faster than the room allows: wait {} and send it again.",
            wait_words(wait)
        ),
        kept,
    )
}

/// One attempt at a post of `kind` (`say`, `react`, `cmd`): its idempotency key, from the
/// client's nonce, once it is within the participant's rate. A retry of a post already made
/// (its key in the room's log) costs nothing; moderators, who run a session with a burst of
/// commands, are held only to their address's rate.
async fn attempt(
    hub: &RoomHub,
    ask: &Ask,
    member: &Member,
    kind: &str,
    given_nonce: &str,
    kept: Option<&str>,
) -> Result<String, Response> {
    let nonce =
        nonce(given_nonce).map_err(|why| ask.refuse(StatusCode::BAD_REQUEST, &why, kept))?;
    let key = format!("{kind}:{}:{nonce}", member.viewer.account.user_id);
    if moderates(&member.chat, &member.viewer) {
        return Ok(key);
    }
    match hub.inner().store.local_event_by_key(&key).await {
        Ok(Some(_)) => return Ok(key),
        Ok(None) => {}
        Err(e) => return Err(ask.failed(e, kept)),
    }
    let rate: Rate = hub.inner().limits.per_participant;
    hub.inner()
        .limiter
        .take(&format!("user:{}", member.viewer.account.user_id), rate)
        .map_err(|wait| too_fast(ask, wait, kept))?;
    Ok(key)
}

/// A client's name for one attempt at a post, so that sending it again is not a second post.
fn nonce(given: &str) -> Result<&str, String> {
    check_name(given)
        .map(|_| given)
        .map_err(|_| "the form was not understood (nonce)".to_owned())
}

/// An event of this room that a form names, which must exist.
async fn target(
    hub: &RoomHub,
    room: &str,
    seq: Option<i64>,
) -> Result<Option<(i64, RoomEvent)>, String> {
    let Some(seq) = seq else { return Ok(None) };
    match hub.inner().store.local_event(room, seq).await {
        Ok(Some(stored)) => match RoomEvent::from_json(&stored.body) {
            Some(event) => Ok(Some((seq, event))),
            None => Err("That message cannot be answered.".to_owned()),
        },
        Ok(None) => Err("That message is not in this room.".to_owned()),
        Err(e) => {
            tracing::error!(error = %e, "reading a browser room event");
            Err("Something went wrong on the server; try again in a moment.".to_owned())
        }
    }
}

#[derive(Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    passphrase: String,
}

pub async fn join(
    State(state): State<WebState>,
    Path(room): Path<String>,
    address: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ask = Ask::new(&room, &headers, address);
    let form: JoinForm = match fields(&body) {
        Ok(form) => form,
        Err(why) => return ask.refuse(StatusCode::BAD_REQUEST, &why, None),
    };
    match take_a_name(&state, &ask, &headers, &form.name, Some(&form.passphrase)).await {
        Ok(named) => ask.done(serde_json::json!({ "name": named.name }), named.cookie),
        Err(refused) => refused,
    }
}

/// Someone who now goes by a name in a room (joined, or said they are coming).
struct Named {
    hub: RoomHub,
    chat: std::sync::Arc<Chat>,
    user_id: String,
    name: String,
    /// The cookie of a browser seen for the first time.
    cookie: Option<String>,
}

/// What joining and RSVPing share: the room, this origin, the address's rate, a valid name
/// (and the passphrase, when `passphrase` is given and the chat has one), an account for the
/// browser (made now for a new one), and the name claimed in the room.
async fn take_a_name(
    state: &WebState,
    ask: &Ask,
    headers: &HeaderMap,
    raw_name: &str,
    passphrase_given: Option<&str>,
) -> Result<Named, Response> {
    let Some(hub) = hub(state).cloned() else {
        return Err(ask.refuse(
            StatusCode::NOT_FOUND,
            "There is no browser room here.",
            None,
        ));
    };
    let Some(chat) = hub.inner().chat_of(&ask.room) else {
        return Err(ask.refuse(StatusCode::NOT_FOUND, "There is no such room.", None));
    };
    if !same_origin(headers) {
        return Err(ask.refuse(
            StatusCode::FORBIDDEN,
            "That form came from another site.",
            None,
        ));
    }
    let limits = hub.inner().limits.clone();
    if let Err(wait) = hub
        .inner()
        .limiter
        .take(&format!("addr:{}", ask.address), limits.per_address)
    {
        return Err(too_fast(ask, wait, None));
    }
    let (name, key) = clean_name(raw_name, limits.max_name_chars)
        .map_err(|why| ask.refuse(StatusCode::BAD_REQUEST, &why, None))?;
    if let (Some(expected), Some(given)) = (passphrase(&chat), passphrase_given) {
        if !same_secret(expected.trim(), given.trim()) {
            return Err(ask.refuse(
                StatusCode::FORBIDDEN,
                "That is not the chat's passphrase.",
                None,
            ));
        }
    }
    let store = &hub.inner().store;
    let (user_id, cookie) = match Viewer::of(store, headers).await {
        Ok(Some(viewer)) if viewer.account.blocked => {
            return Err(ask.refuse(
                StatusCode::FORBIDDEN,
                "A moderator has blocked you from posting in this room.",
                None,
            ))
        }
        Ok(Some(viewer)) => (viewer.account.user_id, None),
        Ok(None) => {
            let token = new_token();
            let user_id = new_user_id();
            if let Err(e) = store
                .create_local_account(&token_hash(&token), &user_id, false)
                .await
            {
                return Err(ask.failed(e, None));
            }
            (
                user_id,
                Some(set_cookie(&token, hub.inner().secure_cookies)),
            )
        }
        Err(e) => return Err(ask.failed(e, None)),
    };
    let now = hub.inner().engine.now();
    match store
        .claim_local_name(&ask.room, &user_id, &name, &key, now, limits.name_hold)
        .await
    {
        Ok(NameClaim::Granted) => Ok(Named {
            hub,
            chat,
            user_id,
            name,
            cookie,
        }),
        Ok(NameClaim::Taken) => {
            let mut refused = ask.refuse(
                StatusCode::CONFLICT,
                &format!("Someone in this room already goes by “{name}”. Choose another name."),
                None,
            );
            // A new browser keeps its cookie, so its next try is the same account.
            if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
                refused.headers_mut().insert(SET_COOKIE, cookie);
            }
            Err(refused)
        }
        Err(e) => Err(ask.failed(e, None)),
    }
}

#[derive(Deserialize, Default)]
pub struct SayForm {
    #[serde(default)]
    pub(super) body: String,
    #[serde(default)]
    pub(super) reply_to: Option<i64>,
    #[serde(default)]
    pub(super) nonce: String,
    #[serde(default)]
    pub(super) csrf: String,
}

pub async fn say(
    State(state): State<WebState>,
    Path(room): Path<String>,
    address: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ask = Ask::new(&room, &headers, address);
    let form: SayForm = match fields(&body) {
        Ok(form) => form,
        Err(why) => return ask.refuse(StatusCode::BAD_REQUEST, &why, None),
    };
    post_message(&state, &ask, &headers, form, None).await
}

/// A participant's message, with the file they attached when there is one: checked, put in
/// the room's log and handed to the engine.
pub(super) async fn post_message(
    state: &WebState,
    ask: &Ask,
    headers: &HeaderMap,
    form: SayForm,
    file: Option<super::upload::Upload>,
) -> Response {
    let room = ask.room.clone();
    let text = form.body.trim_end().to_owned();
    let kept = Some(text.as_str());
    let (hub, member) = match member(state, ask, headers, &form.csrf, kept).await {
        Ok(m) => m,
        Err(refused) => return refused,
    };
    if text.trim().is_empty() && file.is_none() {
        return ask.refuse(StatusCode::BAD_REQUEST, "Write something to send.", kept);
    }

    let max = hub.inner().limits.max_message_chars;
    let length = text.chars().count();
    if length > max {
        return ask.refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Your message is {length} characters long; the room takes at most {max}. Shorten it or split it in two."),
            kept,
        );
    }
    let uid = match hub.inner().live_uid(&room).await {
        Ok(Some(uid)) => uid,
        Ok(None) => {
            return ask.refuse(
                StatusCode::CONFLICT,
                "No session is running in this room now, so your message was not sent.",
                kept,
            )
        }
        Err(e) => return ask.failed(e, kept),
    };
    let user_id = member.viewer.account.user_id.clone();
    let key = match attempt(&hub, ask, &member, "say", &form.nonce, kept).await {
        Ok(key) => key,
        Err(refused) => return refused,
    };
    let parent = match target(&hub, &room, form.reply_to).await {
        Ok(parent) => parent,
        Err(why) => return ask.refuse(StatusCode::BAD_REQUEST, &why, kept),
    };
    let attachment = match file {
        Some(file) => match super::upload::keep(&hub, file).await {
            Ok(attachment) => Some(attachment),
            Err(super::upload::Refused(status, why)) => return ask.refuse(status, &why, kept),
        },
        None => None,
    };
    let event = RoomEvent::Message {
        author: member.name.clone(),
        author_id: Some(user_id.clone()),
        origin: None,
        body: text.clone(),
        formatted_body: None,
        reply_to: parent.as_ref().map(|(seq, _)| *seq),
        files: attachment.iter().map(|a| a.name.clone()).collect(),
    };
    let (seq, _) = match hub
        .inner()
        .append(&room, &event, Some(&uid), None, Some(&key))
        .await
    {
        Ok(appended) => appended,
        Err(e) => return ask.failed(e, kept),
    };
    // A retry of a post already in the room is handed on again: the engine keeps a message
    // once, so one that was shown but not yet archived is archived now.
    let message = IncomingMessage {
        platform: Platform::Web,
        room: room.clone(),
        platform_msg_id: message_id(&room, seq),
        author_id: user_id,
        author_name: member.name,
        avatar_url: None,
        body: text.clone(),
        formatted_body: None,
        sent_at: hub.inner().engine.now(),
        reply_to: parent.map(|(seq, _)| message_id(&room, seq)),
        attachments: attachment.into_iter().collect(),
        platform_label: Some(LABEL.to_owned()),
        permalink: None,
    };
    if let Err(e) = hub.inner().engine.handle(Inbound::Message(message)).await {
        return ask.failed(e, kept);
    }
    ask.done(serde_json::json!({ "seq": seq }), None)
}

#[derive(Deserialize)]
pub struct ReactForm {
    target: i64,
    #[serde(default)]
    key: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    csrf: String,
}

/// What one may react with here.
pub const REACTIONS: &[&str] = &["👍", "❤️", "🎉", "😂", "🤔", "👀"];

pub async fn react(
    State(state): State<WebState>,
    Path(room): Path<String>,
    address: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ask = Ask::new(&room, &headers, address);
    let form: ReactForm = match fields(&body) {
        Ok(form) => form,
        Err(why) => return ask.refuse(StatusCode::BAD_REQUEST, &why, None),
    };
    let (hub, member) = match member(&state, &ask, &headers, &form.csrf, None).await {
        Ok(m) => m,
        Err(refused) => return refused,
    };
    if !REACTIONS.contains(&form.key.as_str()) {
        return ask.refuse(
            StatusCode::BAD_REQUEST,
            "The room does not take that reaction.",
            None,
        );
    }
    let uid = match hub.inner().live_uid(&room).await {
        Ok(Some(uid)) => uid,
        Ok(None) => {
            return ask.refuse(
                StatusCode::CONFLICT,
                "No session is running in this room now.",
                None,
            )
        }
        Err(e) => return ask.failed(e, None),
    };
    let user_id = member.viewer.account.user_id.clone();
    let key = match attempt(&hub, &ask, &member, "react", &form.nonce, None).await {
        Ok(key) => key,
        Err(refused) => return refused,
    };
    match target(&hub, &room, Some(form.target)).await {
        Ok(Some((_, RoomEvent::Message { .. } | RoomEvent::Post { .. }))) => {}
        Ok(_) => {
            return ask.refuse(
                StatusCode::BAD_REQUEST,
                "Only a message can be reacted to.",
                None,
            )
        }
        Err(why) => return ask.refuse(StatusCode::BAD_REQUEST, &why, None),
    }
    let event = RoomEvent::Reaction {
        author: member.name.clone(),
        author_id: Some(user_id.clone()),
        origin: None,
        key: form.key.clone(),
        target: Some(form.target),
    };
    let (seq, _) = match hub
        .inner()
        .append(&room, &event, Some(&uid), None, Some(&key))
        .await
    {
        Ok(appended) => appended,
        Err(e) => return ask.failed(e, None),
    };
    let reaction = Reaction {
        platform: Platform::Web,
        platform_reaction_id: message_id(&room, seq),
        target_msg_id: message_id(&room, form.target),
        room: room.clone(),
        author_id: user_id,
        author_name: member.name,
        platform_label: Some(LABEL.to_owned()),
        key: form.key,
        at: hub.inner().engine.now(),
    };
    if let Err(e) = hub.inner().engine.handle(Inbound::Reacted(reaction)).await {
        return ask.failed(e, None);
    }
    ask.done(serde_json::json!({ "seq": seq }), None)
}

#[derive(Deserialize)]
pub struct CommandForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    reply_to: Option<i64>,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    csrf: String,
}

/// The longest command.
const MAX_COMMAND_CHARS: usize = 300;

pub async fn command(
    State(state): State<WebState>,
    Path(room): Path<String>,
    address: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ask = Ask::new(&room, &headers, address);
    let form: CommandForm = match fields(&body) {
        Ok(form) => form,
        Err(why) => return ask.refuse(StatusCode::BAD_REQUEST, &why, None),
    };
    let text = form.text.trim().to_owned();
    let (hub, member) = match member(&state, &ask, &headers, &form.csrf, Some(&text)).await {
        Ok(m) => m,
        Err(refused) => return refused,
    };
    if text.is_empty() || text.chars().count() > MAX_COMMAND_CHARS {
        return ask.refuse(
            StatusCode::BAD_REQUEST,
            &format!("A command is 1 to {MAX_COMMAND_CHARS} characters."),
            Some(&text),
        );
    }
    let user_id = member.viewer.account.user_id.clone();
    let key = match attempt(&hub, &ask, &member, "cmd", &form.nonce, Some(&text)).await {
        Ok(key) => key,
        Err(refused) => return refused,
    };
    if let Err(why) = target(&hub, &room, form.reply_to).await {
        return ask.refuse(StatusCode::BAD_REQUEST, &why, Some(&text));
    }
    let uid = match hub.inner().live_uid(&room).await {
        Ok(uid) => uid,
        Err(e) => return ask.failed(e, Some(&text)),
    };
    let event = RoomEvent::Command { text: text.clone() };
    let (seq, _) = match hub
        .inner()
        .append(&room, &event, uid.as_deref(), Some(&user_id), Some(&key))
        .await
    {
        Ok(appended) => appended,
        Err(e) => return ask.failed(e, Some(&text)),
    };
    let invocation = CommandInvocation {
        room: room_ref(&room),
        user: UserRef::new(Platform::Web, &user_id),
        display_name: member.name,
        platform_moderator: member.viewer.account.moderator,
        text: text.clone(),
        platform_msg_id: Some(message_id(&room, seq)),
        reply_to: form.reply_to.map(|seq| message_id(&room, seq)),
    };
    if let Err(e) = hub
        .inner()
        .engine
        .handle(Inbound::Command(invocation))
        .await
    {
        return ask.failed(e, Some(&text));
    }
    if let (Some(target), true) = (form.reply_to, text.eq_ignore_ascii_case("hide")) {
        if let Err(e) = take_out_if_hidden(&hub, &room, target, uid.as_deref()).await {
            return ask.failed(e, Some(&text));
        }
    }
    ask.done(serde_json::json!({ "seq": seq }), None)
}

/// After `hide`: a message written here that the engine now holds hidden leaves the room
/// too (its copies elsewhere the engine has deleted itself). A refused hide changes nothing.
async fn take_out_if_hidden(
    hub: &RoomHub,
    room: &str,
    target: i64,
    uid: Option<&str>,
) -> Result<(), bot_core::store::StoreError> {
    let inner = hub.inner();
    let Some(session) = inner.engine.live_session_in(&room_ref(room)) else {
        return Ok(());
    };
    let id = message_id(room, target);
    let hidden = inner
        .store
        .marked(bot_core::store::Mark::Hidden, session)
        .await?
        .iter()
        .any(|m| m.platform == Platform::Web && m.platform_msg_id == id);
    if hidden {
        let key = format!("hidden:{id}");
        inner
            .append(room, &RoomEvent::Delete { target }, uid, None, Some(&key))
            .await?;
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct BlockForm {
    target: i64,
    #[serde(default)]
    csrf: String,
}

pub async fn block(
    State(state): State<WebState>,
    Path(room): Path<String>,
    address: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ask = Ask::new(&room, &headers, address);
    let form: BlockForm = match fields(&body) {
        Ok(form) => form,
        Err(why) => return ask.refuse(StatusCode::BAD_REQUEST, &why, None),
    };
    let (hub, member) = match member(&state, &ask, &headers, &form.csrf, None).await {
        Ok(m) => m,
        Err(refused) => return refused,
    };
    if !moderates(&member.chat, &member.viewer) {
        return ask.refuse(
            StatusCode::FORBIDDEN,
            "Only a moderator can block someone.",
            None,
        );
    }
    let (author, author_id) = match target(&hub, &room, Some(form.target)).await {
        Ok(Some((_, RoomEvent::Message { author, author_id: Some(id), .. }))) => (author, id),
        Ok(_) => {
            return ask.refuse(
                StatusCode::BAD_REQUEST,
                "Only someone who wrote here from a browser can be blocked here; on Discord or Matrix, use that platform's own tools.",
                None,
            )
        }
        Err(why) => return ask.refuse(StatusCode::BAD_REQUEST, &why, None),
    };
    if author_id == member.viewer.account.user_id {
        return ask.refuse(StatusCode::BAD_REQUEST, "You cannot block yourself.", None);
    }
    match hub.inner().store.set_local_blocked(&author_id, true).await {
        Ok(_) => {}
        Err(e) => return ask.failed(e, None),
    }
    tracing::info!(room = %room, blocked = %author_id, by = %member.viewer.account.user_id, "a browser participant was blocked");
    let uid = hub.inner().live_uid(&room).await.ok().flatten();
    let answer = RoomEvent::Answer {
        text: format!("{author} is blocked: they can no longer post in the browser room."),
    };
    if let Err(e) = hub
        .inner()
        .append(
            &room,
            &answer,
            uid.as_deref(),
            Some(&member.viewer.account.user_id),
            None,
        )
        .await
    {
        return ask.failed(e, None);
    }
    ask.done(serde_json::json!({}), None)
}

#[derive(Deserialize)]
pub struct RsvpForm {
    #[serde(default)]
    name: String,
}

pub async fn rsvp(
    State(state): State<WebState>,
    Path(room): Path<String>,
    address: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ask = Ask::new(&room, &headers, address);
    let form: RsvpForm = match fields(&body) {
        Ok(form) => form,
        Err(why) => return ask.refuse(StatusCode::BAD_REQUEST, &why, None),
    };
    // The name is theirs in the room from now, as if they had joined.
    let Named {
        hub,
        chat,
        user_id,
        name,
        cookie,
    } = match take_a_name(&state, &ask, &headers, &form.name, None).await {
        Ok(named) => named,
        Err(refused) => return refused,
    };
    let store = &hub.inner().store;
    if let Err(e) = store
        .add_rsvp(&chat.slug, &UserRef::new(Platform::Web, &user_id))
        .await
    {
        return ask.failed(e, None);
    }
    let feed = Some(format!("/r/{room}/calendar.ics"));
    if ask.by_script {
        return ask.done(
            serde_json::json!({ "name": name, "calendar": feed }),
            cookie,
        );
    }
    let mut page = format!(
        "<h1>You are on the list</h1><p>Thank you, <bdi>{}</bdi>: the moderators know you plan to come to <bdi>{}</bdi>.</p>",
        esc(&name),
        esc(&chat.title)
    );
    if let Some(feed) = &feed {
        page.push_str(&format!(
            "<p><a href=\"{}\" download>Add the chat's sessions to your calendar (iCal)</a></p>",
            esc(feed)
        ));
    }
    page.push_str(&format!(
        "<p><a href=\"/r/{}\">Back to the room</a></p>",
        esc(&room)
    ));
    let mut response = html(StatusCode::OK, layout("You are on the list", &page, false));
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_a_proxy_the_address_is_the_one_the_proxy_added() {
        let mut headers = HeaderMap::new();
        assert_eq!(forwarded_for(&headers), None);
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 10.0.0.7"),
        );
        assert_eq!(forwarded_for(&headers).as_deref(), Some("10.0.0.7"));
        headers.append("x-forwarded-for", HeaderValue::from_static("192.0.2.9"));
        assert_eq!(forwarded_for(&headers).as_deref(), Some("192.0.2.9"));
        let mut forged = HeaderMap::new();
        forged.insert(
            "x-forwarded-for",
            HeaderValue::from_static("not-an-address"),
        );
        assert_eq!(forwarded_for(&forged), None);
    }

    #[test]
    fn names_are_trimmed_folded_and_bounded() {
        assert_eq!(
            clean_name("  Ada   Lovelace ", 40),
            Ok(("Ada Lovelace".to_owned(), "ada lovelace".to_owned()))
        );
        assert!(clean_name("   ", 40).is_err());
        assert!(clean_name(&"x".repeat(41), 40).is_err());
        assert!(clean_name("a\u{202e}b", 40).is_err());
        assert!(
            clean_name("a\u{200f}b", 40).is_err(),
            "a mark counts as a bidi control"
        );
        assert!(clean_name("a\u{7}b", 40).is_err());
    }
}
