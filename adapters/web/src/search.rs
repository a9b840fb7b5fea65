//! `/search?q=…`: full-text search over the messages of public chats' sessions
//! (`Store::search_messages`: deleted and hidden messages and those of people who opted out
//! are never found). Results are grouped by session, newest session first; each says which
//! point it answers and shows the database's excerpt with the matching words marked
//! (`<mark>`), escaped, linking to the message's anchor on the session page.

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use bot_core::render::html::message_anchor;
use bot_core::store::SearchHit;

use crate::page::{bad_request, esc, html, internal, layout, time};
use crate::{params, WebState};

/// Messages shown at most.
pub const LIMIT: usize = 200;

pub async fn search(State(state): State<WebState>, RawQuery(raw): RawQuery) -> Response {
    let q = match params::query(raw.as_deref(), &["q"]) {
        Ok(mut q) => q.remove("q").unwrap_or_default(),
        Err(why) => return bad_request(&why),
    };
    let hits = if q.trim().is_empty() {
        Vec::new()
    } else {
        match state
            .store
            .search_messages(&q, &state.public_slugs(), LIMIT)
            .await
        {
            Ok(h) => h,
            Err(e) => return internal(e),
        }
    };
    // Never echo more than a screenful of the query back.
    let shown_q: String = q.chars().take(200).collect();
    let mut body = format!(
        "<h1>Search</h1><form class=\"filter\" method=\"get\" action=\"/search\">\
         <input type=\"search\" name=\"q\" value=\"{}\" maxlength=\"500\" aria-label=\"Search\">\
         <button type=\"submit\">Search</button></form>",
        esc(&shown_q)
    );
    if !q.trim().is_empty() {
        if hits.is_empty() {
            body.push_str("<p class=\"muted\">No messages match.</p>");
        } else {
            let _ = write!(
                body,
                "<p class=\"muted\">{}{}.</p>",
                bot_core::render::count(hits.len() as u64, "message", "messages"),
                if hits.len() == LIMIT {
                    " (the first ones)"
                } else {
                    ""
                }
            );
        }
    }
    let mut groups: Vec<(&str, Vec<&SearchHit>)> = Vec::new();
    for h in &hits {
        match groups.last_mut() {
            Some((uid, list)) if *uid == h.session_uid => list.push(h),
            _ => groups.push((&h.session_uid, vec![h])),
        }
    }
    for (uid, list) in groups {
        let Some(chat) = state.public_chat(&list[0].chat_slug) else {
            continue;
        };
        let _ = write!(
            body,
            "<section><h2><a href=\"/s/{uid}\"><bdi>{title}</bdi></a> {when}</h2>",
            uid = esc(uid),
            title = esc(&chat.title),
            when = time(list[0].session_started_at, chat.zone),
        );
        for h in list {
            let answers = match h.point {
                Some(n) => format!("answering Q{n}"),
                None => "in the introduction".to_owned(),
            };
            // The words that matched, as the database marked them; everything escaped.
            let excerpt: String = h
                .excerpt
                .iter()
                .map(|(matched, text)| match matched {
                    true => format!("<mark>{}</mark>", esc(text)),
                    false => esc(text),
                })
                .collect();
            let _ = write!(
                body,
                "<article class=\"hit\"><p><a href=\"/s/{uid}#{anchor}\"><bdi>{author}</bdi></a>, \
                 {answers}, {when}</p><p class=\"excerpt\" dir=\"auto\">{excerpt}</p></article>",
                uid = esc(uid),
                anchor = esc(&message_anchor(&h.platform, &h.platform_msg_id)),
                author = esc(&h.author_name),
                when = time(h.sent_at, chat.zone),
            );
        }
        body.push_str("</section>");
    }
    html(StatusCode::OK, layout("Search", &body, true))
}
