//! What operators and load balancers ask:
//! - `/healthz`: the process is alive and its store answers (200 `ok`, else 503);
//! - `/readyz`: ready for traffic: the store answers and every configured platform is
//!   connected and heard from lately (200, else 503), with one line per part saying how it is;
//! - `/metrics`: every figure in the Prometheus text format (`bot_core::metrics`).

use axum::extract::State;
use axum::http::{header, StatusCode};
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

pub async fn readyz(State(state): State<WebState>) -> Response {
    let mut ready = true;
    let mut lines = Vec::new();
    match state.store.ping().await {
        Ok(()) => lines.push("store: ok".to_owned()),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the store does not answer");
            ready = false;
            lines.push("store: unavailable".to_owned());
        }
    }
    for status in state.health.snapshot() {
        let heard = match status.last_heard {
            Some(_) => format!(", last heard {} s ago", status.silent_for.as_secs()),
            None => String::new(),
        };
        let verdict = if status.is_away() {
            ready = false;
            "away"
        } else if status.link != bot_core::health::Link::Up {
            ready = false;
            "not ready"
        } else {
            "ok"
        };
        lines.push(format!(
            "{}: {verdict} ({}{heard})",
            status.platform.as_str(),
            status.link.as_str()
        ));
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    plain(status, &lines.join("\n")).into_response()
}

pub async fn metrics(State(state): State<WebState>) -> Response {
    match state
        .metrics
        .encode(&state.store, &state.health, state.clock.now())
        .await
    {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, bot_core::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the store does not answer");
            plain(StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}
