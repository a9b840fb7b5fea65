//! hashchat on the web: the archive (`hashchat serve`, and `hashchat run`) and the browser
//! room (`hashchat run`).
//!
//! Routes (one file per group):
//! - `/` ([`index`]): started sessions of public chats, newest first; `?chat=`, `?from=`,
//!   `?to=` (dates `YYYY-MM-DD`, in each chat's zone), `?page=`.
//! - `/s/{uid}`, `/s/{uid}.md`, `/s/{uid}.json` ([`session`]): one session, stable by uid.
//! - `/search?q=` ([`search`]): full-text search over public sessions.
//! - `/upcoming` ([`upcoming`]): scheduled sessions of public chats.
//! - `/calendar.ics`, `/c/{slug}.ics` ([`calendar`]): iCal feeds (404 until the calendar
//!   module lands).
//! - `/healthz` ([`health`]), `/style.css` ([`page`]).
//! - `/r`, `/r/{room}` and what hangs off them, `/signin`, `/room.js` ([`room`]): the browser
//!   room, when `hashchat run` serves it.
//!
//! Visibility is the chat's as configured now ([`Visibility`]): public chats are listed,
//! searched and served; unlisted ones are served by URL only; private ones, and sessions whose
//! chat is no longer configured, answer 404 everywhere. Sessions that never started answer 404.
//! Every response carries the security headers of [`headers`]. Route parameters are validated
//! strictly ([`params`]); nothing here ever opens a file named by a request.

pub mod calendar;
pub mod headers;
pub mod health;
pub mod index;
pub mod page;
pub mod params;
pub mod room;
pub mod rules;
pub mod search;
pub mod session;
pub mod upcoming;

use std::future::Future;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use bot_core::chat::{Chat, Visibility};
use bot_core::clock::{SharedClock, SystemClock};
use bot_core::health::PlatformHealth;
use bot_core::media::MediaStore;
use bot_core::metrics::Metrics;
use bot_core::store::Store;

/// What every handler reads.
#[derive(Clone)]
pub struct WebState {
    pub store: Store,
    /// The configured chats: visibility, titles and zones come from here.
    pub chats: Arc<Vec<Chat>>,
    /// Local copies of media; when present, session pages inline their images as `data:` URIs.
    pub media: Option<MediaStore>,
    /// "Now", for the upcoming page.
    pub clock: SharedClock,
    /// The browser room, when the engine runs in this process (`hashchat run`); `None`: the
    /// archive alone (`hashchat serve`), and the room's routes answer 404.
    pub room: Option<room::RoomHub>,
    /// `/metrics`: the engine's when it runs in this process ([`WebState::watching`]), else a
    /// set of its own whose counters stay at zero (the store's figures are real either way).
    pub metrics: Arc<Metrics>,
    /// `/readyz`: the engine's platforms, or none (`hashchat serve`).
    pub health: Arc<PlatformHealth>,
}

impl WebState {
    pub fn new(store: Store, chats: Vec<Chat>) -> WebState {
        WebState {
            store,
            chats: Arc::new(chats),
            media: None,
            clock: Arc::new(SystemClock),
            room: None,
            metrics: Arc::new(Metrics::new()),
            health: Arc::new(PlatformHealth::new(Arc::new(SystemClock))),
        }
    }

    /// Reports `engine`'s figures and platforms on `/metrics` and `/readyz`.
    pub fn watching(mut self, engine: &bot_core::engine::Engine) -> WebState {
        self.metrics = engine.metrics().clone();
        self.health = engine.health().clone();
        self
    }

    /// The configured chat with this slug.
    pub fn chat(&self, slug: &str) -> Option<&Chat> {
        self.chats.iter().find(|c| c.slug == slug)
    }

    /// The chat of `slug` if its sessions may be served (public or unlisted).
    pub fn servable_chat(&self, slug: &str) -> Option<&Chat> {
        self.chat(slug)
            .filter(|c| c.visibility != Visibility::Private)
    }

    /// The chat of `slug` if it is public (listed and searchable).
    pub fn public_chat(&self, slug: &str) -> Option<&Chat> {
        self.chat(slug)
            .filter(|c| c.visibility == Visibility::Public)
    }

    pub fn public_slugs(&self) -> Vec<String> {
        self.chats
            .iter()
            .filter(|c| c.visibility == Visibility::Public)
            .map(|c| c.slug.clone())
            .collect()
    }
}

/// What the core is told of the web platform.
pub fn rules() -> std::sync::Arc<dyn bot_core::platforms::PlatformRules> {
    std::sync::Arc::new(rules::WebRules)
}

/// Every route, with the security headers on every response (404s included).
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(index::index))
        .route("/s/{file}", get(session::session))
        .route("/search", get(search::search))
        .route("/upcoming", get(upcoming::upcoming))
        .route("/calendar.ics", get(calendar::all_chats))
        .route("/c/{file}", get(calendar::one_chat))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/style.css", get(page::stylesheet))
        .merge(room::routes())
        // Browsers ask for it on every page; "no icon" is an answer, a 404 is an error.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .fallback(page::not_found_handler)
        .with_state(state)
        .layer(axum::middleware::map_response(headers::security_headers))
}

/// Serves the archive on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "web archive listening");
    }
    // Each request's address, for the browser room's per-address limits.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
