//! `/`: the archive index. Started sessions of public chats, newest first, 50 a page.
//!
//! Query: `chat=<slug>` (a public chat), `from=YYYY-MM-DD`, `to=YYYY-MM-DD` (inclusive, the
//! session's start date in its chat's zone), `page=N`. Anything else, or a bad value, is 400.
//! The days become instants here, one window per set of bounds ([`windows`]); the store
//! filters, counts and pages ([`bot_core::store::Store::archive_page`]).

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use bot_core::chat::resolve_local;
use bot_core::store::ArchiveWindow;
use chrono::NaiveDate;

use crate::page::{bad_request, esc, html, internal, layout, time};
use crate::{params, WebState};

pub const PAGE_SIZE: usize = 50;

struct Filter {
    chat: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    page: usize,
}

fn filter(raw: Option<&str>) -> Result<Filter, String> {
    let q = params::query(raw, &["chat", "from", "to", "page"])?;
    let chat = match q.get("chat").map(String::as_str) {
        None | Some("") => None,
        Some(s) => Some(
            params::slug(s)
                .ok_or("chat: expected a chat's short name ([a-z0-9-], at most 32)")?
                .to_owned(),
        ),
    };
    let day = |key: &str| -> Result<Option<NaiveDate>, String> {
        match q.get(key).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(s) => params::date(s)
                .map(Some)
                .ok_or(format!("{key}: expected a date YYYY-MM-DD")),
        }
    };
    let (from, to) = (day("from")?, day("to")?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err("from is after to".into());
        }
    }
    let page = match q.get("page").map(String::as_str) {
        None | Some("") => 1,
        Some(s) => params::page(s).ok_or("page: expected a number from 1")?,
    };
    Ok(Filter {
        chat,
        from,
        to,
        page,
    })
}

/// The filter's chats with its days as instants in each chat's zone (from the first instant
/// of `from` to the first instant of the day after `to`), chats with the same instants in one
/// window: without dates, all of them. One long list is also what PostgreSQL looks up by hash
/// (from nine values on); a list per zone it compares one by one, for every session.
fn windows(state: &WebState, f: &Filter) -> Vec<ArchiveWindow> {
    let mut windows: Vec<ArchiveWindow> = Vec::new();
    let midnight = |day: NaiveDate, zone| resolve_local(zone, day.and_time(chrono::NaiveTime::MIN));
    for chat in state
        .chats
        .iter()
        .filter(|c| c.visibility == bot_core::chat::Visibility::Public)
        .filter(|c| f.chat.as_deref().is_none_or(|slug| slug == c.slug))
    {
        let from = f.from.map(|d| midnight(d, chat.zone));
        let until =
            f.to.and_then(|d| d.succ_opt())
                .map(|d| midnight(d, chat.zone));
        match windows
            .iter_mut()
            .find(|w| (w.from, w.until) == (from, until))
        {
            Some(w) => w.chat_slugs.push(chat.slug.clone()),
            None => windows.push(ArchiveWindow {
                chat_slugs: vec![chat.slug.clone()],
                from,
                until,
            }),
        }
    }
    windows
}

/// How far a started session got, as the index says it: "all 6 points", "stopped after Q3 of
/// 6", "running: Q2 of 6", so sessions of one chat are told apart at a glance.
fn how_far(session: &bot_core::model::Session, points: usize) -> String {
    use bot_core::model::SessionState;
    let on = session.current_point;
    match (session.state, on) {
        (SessionState::Running | SessionState::Paused, Some(q)) => {
            format!("{}: Q{q} of {points}", session.state)
        }
        (SessionState::Running | SessionState::Paused, None) => {
            format!("{}: before Q1", session.state)
        }
        (_, Some(q)) if q as usize >= points => {
            format!(
                "all {}",
                bot_core::render::count(points as u64, "point", "points")
            )
        }
        (_, Some(q)) => format!("stopped after Q{q} of {points}"),
        (_, None) => "stopped before Q1".to_owned(),
    }
}

