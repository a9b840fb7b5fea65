//! The REST API under `/api/v10`, plus the CDN-like routes (attachments, avatars).
//!
//! One fallback handler takes every request, so each one is recorded, checked for an injected
//! 429 and for the bot token, matched against the routes the fake knows, and answered with
//! rate-limit headers, the way Discord's edge answers every request. Route handlers are plain
//! functions on the locked [`World`]: they never await, so a request is one critical section.

mod commands;
mod events;
mod interactions;
mod messages;
mod misc;
mod threads;
mod webhooks;

pub(crate) use threads::make_thread;
pub(crate) use webhooks::{add_webhook, refuse_webhook};

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::state::{RecordedRequest, Shared, World};

/// What a route handler answers.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

impl Reply {
    pub fn ok(v: Value) -> Self {
        Self {
            status: 200,
            body: Some(v),
        }
    }
    pub fn created(v: Value) -> Self {
        Self {
            status: 201,
            body: Some(v),
        }
    }
    pub fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
        }
    }
    /// A Discord JSON error: `{"message": ..., "code": ...}`.
    pub fn error(status: u16, code: u32, message: &str) -> Self {
        Self {
            status,
            body: Some(json!({"message": message, "code": code})),
        }
    }
    pub fn not_found_route() -> Self {
        Self::error(404, 0, "404: Not Found")
    }
    pub fn unknown(what: Unknown) -> Self {
        let (code, msg) = match what {
            Unknown::Channel => (10003, "Unknown Channel"),
            Unknown::Guild => (10004, "Unknown Guild"),
            Unknown::Member => (10007, "Unknown Member"),
            Unknown::Message => (10008, "Unknown Message"),
            Unknown::User => (10013, "Unknown User"),
            Unknown::Emoji => (10014, "Unknown Emoji"),
            Unknown::Webhook => (10015, "Unknown Webhook"),
            Unknown::Interaction => (10062, "Unknown interaction"),
            Unknown::Command => (10063, "Unknown application command"),
            Unknown::ScheduledEvent => (10070, "Unknown Guild Scheduled Event"),
        };
        Self::error(404, code, msg)
    }
    /// Discord's "Invalid Form Body" (50035) with one field error.
    pub fn invalid_form(field: &str, code: &str, message: &str) -> Self {
        let mut errors = json!({});
        // A dotted field like "message_reference.message_id" nests, as in Discord's answers.
        let mut cur = &mut errors;
        for part in field.split('.') {
            cur = &mut cur[part];
        }
        *cur = json!({"_errors": [{"code": code, "message": message}]});
        Self {
            status: 400,
            body: Some(json!({"message": "Invalid Form Body", "code": 50035, "errors": errors})),
        }
    }
}

pub(crate) enum Unknown {
    Channel,
    Guild,
    Member,
    Message,
    User,
    Emoji,
    Webhook,
    Interaction,
    Command,
    ScheduledEvent,
}

/// A file part of a multipart request (`files[n]`).
pub(crate) struct Upload {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One request, parsed: what route handlers see.
pub(crate) struct Req<'a> {
    pub method: &'a Method,
    pub segs: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Value,
    pub files: Vec<Upload>,
}

impl Req<'_> {
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-decodes a path segment or query value (reaction emoji arrive encoded).
pub(crate) fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    // serenity writes `?&key=value`: empty pairs are skipped.
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(&v.replace('+', " "))),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Routes that take no bot token: interaction callbacks and webhook-token routes, which are
/// authorised by the token in the path (as on Discord).
fn token_in_path(segs: &[String]) -> bool {
    matches!(segs.first().map(String::as_str), Some("interactions"))
        || (segs.first().map(String::as_str) == Some("webhooks") && segs.len() >= 3)
}

/// The rate-limit bucket key: the route with minor parameters blanked (Discord buckets by
/// route and major parameter: channel, guild, webhook).
fn bucket_key(method: &Method, segs: &[String]) -> String {
    let mut out = method.as_str().to_string();
    let mut prev = "";
    for s in segs {
        let major = matches!(prev, "channels" | "guilds" | "webhooks");
        out.push('/');
        if s.chars().all(|c| c.is_ascii_digit()) && !major {
            out.push_str(":id");
        } else {
            out.push_str(s);
        }
        prev = s;
    }
    out
}

fn route(w: &mut World, r: &Req<'_>) -> Option<Reply> {
    let segs: Vec<&str> = r.segs.iter().map(String::as_str).collect();
    let m = r.method.as_str();
    misc::route(w, r, m, &segs)
        .or_else(|| messages::route(w, r, m, &segs))
        .or_else(|| commands::route(w, r, m, &segs))
        .or_else(|| interactions::route(w, r, m, &segs))
        .or_else(|| threads::route(w, r, m, &segs))
        .or_else(|| events::route(w, r, m, &segs))
        .or_else(|| webhooks::route(w, r, m, &segs))
}

