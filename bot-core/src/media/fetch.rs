//! Fetching media from where a platform keeps it.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;

/// What a fetch brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("no fetcher for `{0}` links")]
    Unsupported(String),
    #[error("the server answered {0}")]
    Status(u16),
    #[error("network: {0}")]
    Network(String),
}

/// Something that can fetch media by URL. The HTTP fetcher handles `http` and `https`;
/// adapters add their own (Matrix `mxc://` needs the homeserver and a token).
#[async_trait]
pub trait MediaFetcher: Send + Sync + 'static {
    /// Whether this fetcher handles URLs with this scheme (lowercase, without `:`).
    fn handles(&self, scheme: &str) -> bool;

    /// Fetches `url`, refusing to read more than `max_bytes`.
    async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Fetched, FetchError>;
}

/// Plain HTTP(S) downloads.
pub struct HttpFetcher {
    client: reqwest::Client,
}

impl HttpFetcher {
    pub fn new() -> Result<HttpFetcher, FetchError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("hashchat/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Network(e.to_string()))?;
        Ok(HttpFetcher { client })
    }
}

#[async_trait]
impl MediaFetcher for HttpFetcher {
    fn handles(&self, scheme: &str) -> bool {
        matches!(scheme, "http" | "https")
    }

    async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Fetched, FetchError> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| FetchError::Network(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .filter(|v| !v.is_empty());
        // The length header may be absent or lie: count what actually arrives.
        let mut bytes = Vec::new();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| FetchError::Network(e.without_url().to_string()))?;
            if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(FetchError::TooLarge { limit: max_bytes });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            bytes,
            content_type,
        })
    }
}
