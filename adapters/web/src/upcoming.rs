//! `/upcoming`: sessions not started yet (scheduled or announced) of public chats, soonest
//! first, with times in the chat's zone (rewritten into the reader's by the time script), and
//! links to the iCal feeds.

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::page::{bad_request, esc, html, internal, layout, time};
use crate::{params, WebState};

/// At most this many sessions are listed.
pub const LIMIT: usize = 200;

pub async fn upcoming(State(state): State<WebState>, RawQuery(raw): RawQuery) -> Response {
    if let Err(why) = params::query(raw.as_deref(), &[]) {
        return bad_request(&why);
    }
    let sessions = match state.store.upcoming_sessions(LIMIT).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let now = state.clock.now();
    let mut rows: Vec<_> = sessions
        .into_iter()
        .filter(|s| s.scheduled_start >= now - chrono::Duration::hours(2))
        .filter_map(|s| Some((state.public_chat(&s.chat_slug)?, s)))
        .collect();
    rows.sort_by_key(|(_, s)| (s.scheduled_start, s.id));

    let mut body = String::from("<h1>Upcoming chats</h1>");
    body.push_str(
        "<p>Times are shown in your time zone when your browser allows it, otherwise in each \
         chat's own. Subscribe: <a href=\"/calendar.ics\">all chats (iCal)</a>.</p>",
    );
    if rows.is_empty() {
        body.push_str("<p class=\"muted\">Nothing is scheduled.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>Chat</th><th>Starts</th><th>Feed</th></tr></thead><tbody>",
        );
        for (chat, s) in &rows {
            let _ = write!(
                body,
                "<tr><td><bdi>{title}</bdi> <span class=\"hashtag\"><bdi>{tag}</bdi></span>\
                 <div class=\"muted\"><bdi>{desc}</bdi></div></td><td>{when}</td>\
                 <td><a href=\"/c/{slug}.ics\">iCal</a></td></tr>",
                title = esc(&chat.title),
                tag = esc(&chat.hashtag),
                desc = esc(&chat.description),
                when = time(s.scheduled_start, chat.zone),
                slug = esc(&chat.slug),
            );
        }
        body.push_str("</tbody></table>");
    }
    html(StatusCode::OK, layout("Upcoming chats", &body, true))
}
