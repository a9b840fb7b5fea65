//! The JSON-over-HTTP control API under `/_fake/...`, for trying a bot by hand with the
//! `discord-fake` binary: act as human users and read what the bot did. Ids are strings or
//! numbers. Errors answer 400 with `{"error": "..."}`.
//!
//! | route | body | does |
//! |---|---|---|
//! | `GET /_fake/info` | | token, URLs, application and bot ids, the seeded guild/channels/users |
//! | `POST /_fake/messages` | `{channel_id, author_id, content, reply_to?}` | a human posts |
//! | `PATCH /_fake/messages/{channel}/{id}` | `{content}` | a human edits |
//! | `DELETE /_fake/messages/{channel}/{id}` | | a message is deleted |
//! | `POST /_fake/reactions` | `{channel_id, message_id, user_id, emoji, remove?}` | react / unreact |
//! | `POST /_fake/commands` | `{user_id, channel_id, command: "/chat start chat:x", wait_ms?}` | run a slash command, wait for the answer |
//! | `GET /_fake/channels/{id}/messages` | | every message in the channel, oldest first |
//! | `GET /_fake/requests` | | every REST request the bot made |
//! | `POST /_fake/faults` | `{"drop_gateway": true}` / `{"reconnect": true}` / `{"invalidate_session": bool}` / `{"rate_limit": {pattern, count, retry_after_ms, global}}` | faults |

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Json;
use serde_json::{json, Value};

use crate::faults::{RateLimitRule, RoutePattern};
use crate::humans::{Post, SlashCommand};
use crate::ids::*;
use crate::state::Shared;

pub(crate) fn router() -> axum::Router<Arc<Shared>> {
    axum::Router::new()
        .route("/info", get(info))
        .route("/messages", post(post_message))
        .route(
            "/messages/{channel}/{id}",
            patch(edit_message).delete(delete_message),
        )
        .route("/reactions", post(reaction))
        .route("/commands", post(command))
        .route("/channels/{id}/messages", get(channel_messages))
        .route("/requests", get(requests))
        .route("/faults", post(faults))
}

fn bad(msg: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": msg.to_string()})),
    )
        .into_response()
}

// Handlers answer a Response either way; boxing it would only add noise.
#[allow(clippy::result_large_err)]
fn field(v: &Value, key: &str) -> Result<u64, Response> {
    v.get(key)
        .and_then(parse_snowflake)
        .ok_or_else(|| bad(format!("{key} is required (an id)")))
}

async fn info(State(s): State<Arc<Shared>>) -> Response {
    let v = s.read(|w| {
        let guilds: Vec<Value> = w
            .guilds
            .values()
            .map(|g| {
                let channels: Vec<Value> = w
                    .channels
                    .values()
                    .filter(|c| c.guild_id == Some(g.id))
                    .map(|c| json!({"id": c.id, "name": c.name}))
                    .collect();
                let members: Vec<Value> = g
                    .members
                    .keys()
                    .map(|u| json!({"id": u, "username": w.users.get(u).map(|x| x.username.clone())}))
                    .collect();
                json!({"id": g.id, "name": g.name, "channels": channels, "members": members})
            })
            .collect();
        json!({
            "token": w.app.token,
            "base_url": w.base_url,
            "gateway_url": w.gateway.url,
            "application_id": w.app.id,
            "bot_user_id": w.app.bot_user,
            "guilds": guilds,
        })
    });
    Json(v).into_response()
}

async fn post_message(State(s): State<Arc<Shared>>, Json(b): Json<Value>) -> Response {
    let (channel, author) = match (field(&b, "channel_id"), field(&b, "author_id")) {
        (Ok(c), Ok(a)) => (c, a),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let mut p = Post::new(
        ChannelId(channel),
        UserId(author),
        b.get("content").and_then(Value::as_str).unwrap_or(""),
    );
    if let Some(r) = b.get("reply_to").and_then(parse_snowflake) {
        p = p.reply_to(MessageId(r));
    }
    match s.with(|w| w.human_post(p).map(|m| w.message_json(&m, false))) {
        Ok(v) => Json(v).into_response(),
        Err(e) => bad(e),
    }
}

async fn edit_message(
    State(s): State<Arc<Shared>>,
    Path((channel, id)): Path<(u64, u64)>,
    Json(b): Json<Value>,
) -> Response {
    let content = b
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match s.with(|w| {
        w.edit_message(ChannelId(channel), MessageId(id), |m| m.content = content)
            .map(|m| w.message_json(&m, false))
    }) {
        Some(v) => Json(v).into_response(),
        None => bad("unknown message"),
    }
}

async fn delete_message(
    State(s): State<Arc<Shared>>,
    Path((channel, id)): Path<(u64, u64)>,
) -> Response {
    match s.with(|w| w.delete_message(ChannelId(channel), MessageId(id))) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => bad("unknown message"),
    }
}

