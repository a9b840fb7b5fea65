//! Fetching `mxc://` media for the archive's media store, through the homeserver (which needs
//! the bot's token for authenticated media) and, for encrypted rooms, decrypting it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::ruma::events::room::{EncryptedFile, MediaSource};
use matrix_sdk::ruma::OwnedMxcUri;
use matrix_sdk::Client;
use serde_json::Value;

use bot_core::media::{FetchError, Fetched, MediaFetcher};

/// The keys of encrypted attachments seen since start, by their `mxc://` link: the archive
/// keeps the link, the fetcher needs the key to make sense of the bytes behind it.
#[derive(Clone, Default)]
pub struct EncryptedMedia(Arc<Mutex<HashMap<String, Value>>>);

impl EncryptedMedia {
    pub fn remember(&self, url: &str, file: Value) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url.to_owned(), file);
    }

    fn get(&self, url: &str) -> Option<Value> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
            .cloned()
    }
}

pub struct MxcFetcher {
    client: Client,
    encrypted: EncryptedMedia,
}

impl MxcFetcher {
    pub fn new(client: Client, encrypted: EncryptedMedia) -> MxcFetcher {
        MxcFetcher { client, encrypted }
    }
}

#[async_trait]
impl MediaFetcher for MxcFetcher {
    fn handles(&self, scheme: &str) -> bool {
        scheme == "mxc"
    }

    async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Fetched, FetchError> {
        let source = match self.encrypted.get(url) {
            Some(file) => {
                let file: EncryptedFile = serde_json::from_value(file)
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
