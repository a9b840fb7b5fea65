//! `/signin`: moderators sign in with the moderators' secret (a token from the environment or
//! a file, or the one-time URL `hashchat run` prints), which makes this browser's account a
//! moderator's: the room then shows them start, pause, resume, next and stop, and hide and
//! block on messages. The engine decides every command as it does on any platform, with the
//! browser counted as the platform's own moderator.
//!
//! The secret travels in the URL only to fill the form: the account changes on the form's
//! POST, so a link preview or a prefetch uses nothing up.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::account::{new_token, new_user_id, same_origin, set_cookie, token_hash, Viewer};
use super::actions::ClientAddress;
use super::limits::wait_words;
use crate::page::{esc, html, internal, layout, plain};
use crate::WebState;

#[derive(Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    token: Option<String>,
}

pub async fn form(State(state): State<WebState>, Query(query): Query<SignInQuery>) -> Response {
    if state.room.is_none() {
        return crate::page::not_found();
    }
    let token = query.token.unwrap_or_default();
    let body = format!(
        "<h1>Sign in to moderate</h1>\
         <p>Moderators start, pause and stop sessions from the room page. Paste the moderators' \
         secret (or open the sign-in link <code>hashchat run</code> printed).</p>\
         <form method=\"post\" action=\"/signin\" class=\"stack\">\
         <label for=\"token\">Moderators' secret</label>\
         <input id=\"token\" name=\"token\" type=\"password\" required autocomplete=\"off\" value=\"{}\">\
         <button type=\"submit\">Sign in</button></form>",
        esc(&token)
    );
    html(StatusCode::OK, layout("Sign in", &body, false))
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    token: String,
}

pub async fn sign_in(
    State(state): State<WebState>,
    address: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(hub) = state.room.clone() else {
        return crate::page::not_found();
    };
    let inner = hub.inner();
    if !same_origin(&headers) {
        return plain(StatusCode::FORBIDDEN, "That form came from another site.");
    }
    let address = address.0;
    if let Err(wait) = inner
        .limiter
        .take(&format!("signin:{address}"), inner.limits.sign_in)
    {
        return plain(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many sign-in attempts: wait {} and try again.",
                wait_words(wait)
            ),
        );
    }
    let form: SignInForm = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "The form was not understood."),
    };
    if !inner.secret.redeem(form.token.trim()) {
        tracing::warn!(%address, "a moderator sign-in was refused");
        let page = "<h1>Not signed in</h1><p class=\"notice\" role=\"alert\">That is not the \
                    moderators' secret, or it was a one-time link already used. Restarting \
                    <code>hashchat run</code> prints a new link.</p>\
                    <p><a href=\"/signin\">Try again</a></p>";
        return html(StatusCode::FORBIDDEN, layout("Not signed in", page, false));
    }
    let store = &inner.store;
    let cookie = match Viewer::of(store, &headers).await {
        Ok(Some(viewer)) => {
            if let Err(e) = store.make_local_moderator(&viewer.account.user_id).await {
                return internal(e);
            }
            if viewer.account.blocked {
                if let Err(e) = store
                    .set_local_blocked(&viewer.account.user_id, false)
                    .await
                {
                    return internal(e);
                }
            }
            None
        }
        Ok(None) => {
            let token = new_token();
            if let Err(e) = store
                .create_local_account(&token_hash(&token), &new_user_id(), true)
                .await
            {
                return internal(e);
            }
            Some(set_cookie(&token, inner.secure_cookies))
        }
        Err(e) => return internal(e),
    };
    tracing::info!(%address, "a moderator signed in to the browser room");
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("/r"));
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}
