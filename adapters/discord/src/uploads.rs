//! A relayed message's attachments on Discord: uploaded with the copy's first message, so they
//! go with it when it is deleted, within what Discord takes in one message; files it would
//! refuse are named in the copy's text instead, so none is dropped without a word.
//!
//! A plain copy goes through serenity's `CreateMessage` builder rather than a raw request:
//! Discord matches each `files[n]` part to its `attachments` entry by number, and serenity
//! numbers both together only inside its builders. A copy through a webhook is sent by our own
//! client (its URL holds the webhook's token, which serenity would log), so [`webhook_form`]
//! numbers them itself.

use std::sync::Arc;

use serde_json::{json, Value};
use serenity::builder::{CreateAllowedMentions, CreateAttachment, CreateMessage};
use serenity::model::channel::{MessageReference, Nonce};
use serenity::model::id::{ChannelId, MessageId};

use bot_core::adapter::RelayFile;

use crate::format::escape_markdown;
use crate::rest::{sort_failure, Rest, RestError};

/// Discord takes at most this many files in one message.
pub const MAX_FILES: usize = 10;
/// What one message may upload to a guild without boosts (Discord's 10 MiB).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// A file to upload with a copy.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub content_type: Option<String>,
    pub bytes: Arc<Vec<u8>>,
}

/// The files a copy uploads and the names of those it only mentions.
#[derive(Debug, Default)]
pub struct Chosen {
    pub uploads: Vec<Upload>,
    pub left_out: Vec<String>,
}

impl Chosen {
    /// `words` with a line naming each file left out.
    pub fn with_left_out(&self, mut words: String) -> String {
        for name in &self.left_out {
            words.push_str(&format!("\n📎 {}", escape_markdown(name)));
        }
        words
    }
}

/// Takes the files in order while they fit in one message; a file without a local copy, or
/// one that would go over the limits, is left out.
pub fn choose(files: &[RelayFile]) -> Chosen {
    let mut chosen = Chosen::default();
    let mut total = 0usize;
    for file in files {
        match &file.bytes {
            Some(bytes)
                if chosen.uploads.len() < MAX_FILES && total + bytes.len() <= MAX_UPLOAD_BYTES =>
            {
                total += bytes.len();
                chosen.uploads.push(Upload {
                    name: upload_name(&file.name),
                    content_type: file.content_type.clone(),
                    bytes: bytes.clone(),
                });
            }
            _ => chosen.left_out.push(file.name.clone()),
        }
    }
    chosen
}

/// A file name Discord accepts: no path, no control characters, not empty.
fn upload_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base.chars().filter(|c| !c.is_control()).take(100).collect();
    if clean.trim().is_empty() {
        "file".to_owned()
    } else {
        clean
    }
}

/// Sends `body` (one of [`crate::format::message_bodies`]) to `channel` with `files`; the new
/// message's id.
pub async fn send_with_files(
    rest: &Rest,
    channel: ChannelId,
    body: &Value,
    files: &[Upload],
) -> Result<u64, RestError> {
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let mut message = CreateMessage::new()
        .content(text("content").unwrap_or(""))
        .allowed_mentions(CreateAllowedMentions::new().replied_user(false))
        .add_files(
            files
                .iter()
                .map(|f| CreateAttachment::bytes(f.bytes.as_slice(), f.name.clone())),
        );
    if let Some(nonce) = text("nonce") {
        message = message
            .nonce(Nonce::String(nonce.to_owned()))
            .enforce_nonce(true);
    }
    let parent = body
        .pointer("/message_reference/message_id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<u64>().ok())
        .filter(|id| *id != 0);
    if let Some(parent) = parent {
        let mut reference = MessageReference::from((channel, MessageId::new(parent)));
        reference.fail_if_not_exists = Some(false);
        message = message.reference_message(reference);
    }
    let sent = channel
        .send_message(rest.http(), message)
        .await
        .map_err(|e| sort_failure(e, "posting a message with files"))?;
    Ok(sent.id.get())
}

/// A webhook execution carrying `files`: `body` as `payload_json`, with an `attachments` entry
/// numbered as each `files[n]` part.
pub fn webhook_form(body: &Value, files: &[Upload]) -> reqwest_serenity::multipart::Form {
    let mut payload = body.clone();
    payload["attachments"] = Value::Array(
        files
            .iter()
            .enumerate()
            .map(|(i, f)| json!({ "id": i, "filename": f.name }))
            .collect(),
    );
    let mut form =
        reqwest_serenity::multipart::Form::new().text("payload_json", payload.to_string());
    for (i, f) in files.iter().enumerate() {
        let part =
            || reqwest_serenity::multipart::Part::bytes(f.bytes.to_vec()).file_name(f.name.clone());
        // A type the platform sent that does not parse is left off; the file still goes.
        let part = match f.content_type.as_deref() {
            Some(mime) => part().mime_str(mime).unwrap_or_else(|_| part()),
            None => part(),
        };
        form = form.part(format!("files[{i}]"), part);
    }
    form
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn file(name: &str, size: Option<usize>) -> RelayFile {
        RelayFile {
            name: name.to_owned(),
            content_type: None,
            bytes: size.map(|n| Arc::new(vec![0; n])),
        }
    }

    #[test]
    fn files_are_uploaded_while_they_fit_and_the_rest_are_named() {
        let chosen = choose(&[
            file("a.png", Some(10)),
            file("huge.mov", Some(MAX_UPLOAD_BYTES)),
            file("gone.png", None),
            file("b.png", Some(10)),
        ]);
        let names: Vec<&str> = chosen.uploads.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a.png", "b.png"]);
        assert_eq!(chosen.left_out, ["huge.mov", "gone.png"]);
        let many: Vec<RelayFile> = (0..12)
            .map(|i| file(&format!("{i}.png"), Some(1)))
            .collect();
        let chosen = choose(&many);
        assert_eq!(chosen.uploads.len(), MAX_FILES);
        assert_eq!(chosen.left_out, ["10.png", "11.png"]);
    }

    #[test]
    fn upload_names_lose_paths_and_control_characters() {
        assert_eq!(upload_name("../../etc/passwd"), "passwd");
        assert_eq!(upload_name("C:\\x\\photo.png"), "photo.png");
        assert_eq!(upload_name("a\u{202e}\nb.png"), "a\u{202e}b.png");
        assert_eq!(upload_name(""), "file");
        assert_eq!(upload_name("dir/"), "file");
    }
}
