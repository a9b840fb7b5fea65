//! What the archive's own pages share: the layout, escaping, times, plain answers, the
//! stylesheet (served as `/style.css`, so no inline style is needed).

use std::fmt::Write as _;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bot_core::render::html::escape;
use bot_core::render::html::SCRIPT;
use bot_core::render::plain::format_local;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

/// The archive pages' stylesheet.
pub const STYLESHEET: &str = include_str!("style.css");

/// `s` escaped for HTML text and double- or single-quoted attribute values alike.
pub fn esc(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 8);
    escape::attr(&mut out, s).expect("writing to a Vec does not fail");
    String::from_utf8(out).expect("escaping keeps UTF-8")
}

/// A `<time>` element: machine-readable UTC in `datetime`, the chat's local time with its zone
/// as text (which the time script rewrites into the reader's zone).
pub fn time(at: DateTime<Utc>, zone: Tz) -> String {
    format!(
        "<time class=\"full\" datetime=\"{}\">{}</time>",
        at.to_rfc3339_opts(SecondsFormat::Millis, true),
        esc(&format_local(at, zone))
    )
}

/// A whole page: `title` (escaped here) and `body` (already HTML). `with_script` adds the
/// transcript's hashed time script, the only script the CSP allows.
pub fn layout(title: &str, body: &str, with_script: bool) -> String {
    page(title, body, with_script, false)
}

/// A browser room's page: the layout with the time script and the room's own script.
pub fn room_layout(title: &str, body: &str) -> String {
    page(title, body, true, true)
}

fn page(title: &str, body: &str, with_script: bool, room_script: bool) -> String {
    let mut out = String::with_capacity(body.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} · hashchat archive</title>\
         <link rel=\"stylesheet\" href=\"/style.css\"></head><body>\
         <header class=\"site\"><a href=\"/\"><strong>hashchat archive</strong></a>\
         <a href=\"/upcoming\">Upcoming</a><a href=\"/search\">Search</a></header>\
         <main>{body}</main>",
        esc(title)
    );
    if with_script {
        let _ = write!(out, "<script>{SCRIPT}</script>");
    }
    if room_script {
        out.push_str("<script src=\"/room.js\" defer></script>");
    }
    out.push_str("</body></html>\n");
    out
}

/// An HTML page answer.
pub fn html(status: StatusCode, page: String) -> Response {
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// A short plain-text answer.
pub fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

pub fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found")
}

pub fn bad_request(why: &str) -> Response {
    plain(StatusCode::BAD_REQUEST, &format!("bad request: {why}"))
}

/// A store failure: logged, and a plain 500 that says nothing about the database.
pub fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "web request failed");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

pub async fn not_found_handler() -> Response {
    not_found()
}

pub async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        STYLESHEET,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            esc("<a href=\"x\" title='y'>&</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_layout_escapes_its_title() {
        let page = layout("<script>", "", true);
        assert!(page.contains("<title>&lt;script&gt;"));
        assert_eq!(page.matches("<script>").count(), 1);
    }
}
