//! Copying media in the background as messages arrive, so ingest never waits on a download.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{FetchError, MediaFetcher, MediaStore};
use crate::store::{MediaCopy, Store};

/// How many links may wait for copying before new ones are dropped (and logged).
const QUEUE: usize = 10_000;

enum Job {
    Copy(String),
    /// Answered once every job queued before it is done.
    Flush(oneshot::Sender<()>),
}

/// A handle to the background copier; cheap to clone.
#[derive(Clone)]
pub struct MediaCopier {
    jobs: mpsc::Sender<Job>,
    store: Store,
    media: MediaStore,
    fetchers: Arc<[Arc<dyn MediaFetcher>]>,
    max_bytes: u64,
}

impl MediaCopier {
    /// Starts the copier task. Each link is fetched once: a link already copied, or already
    /// found too large or gone, is not fetched again.
    pub fn start(
        store: Store,
        media: MediaStore,
        fetchers: Vec<Arc<dyn MediaFetcher>>,
        max_bytes: u64,
    ) -> (MediaCopier, tokio::task::JoinHandle<()>) {
        let (jobs, mut queue) = mpsc::channel(QUEUE);
        let fetchers: Arc<[Arc<dyn MediaFetcher>]> = fetchers.into();
        let copier = MediaCopier {
            jobs,
            store: store.clone(),
            media: media.clone(),
            fetchers: fetchers.clone(),
            max_bytes,
        };
        let task = tokio::spawn(async move {
            while let Some(job) = queue.recv().await {
                match job {
                    Job::Flush(done) => {
                        let _ = done.send(());
                    }
                    Job::Copy(url) => {
                        if let Err(e) = copy_one(&store, &media, &fetchers, max_bytes, &url).await {
                            tracing::warn!(error = %e, "could not record a media copy");
                        }
                    }
                }
            }
        });
        (copier, task)
    }

    /// The local copy of `url`'s bytes and their type, copying it now when it is not yet
    /// copied (rather than waiting for the queue, which may hold many other links); `None`
    /// when it could not be copied. The queue may fetch the same link meanwhile: the first
    /// record wins and the bytes are stored once by their hash.
    pub async fn local_copy(
        &self,
        url: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, crate::store::StoreError> {
        let mut copy = self.store.media_copy(url).await?;
        if copy.is_none() {
            copy_one(
                &self.store,
                &self.media,
                &self.fetchers,
                self.max_bytes,
                url,
            )
            .await?;
            copy = self.store.media_copy(url).await?;
        }
        let Some(copy) = copy else {
            return Ok(None);
        };
        let Some(sha256) = copy.sha256 else {
            return Ok(None);
        };
        match self.media.read(&sha256) {
            Ok(bytes) => Ok(Some((bytes, copy.content_type))),
            Err(e) => {
                tracing::warn!(error = %e, "a recorded media copy could not be read");
                Ok(None)
            }
        }
    }

    /// Asks for `url` to be copied. Never waits: with the queue full the link is skipped and
    /// logged (the transcript then links to the original).
    pub fn enqueue(&self, url: &str) {
        if self.jobs.try_send(Job::Copy(url.to_owned())).is_err() {
            tracing::warn!("media queue full; not copying a link");
        }
    }

    /// Waits until everything queued so far has been copied (or failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(Job::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn copy_one(
    store: &Store,
    media: &MediaStore,
    fetchers: &[Arc<dyn MediaFetcher>],
    max_bytes: u64,
    url: &str,
) -> Result<(), crate::store::StoreError> {
    if store.media_copy(url).await?.is_some() {
        return Ok(());
    }
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    let outcome = match fetchers.iter().find(|f| f.handles(&scheme)) {
        None => Err(FetchError::Unsupported(scheme)),
        Some(fetcher) => fetcher.fetch(url, max_bytes).await,
    };
    let now = chrono::Utc::now();
    let record = match outcome {
        Ok(fetched) => match media.put(&fetched.bytes) {
            Ok(sha256) => MediaCopy {
                url: url.to_owned(),
                sha256: Some(sha256),
                content_type: fetched.content_type,
                size_bytes: Some(fetched.bytes.len() as i64),
                error: None,
                at: now,
            },
            Err(e) => {
                // The disk may come back: do not record, so a later mention retries.
                tracing::error!(error = %e, "could not write to the media store");
                return Ok(());
            }
        },
        Err(FetchError::Network(reason)) => {
            // Possibly passing: not recorded, so a later mention of the link tries again.
            tracing::warn!(%reason, "media fetch failed");
            return Ok(());
        }
        Err(e) => MediaCopy {
            url: url.to_owned(),
            sha256: None,
            content_type: None,
            size_bytes: None,
            error: Some(e.to_string()),
            at: now,
        },
    };
    store.record_media_copy(&record).await
}
