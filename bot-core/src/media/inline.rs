//! Local copies of a transcript's images, inlined as `data:` URIs so an exported page stays
//! one self-contained file that makes no request anywhere.

use std::collections::HashMap;

use base64::Engine as _;

use super::MediaStore;
use crate::render::html::MediaResolver;
use crate::store::{Store, StoreError};
use crate::transcript::{AttachmentRecord, Author, MessageRecord, Transcript};

/// Image types a page may show inline; SVG is left out because it can carry script.
const INLINE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The transcript's images that were copied, by original URL.
#[derive(Debug, Default)]
pub struct InlineMedia {
    by_url: HashMap<String, String>,
}

impl InlineMedia {
    /// Looks up every avatar and attachment of `transcript` and reads the copies that are
    /// images of an inlinable type.
    pub async fn load(
        store: &Store,
        media: &MediaStore,
        transcript: &Transcript,
    ) -> Result<InlineMedia, StoreError> {
        // Collected before the first await, so the future stays `Send` (an iterator of
        // closures held across an await is not, to today's compiler).
        let mut urls: Vec<&String> = Vec::new();
        for m in &transcript.messages {
            urls.extend(m.author.avatar_url.iter());
            urls.extend(m.attachments.iter().map(|a| &a.url));
        }
        let mut by_url = HashMap::new();
        for url in urls {
            if by_url.contains_key(url) {
                continue;
            }
            let Some(copy) = store.media_copy(url).await? else {
                continue;
            };
            let (Some(sha256), Some(content_type)) = (copy.sha256, copy.content_type) else {
                continue;
            };
            if !INLINE_TYPES.contains(&content_type.as_str()) {
                continue;
            }
            if let Ok(bytes) = media.read(&sha256) {
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                by_url.insert(url.clone(), format!("data:{content_type};base64,{encoded}"));
            }
        }
        Ok(InlineMedia { by_url })
    }

    pub fn len(&self) -> usize {
        self.by_url.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_url.is_empty()
    }
}

impl MediaResolver for InlineMedia {
    fn avatar(&self, _platform: &str, author: &Author) -> Option<String> {
        self.by_url.get(author.avatar_url.as_deref()?).cloned()
    }

    fn attachment(
        &self,
        _message: &MessageRecord,
        attachment: &AttachmentRecord,
    ) -> Option<String> {
        self.by_url.get(&attachment.url).cloned()
    }
}
