//! Discord's REST API through serenity's `Http`, answering raw JSON and sorting failures.
//!
//! We send `Request`s rather than call serenity's typed methods because a post must tell a
//! 429 (wait `Retry-After`, try again) from a 5xx (try later) from any other 4xx (give up) and
//! from no connection at all (wait for Discord, using up no attempts); the typed methods fold
//! all of these into one error. With serenity's ratelimiter on (production) the ratelimiter
//! itself waits out 429s and an error status comes back as serenity's error, with Discord's
//! code. With `api_url` set it is off (a proxy is meant to do the rate limiting); we then send
//! the request with serenity's HTTP client ourselves and read the answer whole, so a 429 that
//! still reaches us is waited out for its `Retry-After`.
//!
//! Every request has a deadline: a Discord that accepts a connection and never answers must
//! not hold a session's posts forever (a post that timed out is sent again with its nonce, so
//! it still shows once).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use serenity::http::{Http, HttpBuilder, LightMethod, Request, Route};

/// How many 429s one call waits out before it reports a temporary failure.
const MAX_RATE_LIMITED: u32 = 5;
/// Statuses that mean Discord itself is down (bad gateway, unavailable, gateway timeout).
const DISCORD_DOWN: [u16; 3] = [502, 503, 504];
/// The longest `Retry-After` waited inside a call; longer ones are reported temporary.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How long a connection to Discord may take, and a whole request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A Discord at another address, for tests: `discord.com` resolved to `address`, and the test
/// certificate authority that signed its certificate trusted. Unlike `api_url`, this keeps
/// serenity's ratelimiter in the path, as in production.
#[derive(Debug, Clone)]
pub struct TestRoute {
    pub address: SocketAddr,
    /// The certificate authority, PEM.
    pub ca_pem: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// No answer from Discord at all: connection refused, reset, DNS, timeout.
    #[error("Discord unreachable while {doing}: {source}")]
    Unreachable {
        doing: String,
        #[source]
        source: Box<serenity::Error>,
    },
    /// Discord answered with an error status.
    #[error("Discord answered {status} while {doing}: {message}")]
    Status {
        doing: String,
        status: u16,
        /// Discord's JSON error code (e.g. 10062 unknown interaction), when it sent one.
        code: Option<i64>,
        message: String,
    },
    /// Discord's answer was not the JSON we expected.
    #[error("unreadable answer from Discord while {doing}: {message}")]
    Decode { doing: String, message: String },
}

impl RestError {
    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Discord will not do it however often it is asked: a 4xx other than a rate limit (no
    /// permission, no such channel, a body it rejects).
    pub fn is_refusal(&self) -> bool {
        self.status()
            .is_some_and(|s| (400..500).contains(&s) && s != 429)
    }
}

impl From<RestError> for bot_core::adapter::AdapterError {
    fn from(e: RestError) -> Self {
        use bot_core::adapter::AdapterError;
        match &e {
            RestError::Unreachable { .. } => AdapterError::Unreachable(e.to_string()),
            // Discord's edge answering for a Discord that is down: an outage, which may last
            // longer than a post's attempts, not a failure of this request.
            RestError::Status { status, .. } if DISCORD_DOWN.contains(status) => {
                AdapterError::Unreachable(e.to_string())
            }
            RestError::Status { status, .. } if *status == 429 || *status >= 500 => {
                AdapterError::Temporary(e.to_string())
            }
            RestError::Status { .. } => AdapterError::Permanent(e.to_string()),
            RestError::Decode { .. } => AdapterError::Temporary(e.to_string()),
        }
    }
}

/// The REST client: one serenity `Http`, shared, and the HTTP client it sends through.
#[derive(Clone)]
pub struct Rest {
    http: Arc<Http>,
    client: reqwest_serenity::Client,
}

impl Rest {
    /// serenity's client itself, for the few requests its builders do better than raw JSON
    /// (uploads: see [`crate::uploads`]).
    pub(crate) fn http(&self) -> &Http {
        &self.http
    }

    /// `api_url`: a proxy that does the rate limiting (serenity's ratelimiter is then off: it
    /// would ignore the proxy, serenity issue #1739); else `route`, for tests; else Discord.
    pub fn new(
        token: &str,
        api_url: Option<&str>,
        route: Option<&TestRoute>,
    ) -> Result<Rest, reqwest_serenity::Error> {
        let mut client = reqwest_serenity::Client::builder()
            .use_rustls_tls()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT);
        if let (None, Some(route)) = (api_url, route) {
            client = client
                .resolve("discord.com", route.address)
                .add_root_certificate(reqwest_serenity::Certificate::from_pem(&route.ca_pem)?);
        }
        let client = client.build()?;
        let mut builder = HttpBuilder::new(token).client(client.clone());
        if let Some(url) = api_url {
            builder = builder.proxy(url).ratelimiter_disabled(true);
        }
        Ok(Rest {
            http: Arc::new(builder.build()),
            client,
        })
    }

