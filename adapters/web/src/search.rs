//! `/search?q=…[&before=ID]`: full-text search over the messages of public chats' sessions
//! (`Store::search_messages`: deleted and hidden messages and those of people who opted out
//! are never found), [`PAGE_SIZE`] a page, most recently archived first; `before` is where the
//! "Older" link starts the next page (the store pages by message, in SQL). A page's hits are
//! grouped by session, in the order the sessions first appear, and in the order they were
//! sent within one; each says which point it answers and shows the database's excerpt with
//! the matching words marked (`<mark>`), escaped, linking to the message's anchor on the
//! session page.

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use bot_core::render::html::message_anchor;
use bot_core::store::SearchHit;

use crate::page::{bad_request, esc, html, internal, layout, time};
use crate::{params, WebState};

/// Messages a page.
pub const PAGE_SIZE: usize = 50;

pub async fn search(State(state): State<WebState>, RawQuery(raw): RawQuery) -> Response {
    let (q, before) = match params::query(raw.as_deref(), &["q", "before"]) {
        Ok(mut q) => {
            let before = match q.get("before").map(String::as_str) {
                None | Some("") => None,
                Some(s) => match s.parse::<i64>() {
                    Ok(id) if id > 0 => Some(id),
                    _ => {
                        return bad_request("before: expected a message number from the Older link")
                    }
                },
            };
            (q.remove("q").unwrap_or_default(), before)
        }
        Err(why) => return bad_request(&why),
    };
    let mut hits = if q.trim().is_empty() {
        Vec::new()
    } else {
        match state
            .store
            .search_messages(&q, &state.public_slugs(), before, PAGE_SIZE + 1)
            .await
        {
            Ok(h) => h,
            Err(e) => return internal(e),
        }
    };
    let older = hits.len() > PAGE_SIZE;
    hits.truncate(PAGE_SIZE);
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
                "<p class=\"muted\">{}{}, most recently archived first.</p>",
                bot_core::render::count(hits.len() as u64, "message", "messages"),
                match (before.is_some(), older) {
                    (false, false) => "",
                    (false, true) => " on this page",
                    (true, _) => " on this page of older ones",
                }
            );
        }
    }
    let mut groups: Vec<(&str, Vec<&SearchHit>)> = Vec::new();
    for h in &hits {
        match groups.iter_mut().find(|(uid, _)| *uid == h.session_uid) {
            Some((_, list)) => list.push(h),
            None => groups.push((&h.session_uid, vec![h])),
        }
    }
    for (_, list) in &mut groups {
        list.sort_by_key(|h| (h.sent_at, h.message_id));
    }
    // The next page searches for what this one did: the words the store reads, not the echo.
    let searched: String = q.chars().take(1024).collect();
    let pages = pages_nav(
        &searched,
        before.is_some(),
        older.then(|| hits.last()).flatten(),
    );
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
    body.push_str(&pages);
    html(StatusCode::OK, layout("Search", &body, true))
}

/// "Newest" back to the first page when on a later one, "Older" when more match.
fn pages_nav(q: &str, later_page: bool, last: Option<&SearchHit>) -> String {
    if !later_page && last.is_none() {
        return String::new();
    }
    let mut nav = String::from("<nav class=\"pages\">");
    let link = |extra: Option<i64>| {
        let mut pairs = vec![("q", q.to_owned())];
        if let Some(id) = extra {
            pairs.push(("before", id.to_string()));
        }
        format!(
            "/search?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    if later_page {
        let _ = write!(
            nav,
            "<a href=\"{}\" rel=\"first\">Newest</a>",
            esc(&link(None))
        );
    }
    if let Some(last) = last {
        let _ = write!(
            nav,
            "<a href=\"{}\" rel=\"next\">Older</a>",
            esc(&link(Some(last.message_id)))
        );
    }
    nav.push_str("</nav>");
    nav
}