async fn reaction(State(s): State<Arc<Shared>>, Json(b): Json<Value>) -> Response {
    let ids = (
        field(&b, "channel_id"),
        field(&b, "message_id"),
        field(&b, "user_id"),
    );
    let (c, m, u) = match ids {
        (Ok(c), Ok(m), Ok(u)) => (ChannelId(c), MessageId(m), UserId(u)),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    let Some(emoji) = b.get("emoji").and_then(Value::as_str).map(str::to_string) else {
        return bad("emoji is required");
    };
    let remove = b.get("remove").and_then(Value::as_bool).unwrap_or(false);
    let ok = s.with(|w| {
        if remove {
            w.unreact(c, m, u, &emoji)
        } else {
            w.react(c, m, u, &emoji)
        }
    });
    if ok {
        StatusCode::NO_CONTENT.into_response()
    } else {
        bad("unknown message")
    }
}

async fn command(State(s): State<Arc<Shared>>, Json(b): Json<Value>) -> Response {
    let (user, channel) = match (field(&b, "user_id"), field(&b, "channel_id")) {
        (Ok(u), Ok(c)) => (UserId(u), ChannelId(c)),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let line = b.get("command").and_then(Value::as_str).unwrap_or("");
    let cmd = match SlashCommand::parse(line) {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    let (id, token) = match s.with(|w| w.invoke(user, channel, &cmd, None)) {
        Ok(x) => x,
        Err(e) => return bad(e),
    };
    let wait = Duration::from_millis(b.get("wait_ms").and_then(Value::as_u64).unwrap_or(5000));
    let handle = crate::humans::InteractionHandle::new(id, token, s.clone());
    match handle.answered(wait).await {
        Some(r) => Json(json!({
            "interaction_id": id,
            "callback_type": r.callback.kind,
            "content": r.content,
            "ephemeral": r.ephemeral,
            "callback_latency_ms": r.callback_latency.as_millis() as u64,
            "answered_after_ms": r.answered_after.map(|d| d.as_millis() as u64),
        }))
        .into_response(),
        None => Json(json!({"interaction_id": id, "answered": false})).into_response(),
    }
}

async fn channel_messages(State(s): State<Arc<Shared>>, Path(id): Path<u64>) -> Response {
    let v = s.read(|w| {
        w.channel_messages(ChannelId(id))
            .iter()
            .map(|m| w.message_json(m, false))
            .collect::<Vec<_>>()
    });
    Json(json!(v)).into_response()
}

async fn requests(State(s): State<Arc<Shared>>) -> Response {
    let v = s.read(|w| {
        w.requests
            .iter()
            .map(|r| {
                json!({
                    "method": r.method, "path": r.path, "query": r.query, "body": r.body,
                    "status": r.status, "known_route": r.known_route,
                    "at_ms": r.at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
                })
            })
            .collect::<Vec<_>>()
    });
    Json(json!(v)).into_response()
}

async fn faults(State(s): State<Arc<Shared>>, Json(b): Json<Value>) -> Response {
    s.with(|w| {
        if b.get("drop_gateway") == Some(&json!(true)) {
            w.gateway.drop_all();
        }
        if b.get("reconnect") == Some(&json!(true)) {
            w.gateway.send_reconnect();
        }
        if let Some(r) = b.get("invalidate_session").and_then(Value::as_bool) {
            w.gateway.invalidate_sessions(r);
        }
        if let Some(rl) = b.get("rate_limit") {
            w.faults.rules.push(RateLimitRule {
                pattern: RoutePattern::new(
                    rl.get("pattern").and_then(Value::as_str).unwrap_or("* /**"),
                ),
                remaining: rl.get("count").and_then(Value::as_u64).unwrap_or(1) as u32,
                retry_after: Duration::from_millis(
                    rl.get("retry_after_ms")
                        .and_then(Value::as_u64)
                        .unwrap_or(1000),
                ),
                global: rl.get("global").and_then(Value::as_bool).unwrap_or(false),
            });
        }
    });
    StatusCode::NO_CONTENT.into_response()
}
