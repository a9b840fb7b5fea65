//! `/s/{uid}` (the HTML transcript), `/s/{uid}.md` and `/s/{uid}.json` (downloads).
//!
//! The uid must be exactly 32 lowercase hex digits. The session must have started, and its
//! chat (as configured now) must be public or unlisted; otherwise, and for a chat no longer
//! configured, the answer is 404, the same as for a uid that does not exist.
//!
//! Media: when the server has a media store, the page's images are inlined as `data:` URIs
//! (`InlineMedia`), exactly as in `hashchat export --format html`, so there is no media route
//! to guard and a private chat's images are never reachable by hash.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bot_core::media::InlineMedia;
use bot_core::render::html::{self, HtmlOptions};
use bot_core::render::markdown;
use bot_core::transcript::{self, to_json};

use crate::page::{internal, not_found};
use crate::{params, WebState};

enum Format {
    Html,
    Markdown,
    Json,
}

fn parse(file: &str) -> Option<(&str, Format)> {
    let (uid, format) = if let Some(u) = file.strip_suffix(".md") {
        (u, Format::Markdown)
    } else if let Some(u) = file.strip_suffix(".json") {
        (u, Format::Json)
    } else {
        (file, Format::Html)
    };
    Some((params::uid(uid)?, format))
}

pub async fn session(State(state): State<WebState>, Path(file): Path<String>) -> Response {
    let Some((uid, format)) = parse(&file) else {
        return not_found();
    };
    let session = match state.store.find_session_by_uid(uid).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(),
        Err(e) => return internal(e),
    };
    if session.started_at.is_none() {
        return not_found();
    }
    let Some(chat) = state.servable_chat(&session.chat_slug) else {
        return not_found();
    };
    let t = match transcript::build(&state.store, session.id, Some(chat)).await {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let unlisted = chat.visibility == bot_core::chat::Visibility::Unlisted;
    let mut response = respond(&state, t, uid, format).await;
    if unlisted {
        // Served by link only: ask search engines not to index it either.
        response.headers_mut().insert(
            axum::http::HeaderName::from_static("x-robots-tag"),
            axum::http::HeaderValue::from_static("noindex"),
        );
    }
    response
}

/// The way back from a session page: the archive, the chat's other sessions (when the chat
/// is listed), search and the chats to come.
fn site_links(state: &WebState, t: &bot_core::transcript::Transcript) -> Vec<(String, String)> {
    let mut links = vec![("← Archive".to_owned(), "/".to_owned())];
    if state.public_chat(&t.chat.slug).is_some() {
        links.push((
            format!("All {} sessions", t.chat.hashtag),
            format!("/?chat={}", t.chat.slug),
        ));
    }
    links.push(("Search".to_owned(), "/search".to_owned()));
    links.push(("Upcoming chats".to_owned(), "/upcoming".to_owned()));
    links
}

async fn respond(
    state: &WebState,
    t: bot_core::transcript::Transcript,
    uid: &str,
    format: Format,
) -> Response {
    let download = |ext: &str| format!("attachment; filename=\"hashchat-{uid}.{ext}\"");
    match format {
        Format::Json => (
            [
                (CONTENT_TYPE, "application/json".to_owned()),
                (CONTENT_DISPOSITION, download("json")),
            ],
            to_json(&t),
        )
            .into_response(),
        Format::Markdown => {
            let mut out = String::new();
            if let Err(e) = markdown::render(&t, &mut out) {
                return internal(e);
            }
            (
                [
                    (CONTENT_TYPE, "text/markdown; charset=utf-8".to_owned()),
                    (CONTENT_DISPOSITION, download("md")),
                ],
                out,
            )
                .into_response()
        }
        Format::Html => {
            let mut options = HtmlOptions::new(state.clock.now());
            options.site_links = site_links(state, &t);
            if let Some(media) = &state.media {
                match InlineMedia::load(&state.store, media, &t).await {
                    Ok(inline) => options.media = Some(Arc::new(inline)),
                    Err(e) => return internal(e),
                }
            }
            // The renderer is synchronous: it runs off the async workers and streams the page
            // to the client as it goes, so a 100,000-message session never sits in memory.
            let (chunks, body) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
            tokio::task::spawn_blocking(move || {
                let mut out = ChunkWriter {
                    chunks: chunks.clone(),
                };
                if let Err(e) = html::render(&t, &options, &mut out) {
                    // The client sees a cut-off page; the log says why.
                    tracing::warn!(error = %e, "rendering a session page failed");
                    let _ = chunks.blocking_send(Err(e));
                }
            });
            let stream = futures_util::stream::unfold(body, |mut body| async move {
                body.recv().await.map(|chunk| (chunk, body))
            });
            (
                StatusCode::OK,
                [(CONTENT_TYPE, "text/html; charset=utf-8")],
                Body::from_stream(stream),
            )
                .into_response()
        }
    }
}

/// Hands what the renderer writes to the response body; the renderer buffers 64 KiB itself.
struct ChunkWriter {
    chunks: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.chunks
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
