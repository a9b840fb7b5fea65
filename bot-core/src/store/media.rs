//! Which links were copied into the local media store, and under which hash.

use chrono::{DateTime, Utc};

use super::codec::{col, col_time, to_ms};
use super::{Context, Result, Store};

/// The outcome of copying one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaCopy {
    pub url: String,
    /// The file's SHA-256 in the media store, when copied.
    pub sha256: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    /// Why it was not copied (too large, gone), when it was not.
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl Store {
    /// Records a copy (or a lasting failure to copy) of `copy.url`; the first record wins.
    pub async fn record_media_copy(&self, copy: &MediaCopy) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO media (url, sha256, content_type, size_bytes, error, copied_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (url) DO NOTHING",
        )
        .bind(copy.url.as_str())
        .bind(copy.sha256.as_deref())
        .bind(copy.content_type.as_deref())
        .bind(copy.size_bytes)
        .bind(copy.error.as_deref())
        .bind(to_ms(copy.at))
        .execute(&mut *conn)
        .await
        .ctx("recording a media copy")?;
        Ok(())
    }

    /// What became of copying `url`, if it was tried.
    pub async fn media_copy(&self, url: &str) -> Result<Option<MediaCopy>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT url, sha256, content_type, size_bytes, error, copied_at FROM media WHERE url = $1",
        )
        .bind(url)
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading a media copy")?;
        row.map(|row| {
            Ok(MediaCopy {
                url: col(&row, "url")?,
                sha256: col(&row, "sha256")?,
                content_type: col(&row, "content_type")?,
                size_bytes: col(&row, "size_bytes")?,
                error: col(&row, "error")?,
                at: col_time(&row, "copied_at")?,
            })
        })
        .transpose()
    }

    /// Keeps what a fetcher needs besides the link itself (a platform's JSON, e.g. an encrypted
    /// attachment's key); the first record for a link wins.
    pub async fn remember_media_source(&self, url: &str, source_json: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO media_sources (url, source_json, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (url) DO NOTHING",
        )
        .bind(url)
        .bind(source_json)
        .bind(to_ms(Utc::now()))
        .execute(&mut *conn)
        .await
        .ctx("remembering a media source")?;
        Ok(())
    }

    /// What [`Store::remember_media_source`] kept for `url`.
    pub async fn media_source(&self, url: &str) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query("SELECT source_json FROM media_sources WHERE url = $1")
            .bind(url)
            .fetch_optional(&mut *conn)
            .await
            .ctx("reading a media source")?;
        row.map(|r| col::<String>(&r, "source_json")).transpose()
    }
}
