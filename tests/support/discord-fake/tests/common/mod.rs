//! What the fake's serenity-driven tests share: serenity's `Http` pointed at the fake, and
//! Discord's error code out of a failed call.

use discord_fake::FakeDiscord;
use serenity::all::{ApplicationId, HttpBuilder};
use serenity::http::{Http, HttpError};

/// serenity's REST client for `fake` (through `proxy`, so its ratelimiter is off: serenity
/// issue #1739).
pub fn http(fake: &FakeDiscord) -> Http {
    HttpBuilder::new(fake.token())
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .application_id(ApplicationId::new(fake.application_id().get()))
        .build()
}

/// serenity's REST client for `fake` with its ratelimiter on, as in production: requests go to
/// `https://discord.com`, which this client resolves to the fake's TLS address, trusting the
/// fake's test authority (and nothing else, so a request can never reach the real Discord).
#[allow(dead_code)] // Used by some of the test files that share this module.
pub fn http_as_discord(fake: &FakeDiscord) -> Http {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(fake.tls_ca_pem().as_bytes()).unwrap())
        .resolve("discord.com", fake.tls_address())
        .build()
        .unwrap();
    HttpBuilder::new(fake.token())
        .client(client)
        .application_id(ApplicationId::new(fake.application_id().get()))
        .build()
}

/// `(status, Discord's JSON error code)` of a call Discord refused.
pub fn discord_code(e: &serenity::Error) -> Option<(u16, isize)> {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            Some((r.status_code.as_u16(), r.error.code))
        }
        _ => None,
    }
}
