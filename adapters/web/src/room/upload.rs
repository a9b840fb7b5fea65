//! Files people attach in the browser room, when `[web] max_upload_megabytes` allows them:
//! a multipart form (`/r/{room}/upload`: the message's fields and one `file`), the file checked
//! for size and for what its bytes are, kept in the media store, and attached to the message
//! as a `web-upload:{sha256}` link that the media store already holds, so the transcript shows
//! it from the local copy and relays upload it to the other rooms.
//!
//! What a file is, is read from its first bytes, never from its name or the type the browser
//! claims. Five kinds are taken (PNG, JPEG, GIF, WebP, PDF): a table of five signatures is
//! clearer here than a general type-sniffing crate, and anything it does not know is refused.

use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bot_core::media::MediaStore;
use bot_core::model::Attachment;
use bot_core::store::MediaCopy;

use super::actions::{post_message, Ask, ClientAddress, SayForm};
use super::RoomHub;
use crate::WebState;

/// The largest body the upload route reads at all, whatever the configured limit (which is
/// checked first against the declared length).
pub const MAX_BODY: usize = 50 * 1024 * 1024 + 64 * 1024;

/// Where uploads go and how large they may be.
#[derive(Clone)]
pub struct Uploads {
    pub media: MediaStore,
    pub max_bytes: u64,
}

/// A file as it arrived.
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Why a file was not taken: the status and the words.
pub struct Refused(pub StatusCode, pub String);

/// What the file's first bytes say it is: its type and the extension it should have.
pub fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else if bytes.starts_with(b"%PDF-") {
        Some(("application/pdf", "pdf"))
    } else {
        None
    }
}

/// A file name safe to show and to hand on: its last path part, without control or bidi
/// characters, at most 100 characters, ending in the extension its bytes call for.
pub fn clean_file_name(given: &str, extension: &str) -> String {
    let last = given.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control() && !bot_core::render::is_bidi_control(*c))
        .take(100)
        .collect();
    name = name.trim().trim_start_matches('.').to_owned();
    let has_extension = name.rsplit_once('.').is_some_and(|(_, ext)| {
        ext.eq_ignore_ascii_case(extension)
            || (extension == "jpg" && ext.eq_ignore_ascii_case("jpeg"))
    });
    if name.is_empty() {
        name = "file".to_owned();
    }
    if !has_extension {
        name.push('.');
        name.push_str(extension);
    }
    name
}

/// Checks `file` and keeps it in the media store: the attachment to send with the message.
pub async fn keep(hub: &RoomHub, file: Upload) -> Result<Attachment, Refused> {
    let Some(uploads) = hub.inner().uploads.clone() else {
        return Err(Refused(
            StatusCode::FORBIDDEN,
            "This room does not take files.".to_owned(),
        ));
    };
    let size = file.bytes.len() as u64;
    if size > uploads.max_bytes {
        return Err(Refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The file is {}; the room takes files of at most {}.",
                megabytes(size),
                megabytes(uploads.max_bytes)
            ),
        ));
    }
    let Some((content_type, extension)) = sniff(&file.bytes) else {
        return Err(Refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The room takes pictures (PNG, JPEG, GIF, WebP) and PDF files only.".to_owned(),
        ));
    };
    let name = clean_file_name(&file.name, extension);
    let media = uploads.media.clone();
    let bytes = file.bytes;
    let stored = tokio::task::spawn_blocking(move || media.put(&bytes)).await;
    let sha256 = match stored {
        Ok(Ok(sha256)) => sha256,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "could not write an upload to the media store");
            return Err(unavailable());
        }
        Err(e) => {
            tracing::error!(error = %e, "the upload's writer stopped");
            return Err(unavailable());
        }
    };
    let url = format!("web-upload:{sha256}");
    let copy = MediaCopy {
        url: url.clone(),
        sha256: Some(sha256),
        content_type: Some(content_type.to_owned()),
        size_bytes: Some(size as i64),
        error: None,
        at: chrono::Utc::now(),
    };
    if let Err(e) = hub.inner().store.record_media_copy(&copy).await {
        tracing::error!(error = %e, "could not record an upload");
        return Err(unavailable());
    }
    Ok(Attachment {
        url,
        name,
        content_type: Some(content_type.to_owned()),
        size_bytes: Some(size as i64),
    })
}