pub async fn index(State(state): State<WebState>, RawQuery(raw): RawQuery) -> Response {
    let f = match filter(raw.as_deref()) {
        Ok(f) => f,
        Err(why) => return bad_request(&why),
    };
    let first = (f.page - 1).saturating_mul(PAGE_SIZE);
    let page = match state
        .store
        .archive_page(&windows(&state, &f), first as u64, PAGE_SIZE as u64)
        .await
    {
        Ok(page) => page,
        Err(e) => return internal(e),
    };
    let total = usize::try_from(page.total).unwrap_or(usize::MAX);
    let rows: Vec<_> = page
        .sessions
        .iter()
        .filter_map(|s| {
            let chat = state.public_chat(&s.session.chat_slug)?;
            Some((s.session.started_at?, s, chat))
        })
        .collect();

    let mut body = String::new();
    body.push_str("<h1>Archived chats</h1>");
    body.push_str("<form class=\"filter\" method=\"get\" action=\"/\"><label>Chat <select name=\"chat\"><option value=\"\">all</option>");
    for c in state
        .chats
        .iter()
        .filter(|c| c.visibility == bot_core::chat::Visibility::Public)
    {
        let selected = if f.chat.as_deref() == Some(&c.slug) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{}\"{selected}>{}</option>",
            esc(&c.slug),
            esc(&c.title)
        );
    }
    let _ = write!(
        body,
        "</select></label><label>From <input type=\"date\" name=\"from\" value=\"{}\"></label>\
         <label>To <input type=\"date\" name=\"to\" value=\"{}\"></label>\
         <button type=\"submit\">Filter</button></form>",
        f.from.map(|d| d.to_string()).unwrap_or_default(),
        f.to.map(|d| d.to_string()).unwrap_or_default(),
    );
    if total == 0 {
        body.push_str("<p class=\"muted\">No archived sessions match.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>Chat</th><th>Session</th><th>How far it got</th><th>Started</th>\
             <th class=\"n\">Messages</th></tr></thead><tbody>",
        );
        for (started, s, chat) in &rows {
            let _ = write!(
                body,
                "<tr><td><a href=\"/s/{uid}\"><bdi>{title}</bdi></a> <span class=\"hashtag\"><bdi>{tag}</bdi></span></td>\
                 <td>{number}</td><td>{reach}</td><td>{when}</td><td class=\"n\">{n}</td></tr>",
                uid = esc(&s.session.uid),
                title = esc(&chat.title),
                tag = esc(&chat.hashtag),
                number = s.session.id,
                reach = esc(&how_far(&s.session, chat.points.len())),
                when = time(*started, chat.zone),
                n = s.message_count,
            );
        }
        body.push_str("</tbody></table>");
    }
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    if pages > 1 {
        let link = |page: usize| {
            let mut q = vec![("page".to_owned(), page.to_string())];
            if let Some(c) = &f.chat {
                q.push(("chat".into(), c.clone()));
            }
            if let Some(d) = f.from {
                q.push(("from".into(), d.to_string()));
            }
            if let Some(d) = f.to {
                q.push(("to".into(), d.to_string()));
            }
            format!("/?{}", serde_urlencoded::to_string(&q).unwrap_or_default())
        };
        body.push_str("<nav class=\"pages\">");
        if f.page > 1 {
            let _ = write!(
                body,
                "<a href=\"{}\" rel=\"prev\">Newer</a>",
                esc(&link(f.page - 1))
            );
        }
        let _ = write!(body, "<span>Page {} of {pages}</span>", f.page);
        if f.page < pages {
            let _ = write!(
                body,
                "<a href=\"{}\" rel=\"next\">Older</a>",
                esc(&link(f.page + 1))
            );
        }
        body.push_str("</nav>");
    }
    html(StatusCode::OK, layout("Archived chats", &body, true))
}
