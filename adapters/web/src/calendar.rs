//! iCal feeds: `/calendar.ics` (every public chat) and `/c/{slug}.ics` (one public chat).
//! Private and unlisted chats are never in a feed; their `.ics` URL is 404.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bot_core::chat::Chat;
use bot_core::model::{Session, SessionState};

use crate::page::{internal, not_found};
use crate::params;
use crate::WebState;

pub async fn all_chats(State(state): State<WebState>) -> Response {
    let slugs = state.public_slugs();
    let chats: Vec<&Chat> = slugs
        .iter()
        .filter_map(|slug| state.public_chat(slug))
        .collect();
    feed(&state, "hashchat", &chats).await
}

pub async fn one_chat(State(state): State<WebState>, Path(file): Path<String>) -> Response {
    let Some(slug) = file.strip_suffix(".ics").and_then(params::slug) else {
        return not_found();
    };
    let Some(chat) = state.public_chat(slug) else {
        return not_found();
    };
    let name = format!("{} ({})", chat.title, chat.hashtag);
    feed(&state, &name, &[chat]).await
}

/// The feed of `chats`: their schedules, their one-off sessions, their cancelled occurrences.
pub(crate) async fn feed(state: &WebState, name: &str, chats: &[&Chat]) -> Response {
    let sessions: Vec<Session> = match state.store.list_sessions().await {
        Ok(all) => all.into_iter().map(|s| s.session).collect(),
        Err(e) => return internal(e),
    };
    let of_chat = |s: &Session| chats.iter().find(|c| c.slug == s.chat_slug).copied();
    let one_offs: Vec<(&Session, &Chat)> = sessions
        .iter()
        .filter(|s| s.state.is_upcoming())
        .filter_map(|s| of_chat(s).map(|c| (s, c)))
        .collect();
    let cancelled: Vec<(&Session, &Chat)> = sessions
        .iter()
        .filter(|s| s.state == SessionState::Cancelled)
        .filter_map(|s| of_chat(s).map(|c| (s, c)))
        .collect();
    let body =
        bot_core::calendar::feed(name, chats, &one_offs, &cancelled, None, state.clock.now());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        body,
    )
        .into_response()
}
