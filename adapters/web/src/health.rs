//! `/healthz`: 200 `ok` when the store answers, else 503.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::page::plain;
use crate::WebState;

pub async fn healthz(State(state): State<WebState>) -> Response {
    match state.store.ping().await {
        Ok(()) => plain(StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
    .into_response()
}