/// The fallback handler: every request that is not a control-API or CDN route lands here.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let path = uri.path().to_string();
    let query_raw = uri.query().unwrap_or("").to_string();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));

    let (body, files, bad_body) = if is_multipart {
        match read_multipart(req).await {
            Ok((b, f)) => (b, f, false),
            Err(()) => (Value::Null, vec![], true),
        }
    } else {
        let bytes = axum::body::to_bytes(req.into_body(), 64 << 20)
            .await
            .unwrap_or_default();
        if bytes.is_empty() {
            (Value::Null, vec![], false)
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => (v, vec![], false),
                Err(_) => (Value::Null, vec![], true),
            }
        }
    };

    let Some(api_path) = path.strip_prefix("/api/v10") else {
        // Any other API version (or none) is not something serenity 0.12 sends: 404 and record.
        return shared.with(|w| {
            record(w, &method, &host, &path, &query_raw, &body, 404, false);
            respond(Reply::not_found_route(), None)
        });
    };
    let segs: Vec<String> = api_path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();

    shared.with(|w| {
        let rec_body = body.clone();
        let finish = |w: &mut World, reply: Reply, known: bool| {
            record(
                w,
                &method,
                &host,
                api_path,
                &query_raw,
                &rec_body,
                reply.status,
                known,
            );
            let rh = w.faults.count(&bucket_key(&method, &segs));
            respond(reply, Some(rh))
        };
        if w.faults.rest_down {
            return finish(w, Reply::error(502, 0, "502: Bad Gateway"), true);
        }
        if let Some(l) = w.faults.take_429(method.as_str(), api_path) {
            record(
                w, &method, &host, api_path, &query_raw, &rec_body, 429, true,
            );
            return too_many(l.retry_after.as_secs_f64(), l.global);
        }
        if bad_body {
            return finish(
                w,
                Reply::error(400, 50109, "The request body contains invalid JSON."),
                true,
            );
        }
        let authed = auth.strip_prefix("Bot ") == Some(w.app.token.as_str());
        if !authed && !token_in_path(&segs) {
            return finish(w, Reply::error(401, 0, "401: Unauthorized"), true);
        }
        let r = Req {
            method: &method,
            segs: segs.clone(),
            query: parse_query(&query_raw),
            body,
            files,
        };
        match route(w, &r) {
            Some(reply)
                if reply.status < 300 && w.faults.take_lost_answer(method.as_str(), api_path) =>
            {
                finish(w, Reply::error(500, 0, "500: Internal Server Error"), true)
            }
            Some(reply) => finish(w, reply, true),
            None => {
                tracing::warn!(%method, path = api_path, "discord-fake: unknown route");
                finish(w, Reply::not_found_route(), false)
            }
        }
    })
}

async fn read_multipart(req: Request) -> Result<(Value, Vec<Upload>), ()> {
    let mut mp = Multipart::from_request(req, &()).await.map_err(|_| ())?;
    let mut payload = Value::Null;
    let mut files = vec![];
    while let Some(field) = mp.next_field().await.map_err(|_| ())? {
        let name = field.name().unwrap_or("").to_string();
        let filename = field.file_name().map(str::to_string);
        let ct = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = field.bytes().await.map_err(|_| ())?;
        if name == "payload_json" {
            payload = serde_json::from_slice(&bytes).map_err(|_| ())?;
        } else if let Some(filename) = filename {
            files.push(Upload {
                filename,
                content_type: ct,
                bytes: bytes.to_vec(),
            });
        }
    }
    Ok((payload, files))
}

#[allow(clippy::too_many_arguments)]
fn record(
    w: &mut World,
    method: &Method,
    host: &str,
    path: &str,
    query: &str,
    body: &Value,
    status: u16,
    known: bool,
) {
    w.requests.push(RecordedRequest {
        method: method.to_string(),
        host: host.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        body: if body.is_null() {
            None
        } else {
            Some(body.clone())
        },
        status,
        known_route: known,
        at: SystemTime::now(),
    });
}

fn respond(reply: Reply, rh: Option<crate::faults::RateHeaders>) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match reply.body {
        Some(v) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            v.to_string(),
        )
            .into_response(),
        None => status.into_response(),
    };
    if let Some(rh) = rh {
        let h = resp.headers_mut();
        put(h, "x-ratelimit-limit", rh.limit.to_string());
        put(h, "x-ratelimit-remaining", rh.remaining.to_string());
        put(h, "x-ratelimit-reset", format!("{:.3}", rh.reset_epoch));
        put(
            h,
            "x-ratelimit-reset-after",
            format!("{:.3}", rh.reset_after),
        );
        put(h, "x-ratelimit-bucket", rh.bucket);
    }
    resp
}

fn put(h: &mut HeaderMap, name: &'static str, v: String) {
    if let Ok(v) = HeaderValue::from_str(&v) {
        h.insert(name, v);
    }
}

/// A 429 as Discord sends it: Retry-After header (whole seconds, rounded up), the JSON body
/// with the precise `retry_after`, and the global/scope headers.
fn too_many(retry_after: f64, global: bool) -> Response {
    let body = json!({
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": global,
        "code": 0,
    });
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    let h = resp.headers_mut();
    put(h, "retry-after", (retry_after.ceil() as u64).to_string());
    put(
        h,
        "x-ratelimit-scope",
        if global { "global" } else { "user" }.to_string(),
    );
    if global {
        put(h, "x-ratelimit-global", "true".to_string());
    } else {
        put(h, "x-ratelimit-limit", "5".to_string());
        put(h, "x-ratelimit-remaining", "0".to_string());
        put(h, "x-ratelimit-reset-after", format!("{retry_after:.3}"));
        let reset = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            + retry_after;
        put(h, "x-ratelimit-reset", format!("{reset:.3}"));
        put(h, "x-ratelimit-bucket", "429fa0e1f2c3b4d5".to_string());
    }
    resp
}

/// Serves attachment bytes at the URL the attachment object carries.
pub(crate) async fn attachment(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path((_channel, id, _name)): axum::extract::Path<(u64, u64, String)>,
) -> Response {
    let file = shared.read(|w| w.files.get(&crate::ids::AttachmentId(id)).cloned());
    match file {
        Some((ct, bytes)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, ct)],
            Body::from(Bytes::from((*bytes).clone())),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "404: Not Found").into_response(),
    }
}

/// A 1×1 PNG for every avatar, at `/avatars/{user}/{hash}.{ext}` like the CDN's path.
pub(crate) async fn avatar() -> Response {
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
        0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    (StatusCode::OK, [(header::CONTENT_TYPE, "image/png")], PNG).into_response()
}
