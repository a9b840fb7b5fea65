//! Who a browser is: the room's cookie, the form token derived from it, the same-origin check,
//! and the moderators' secret.
//!
//! The cookie holds a random token (256 bits); the store keeps only its SHA-256, so a copy of
//! the database signs no one in. Forms carry a second token derived from the first (its hash
//! under another label), which a page from another origin cannot read, so it cannot post as
//! the browser; the cookie is `SameSite=Strict` besides, and a post whose `Origin` is not this
//! server is refused before anything else.

use std::sync::Mutex;

use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::HeaderMap;
use bot_core::store::{LocalAccount, Store, StoreError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The room's cookie.
pub const COOKIE_NAME: &str = "hashchat_room";

/// How long the cookie lasts: 30 days.
const COOKIE_MAX_AGE_SECS: u64 = 30 * 24 * 3600;

/// A fresh random token, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random numbers");
    hex::encode(bytes)
}

/// A fresh random user id for a new browser account: short, and a valid web user id.
pub fn new_user_id() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the operating system's random numbers");
    format!("w-{}", hex::encode(bytes))
}

fn labelled_hash(label: &str, token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(label.as_bytes());
    hash.update([0]);
    hash.update(token.as_bytes());
    hex::encode(hash.finalize())
}

/// What the store keeps of a cookie's token.
pub fn token_hash(token: &str) -> String {
    labelled_hash("hashchat cookie", token)
}

/// The form token of a cookie's token.
pub fn form_token(token: &str) -> String {
    labelled_hash("hashchat form", token)[..32].to_owned()
}

/// `a == b` in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The `Set-Cookie` value that signs this browser in with `token`.
pub fn set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE_SECS}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The token in the request's cookie, when it has one that looks like ours.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether a form post comes from a page of this server. Current browsers say so in
/// `Sec-Fetch-Site`, which is then all that counts; otherwise the `Origin`, when there is one,
/// must name the host the post was sent to. (Under the archive's `no-referrer` policy a
/// browser's form post carries `Origin: null`, so `Origin` alone cannot tell.) A client that
/// sends neither is no browser a page could drive; the form token still holds it.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), headers.get(HOST).map(|h| h.to_str()))
    else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    origin_host == Some(host)
}

/// A browser the room knows.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub token: String,
    pub account: LocalAccount,
}

impl Viewer {
    /// The browser of this request, when its cookie names an account.
    pub async fn of(store: &Store, headers: &HeaderMap) -> Result<Option<Viewer>, StoreError> {
        let Some(token) = cookie_token(headers) else {
            return Ok(None);
        };
        Ok(store
            .local_account(&token_hash(&token))
            .await?
            .map(|account| Viewer { token, account }))
    }

    pub fn form_token(&self) -> String {
        form_token(&self.token)
    }

    /// Whether `given` is this browser's form token.
    pub fn owns_form(&self, given: &str) -> bool {
        same_secret(&self.form_token(), given)
    }
}

/// What signs a moderator in.
pub enum ModeratorSecret {
    /// From the environment or a file: good until it is changed.
    Configured(String),
    /// Made up at start and printed on the console: good once.
    OneTime(Mutex<Option<String>>),
}

impl ModeratorSecret {
    /// A new one-time secret, and the secret itself to print.
    pub fn one_time() -> (ModeratorSecret, String) {
        let secret = new_token();
        (
            ModeratorSecret::OneTime(Mutex::new(Some(secret.clone()))),
            secret,
        )
    }

    /// Whether `given` signs a moderator in; a one-time secret is used up by it.
    pub fn redeem(&self, given: &str) -> bool {
        match self {
            ModeratorSecret::Configured(secret) => same_secret(secret, given),
            ModeratorSecret::OneTime(slot) => {
                let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
                let matches = slot.as_deref().is_some_and(|s| same_secret(s, given));
                if matches {
                    *slot = None;
                }
                matches
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_cookie_is_found_among_others_and_checked() {
        let token = new_token();
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("a=b; {COOKIE_NAME}={token}; c=d")).unwrap(),
        );
        assert_eq!(cookie_token(&headers), Some(token));
        headers.insert(COOKIE, HeaderValue::from_static("hashchat_room=short"));
        assert_eq!(cookie_token(&headers), None);
    }

    #[test]
    fn tokens_are_hashed_apart_for_the_store_and_the_forms() {
        let token = new_token();
        assert_ne!(token_hash(&token), form_token(&token));
        assert_eq!(token_hash(&token).len(), 64);
        assert_ne!(new_token(), token);
        assert!(new_user_id().starts_with("w-"));
    }

    #[test]
    fn posts_from_another_origin_are_told_apart() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(
            same_origin(&headers),
            "no Origin: a same-origin form of an old browser"
        );
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&headers));
        headers.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(
            same_origin(&headers),
            "a browser's own word, under no-referrer"
        );
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(!same_origin(&headers));
    }

    #[test]
    fn a_one_time_secret_signs_in_once() {
        let (secret, text) = ModeratorSecret::one_time();
        assert!(!secret.redeem("guess"));
        assert!(secret.redeem(&text));
        assert!(!secret.redeem(&text), "used up");
        let configured = ModeratorSecret::Configured("s3cret".into());
        assert!(configured.redeem("s3cret") && configured.redeem("s3cret"));
        assert!(!configured.redeem("s3cre"));
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let cookie = set_cookie("abc", true);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.ends_with("; Secure"));
        assert!(!set_cookie("abc", false).contains("Secure"));
    }
}