fn unavailable() -> Refused {
    Refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "The file could not be kept just now; nothing was sent. Try again in a moment.".to_owned(),
    )
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

pub async fn upload(
    State(state): State<WebState>,
    Path(room): Path<String>,
    address: ClientAddress,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let ask = Ask::new(&room, &headers, address);
    let limit = state
        .room
        .as_ref()
        .and_then(|hub| hub.inner().uploads.as_ref().map(|u| u.max_bytes));
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match (limit, declared) {
        (None, _) => {
            return ask.refuse(
                StatusCode::FORBIDDEN,
                "This room does not take files.",
                None,
            )
        }
        (Some(limit), Some(length)) if length > limit + 64 * 1024 => {
            return ask.refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "The file is too large: the room takes files of at most {}.",
                    megabytes(limit)
                ),
                None,
            )
        }
        _ => {}
    }
    let mut form = SayForm::default();
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                return ask.refuse(
                    StatusCode::BAD_REQUEST,
                    &format!("the form was not understood ({e})"),
                    Some(&form.body),
                )
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("").to_owned();
            match field.bytes().await {
                Ok(bytes) if bytes.is_empty() => {}
                Ok(bytes) => {
                    file = Some(Upload {
                        name: file_name,
                        bytes: bytes.to_vec(),
                    })
                }
                Err(e) => {
                    return ask.refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!("The file could not be read ({e})."),
                        Some(&form.body),
                    )
                }
            }
            continue;
        }
        let value = match field.text().await {
            Ok(value) => value,
            Err(e) => {
                return ask.refuse(
                    StatusCode::BAD_REQUEST,
                    &format!("the form was not understood ({e})"),
                    Some(&form.body),
                )
            }
        };
        match name.as_str() {
            "body" => form.body = value,
            "nonce" => form.nonce = value,
            "csrf" => form.csrf = value,
            "reply_to" if value.is_empty() => {}
            "reply_to" => match value.parse() {
                Ok(seq) => form.reply_to = Some(seq),
                Err(_) => {
                    return ask.refuse(
                        StatusCode::BAD_REQUEST,
                        "the form was not understood (reply_to)",
                        Some(&form.body),
                    )
                }
            },
            _ => {}
        }
    }
    if file.is_none() {
        return ask.refuse(
            StatusCode::BAD_REQUEST,
            "Choose a file to send.",
            Some(&form.body),
        );
    }
    post_message(&state, &ask, &headers, form, file).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_what_its_bytes_say() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(("image/png", "png")));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Some(("image/jpeg", "jpg")));
        assert_eq!(sniff(b"GIF89a..."), Some(("image/gif", "gif")));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(("image/webp", "webp")));
        assert_eq!(sniff(b"%PDF-1.7"), Some(("application/pdf", "pdf")));
        assert_eq!(sniff(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn file_names_are_tamed_and_match_their_kind() {
        assert_eq!(clean_file_name("../../etc/passwd", "png"), "passwd.png");
        assert_eq!(clean_file_name("C:\\pics\\cat.PNG", "png"), "cat.PNG");
        assert_eq!(clean_file_name("photo.jpeg", "jpg"), "photo.jpeg");
        assert_eq!(clean_file_name("evil.html", "png"), "evil.html.png");
        assert_eq!(clean_file_name("a\u{202e}gnp.exe", "png"), "agnp.exe.png");
        assert_eq!(clean_file_name("", "pdf"), "file.pdf");
        assert_eq!(clean_file_name(".hidden", "gif"), "hidden.gif");
        assert!(clean_file_name(&"x".repeat(300), "png").chars().count() <= 104);
    }
}
