//! Fetching `mxc://` media for the archive's media store, through the homeserver (which needs
//! the bot's token for authenticated media) and, for encrypted rooms, decrypting it.

use async_trait::async_trait;
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::ruma::events::room::{EncryptedFile, MediaSource};
use matrix_sdk::ruma::OwnedMxcUri;
use matrix_sdk::Client;

use bot_core::media::{FetchError, Fetched, MediaFetcher};
use bot_core::store::Store;

/// Fetches `mxc://` links through the homeserver. An encrypted attachment's key and hashes
/// (its event's `file` object) are kept in the archive when the message arrives
/// ([`Store::remember_media_source`]), so its copy decrypts even when made after a restart.
pub struct MxcFetcher {
    client: Client,
    store: Store,
}

impl MxcFetcher {
    pub fn new(client: Client, store: Store) -> MxcFetcher {
        MxcFetcher { client, store }
    }
}

#[async_trait]
impl MediaFetcher for MxcFetcher {
    fn handles(&self, scheme: &str) -> bool {
        scheme == "mxc"
    }

    async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Fetched, FetchError> {
        let kept = self
            .store
            .media_source(url)
            .await
            .map_err(|e| FetchError::Network(format!("reading the attachment's key: {e}")))?;
        let source = match kept {
            Some(file) => {
                let file: EncryptedFile = serde_json::from_str(&file)
                    .map_err(|e| FetchError::Unsupported(format!("encrypted file info: {e}")))?;
                MediaSource::Encrypted(Box::new(file))
            }
            None => MediaSource::Plain(OwnedMxcUri::from(url)),
        };
        let request = MediaRequestParameters {
            source,
            format: MediaFormat::File,
        };
        let bytes = self
            .client
            .media()
            .get_media_content(&request, false)
            .await
            .map_err(|e| match e.as_client_api_error() {
                Some(api) => FetchError::Status(api.status_code.as_u16()),
                None => FetchError::Network(e.to_string()),
            })?;
        if bytes.len() as u64 > max_bytes {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        Ok(Fetched {
            content_type: sniff_image_type(&bytes).map(str::to_owned),
            bytes,
        })
    }
}

/// The image type the bytes themselves declare. The sender's `mimetype` is only a claim; the
/// archive inlines a copy as an image only when its first bytes agree.
fn sniff_image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_are_read_from_the_bytes() {
        assert_eq!(
            sniff_image_type(b"\x89PNG\r\n\x1a\nrest"),
            Some("image/png")
        );
        assert_eq!(
            sniff_image_type(&[0xff, 0xd8, 0xff, 0xe0]),
            Some("image/jpeg")
        );
        assert_eq!(sniff_image_type(b"GIF89a.."), Some("image/gif"));
        assert_eq!(
            sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(sniff_image_type(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff_image_type(b""), None);
    }
}
