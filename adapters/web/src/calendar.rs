//! iCal feeds: `/calendar.ics` (every public chat) and `/c/{slug}.ics` (one public chat).
//!
//! STUB: `bot_core::calendar` is being written in parallel. Until it lands both routes answer
//! 404. TODO(calendar): call `bot_core::calendar::feed(...)` here (with the public chats and
//! their upcoming sessions from the store), answer `text/calendar; charset=utf-8`, and keep
//! the slug check below (`params::slug`, chat public) so private and unlisted chats stay 404.

use axum::extract::{Path, State};
use axum::response::Response;

use crate::page::not_found;
use crate::params;
use crate::WebState;

pub async fn all_chats(State(_state): State<WebState>) -> Response {
    // TODO(calendar): bot_core::calendar::feed over state.public_slugs().
    not_found()
}

pub async fn one_chat(State(state): State<WebState>, Path(file): Path<String>) -> Response {
    let Some(slug) = file.strip_suffix(".ics").and_then(params::slug) else {
        return not_found();
    };
    let Some(_chat) = state.public_chat(slug) else {
        return not_found();
    };
    // TODO(calendar): bot_core::calendar::feed for this one chat.
    not_found()
}
