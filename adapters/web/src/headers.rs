//! The headers every response carries.

use axum::http::header::{HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use axum::http::HeaderName;
use axum::response::Response;
use bot_core::render::html::{SCRIPT_CSP_HASH, STYLE_CSP_HASH};

/// Nothing loads but this server's stylesheet and the browser room's script, the transcript's
/// inline style and its one time script (both by hash), and images that are `data:` URIs or
/// from this server; the room's script talks only to this server. No framing, no `<base>`,
/// forms only to this server.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; img-src 'self' data:; style-src 'self' {STYLE_CSP_HASH}; \
         script-src 'self' {SCRIPT_CSP_HASH}; connect-src 'self'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Adds the security headers (a `map_response` layer on the whole router).
pub async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy()) {
        h.insert(CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    response
}