    /// Sends one request: through serenity's ratelimiter when it is on (it waits out 429s
    /// itself, and an error status comes back as its `UnsuccessfulRequest`), else straight to
    /// the proxy, the answer whatever its status.
    async fn send(
        &self,
        request: Request<'_>,
    ) -> Result<reqwest_serenity::Response, serenity::Error> {
        if self.http.ratelimiter.is_some() {
            return self.http.request(request).await;
        }
        let built = request
            .build(&self.client, self.http.token(), self.http.proxy.as_deref())?
            .build()?;
        Ok(self.client.execute(built).await?)
    }

    /// One request, with 429s waited out; the answer's JSON (`Null` for 204).
    pub async fn call(
        &self,
        method: LightMethod,
        route: Route<'_>,
        body: Option<&Value>,
        params: Option<Vec<(&'static str, String)>>,
        doing: &str,
    ) -> Result<Value, RestError> {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        self.answered(doing, || async {
            let request = Request::new(route, method)
                .body(bytes.clone())
                .params(params.clone());
            self.send(request).await.map_err(|e| sort_failure(e, doing))
        })
        .await
    }

    /// A request to one of a webhook's token routes (`/webhooks/{id}/{token}{tail}`), sent with
    /// our own HTTP client rather than through serenity, whose `Request` carries the route,
    /// token and all, into its tracing spans: a webhook's token is as good as the webhook, so it
    /// must never reach a log. The token routes take no bot token and have their own rate
    /// limits, which Discord reports with 429s; those are waited out here as on the proxy path.
    #[allow(clippy::too_many_arguments)]
    pub async fn call_webhook(
        &self,
        method: LightMethod,
        webhook: u64,
        token: &str,
        tail: &str,
        params: &[(&str, String)],
        body: Option<&Value>,
        files: &[crate::uploads::Upload],
        doing: &str,
    ) -> Result<Value, RestError> {
        let base = self.http.proxy.as_deref().unwrap_or("https://discord.com");
        let url = format!(
            "{}/api/v10/webhooks/{webhook}/{token}{tail}",
            base.trim_end_matches('/')
        );
        self.answered(doing, || async {
            let mut request = self
                .client
                .request(method.reqwest_method(), &url)
                .header("User-Agent", serenity::constants::USER_AGENT)
                .query(params);
            match body {
                Some(body) if !files.is_empty() => {
                    request = request.multipart(crate::uploads::webhook_form(body, files));
                }
                Some(body) => {
                    request = request
                        .header("Content-Type", "application/json")
                        .body(serde_json::to_vec(body).unwrap_or_default());
                }
                None => {}
            }
            // Without its URL: the URL holds the token.
            self.client
                .execute(request.build().map_err(|e| unreachable(e, doing))?)
                .await
                .map_err(|e| unreachable(e, doing))
        })
        .await
    }

    /// Sends what `send` makes, waiting out 429s; the answer's JSON (`Null` for 204), or the
    /// failure sorted.
    async fn answered<F, Fut>(&self, doing: &str, send: F) -> Result<Value, RestError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<reqwest_serenity::Response, RestError>>,
    {
        let mut limited = 0;
        loop {
            let response = send().await?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok());
            let text = response.text().await.map_err(|e| RestError::Decode {
                doing: doing.to_owned(),
                message: e.without_url().to_string(),
            })?;
            if (200..300).contains(&status) {
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text).map_err(|e| RestError::Decode {
                    doing: doing.to_owned(),
                    message: e.to_string(),
                });
            }
            let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status == 429 && limited < MAX_RATE_LIMITED {
                let wait = retry_after
                    .or_else(|| json.get("retry_after").and_then(Value::as_f64))
                    .map_or(Duration::from_secs(1), |s| {
                        Duration::from_secs_f64(s.clamp(0.0, 3600.0))
                    });
                if wait <= MAX_RETRY_AFTER {
                    limited += 1;
                    tracing::info!(
                        doing,
                        wait_ms = wait.as_millis() as u64,
                        "rate limited by Discord; waiting"
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            return Err(RestError::Status {
                doing: doing.to_owned(),
                status,
                code: json.get("code").and_then(Value::as_i64),
                message: json
                    .get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| truncate(&text, 200), str::to_owned),
            });
        }
    }
}

/// A request that got no answer, its URL left out (a webhook's holds its token).
fn unreachable(e: reqwest_serenity::Error, doing: &str) -> RestError {
    RestError::Unreachable {
        doing: doing.to_owned(),
        source: Box::new(serenity::Error::Http(serenity::http::HttpError::Request(
            e.without_url(),
        ))),
    }
}

/// serenity's failures: an error status (with its ratelimiter on, serenity's `Http::request`
/// turns every non-2xx answer into `UnsuccessfulRequest`, with Discord's JSON error read), else
/// a connection problem or a request it could not even build (reported unreachable, since
/// trying again later is all we can do).
pub(crate) fn sort_failure(e: serenity::Error, doing: &str) -> RestError {
    match e {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r)) => {
            RestError::Status {
                doing: doing.to_owned(),
                status: r.status_code.as_u16(),
                code: Some(r.error.code as i64).filter(|c| *c > 0),
                message: truncate(&r.error.message, 200),
            }
        }
        e => RestError::Unreachable {
            doing: doing.to_owned(),
            source: Box::new(e),
        },
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
