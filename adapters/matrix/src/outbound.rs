//! Carrying out the engine's posts and replies in Matrix rooms.

use async_trait::async_trait;
use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::ruma::events::Mentions;
use matrix_sdk::ruma::{EventId, OwnedRoomId, OwnedTransactionId, RoomId};
use matrix_sdk::{Client, Room};
use serde_json::Value;

use bot_core::adapter::{Adapter, AdapterError, Post, RelayPost, RelayedCopy, Reply};
use bot_core::ids::Platform;
use bot_core::store::Store;

use crate::aliases::Aliases;
use crate::format::{
    name_left_out_files, post_content, relay_content, relay_edit_content, reply_content,
};

use crate::room_state::RoomStateLoaded;

/// The upload limit assumed when the homeserver will not say (Synapse's default).
const DEFAULT_MAX_UPLOAD: u64 = 50 * 1024 * 1024;

/// The engine's [`Adapter`] for Matrix.
pub struct MatrixAdapter {
    client: Client,
    aliases: Aliases,
    room_state: RoomStateLoaded,
    command_prefix: String,
    /// Where the file events of each copy are kept (the core keeps only the text's id), so
    /// they go when the copy does.
    store: Store,
}

impl MatrixAdapter {
    pub(crate) fn new(
        client: Client,
        aliases: Aliases,
        room_state: RoomStateLoaded,
        command_prefix: String,
        store: Store,
    ) -> MatrixAdapter {
        MatrixAdapter {
            command_prefix,
            client,
            aliases,
            room_state,
            store,
        }
    }

    /// Keeps the file events sent with the copy `copy` (replacing any record of an earlier
    /// attempt, whose events the transaction ids made the same).
    async fn remember_files(&self, copy: &str, files: &[String]) -> Result<(), AdapterError> {
        self.store
            .set_sync_cursor(
                Platform::Matrix,
                &files_account(copy),
                &serde_json::to_string(files).expect("a list of strings is JSON"),
            )
            .await
            .map_err(|e| AdapterError::Temporary(format!("recording a copy's files: {e}")))
    }

    /// The file events sent with the copy `copy`; none when there is no (readable) record.
    async fn files_of(&self, copy: &str) -> Result<Vec<String>, AdapterError> {
        let record = self
            .store
            .sync_cursor(Platform::Matrix, &files_account(copy))
            .await
            .map_err(|e| AdapterError::Temporary(format!("reading a copy's files: {e}")))?;
        Ok(record
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or_default())
    }

    /// Redacts `event` (sent by the bot) with the transaction id `txn`; one already gone is
    /// not an error.
    async fn redact(&self, room: &Room, event: &str, txn: &str) -> Result<(), AdapterError> {
        let event_id = <&EventId>::try_from(event)
            .map_err(|e| AdapterError::Permanent(format!("`{event}` is not an event id: {e}")))?;
        let txn_id: OwnedTransactionId = transaction_id(txn).into();
        match room
            .redact(event_id, Some("deleted where it was written"), Some(txn_id))
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_client_api_error()
                    .is_some_and(|a| a.status_code.as_u16() == 404) =>
            {
                Ok(())
            }
            Err(e) => Err(classify_http(&e, "deleting a relayed copy")),
        }
    }

    /// The joined room a chat file names, by id or by alias.
    async fn room(&self, id: &str) -> Result<Room, AdapterError> {
        if !self.room_state.is_loaded() {
            // Not a failure of the post: it waits, and the listener wakes the engine once the
            // first sync is in.
            return Err(AdapterError::Unreachable(
                "not yet synced with the Matrix homeserver".to_owned(),
            ));
        }
        let room_id: OwnedRoomId = if id.starts_with('#') {
            self.aliases.resolve(&self.client, id).await?
        } else {
            <&RoomId>::try_from(id)
                .map_err(|e| AdapterError::Permanent(format!("`{id}` is not a room id: {e}")))?
                .to_owned()
        };
        self.client
            .get_room(&room_id)
            .filter(|room| room.state() == matrix_sdk::RoomState::Joined)
            .ok_or_else(|| {
                AdapterError::Permanent(format!(
                    "the bot is not in {id}: invite it there (and check accept_invites_from)"
                ))
            })
    }

    async fn send(&self, room: &Room, content: Value, txn: &str) -> Result<String, AdapterError> {
        let txn_id: OwnedTransactionId = transaction_id(txn).into();
        let started = std::time::Instant::now();
        let sent = room
            .send_raw("m.room.message", content)
            .with_transaction_id(&txn_id)
            .await
            .map_err(|e| classify(&e, "sending"))?;
        tracing::debug!(room = %room.room_id(), elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "sent");
        Ok(sent.response.event_id.to_string())
    }
}

/// Where the file events of the copy `copy` are kept in the store's `sync_cursors`.
fn files_account(copy: &str) -> String {
    format!("copy-files:{copy}")
}

/// Transaction ids travel in a URL path: keep them to characters that need no escaping.
pub fn transaction_id(key: &str) -> String {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{:08x}", fnv(key))
}

/// Keeps two keys that differ only in escaped characters apart.
fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[async_trait]
impl Adapter for MatrixAdapter {
    fn platform(&self) -> Platform {
        Platform::Matrix
    }

    async fn post(&self, post: &Post) -> Result<String, AdapterError> {
        let room = self.room(&post.room.id).await?;
        self.send(&room, post_content(&post.content), &post.idempotency_key)
            .await
    }

    async fn reply(&self, reply: &Reply) -> Result<(), AdapterError> {
        let room = self.room(&reply.room.id).await?;
        let content = reply_content(
            &reply.text,
            &reply.to.id,
            reply.in_reply_to.as_deref(),
            reply.private,
        );
        // A reply to a command is sent once per command, however often it is retried.
        let key = match &reply.in_reply_to {
            Some(event) => format!("hc-reply-{event}"),
            None => format!("hc-reply-{}", uuid::Uuid::new_v4().simple()),
        };
        self.send(&room, content, &key).await.map(|_| ())
    }

    /// The copy's text, then each file it carries as an event of its own (uploaded through
    /// the SDK, so encrypted in an encrypted room), each keyed so a retry shows it once. The
    /// file events are recorded against the text's id, for the copy's deletion.
    async fn relay(&self, relay: &RelayPost) -> Result<String, AdapterError> {
        let room = self.room(&relay.room.id).await?;
        let limit = if relay.files.is_empty() {
            0
        } else {
            self.client
                .load_or_fetch_max_upload_size()
                .await
                .map(u64::from)
                .unwrap_or(DEFAULT_MAX_UPLOAD)
        };
        let (uploads, left_out): (Vec<_>, Vec<_>) = relay
            .files
            .iter()
            .partition(|f| f.bytes.as_ref().is_some_and(|b| b.len() as u64 <= limit));
        let mut content = relay_content(&relay.content, relay.in_reply_to.as_deref());
        let left_out: Vec<String> = left_out.into_iter().map(|f| f.name.clone()).collect();
        name_left_out_files(&mut content, &left_out);
        let copy = self.send(&room, content, &relay.idempotency_key).await?;
        let mut sent = Vec::new();
        for (i, file) in uploads.into_iter().enumerate() {
            let Some(bytes) = &file.bytes else { continue };
            let mime: mime::Mime = file
                .content_type
                .as_deref()
                .and_then(|t| t.parse().ok())
                .unwrap_or(mime::APPLICATION_OCTET_STREAM);
            let txn: OwnedTransactionId =
                transaction_id(&format!("{}-f{i}", relay.idempotency_key)).into();
            let config = AttachmentConfig::new()
                .txn_id(txn)
                .mentions(Some(Mentions::new()));
            let event = room
                .send_attachment(&file.name, &mime, bytes.to_vec(), config)
                .await
                .map_err(|e| classify(&e, "relaying a file"))?;
            sent.push(event.event_id.to_string());
        }
        if !sent.is_empty() {
            self.remember_files(&copy, &sent).await?;
        }
        Ok(copy)
    }

    async fn edit_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        let room = self.room(&copy.room.id).await?;
        let content = relay_edit_content(&copy.content, &copy.copy_msg_id);
        self.send(&room, content, &copy.idempotency_key)
            .await
            .map(|_| ())
    }

    /// Redacts the copy's text and then its files; the record of the files goes last, so a
    /// retry after a failure part way redacts what is left.
    async fn delete_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        let room = self.room(&copy.room.id).await?;
        self.redact(&room, &copy.copy_msg_id, &copy.idempotency_key)
            .await?;
        let files = self.files_of(&copy.copy_msg_id).await?;
        for (i, file) in files.iter().enumerate() {
            self.redact(&room, file, &format!("{}-f{i}", copy.idempotency_key))
                .await?;
        }
        if !files.is_empty() {
            self.store
                .delete_sync_cursor(Platform::Matrix, &files_account(&copy.copy_msg_id))
                .await
                .map_err(|e| AdapterError::Temporary(format!("forgetting a copy's files: {e}")))?;
        }
        Ok(())
    }

    fn command_prefix(&self) -> Option<String> {
        Some(self.command_prefix.clone())
    }

    fn label(&self) -> String {
        "Matrix".to_owned()
    }
}

/// Sorts a failure: the homeserver unreachable, a passing trouble, or a refusal for good.
pub(crate) fn classify(e: &matrix_sdk::Error, doing: &str) -> AdapterError {
    match e {
        matrix_sdk::Error::Http(http) => classify_http(http, doing),
        other => AdapterError::Temporary(format!("{doing}: {other}")),
    }
}

pub(crate) fn classify_http(e: &matrix_sdk::HttpError, doing: &str) -> AdapterError {
    if let Some(api) = e.as_client_api_error() {
        let status = api.status_code.as_u16();
        return if status == 429 || status >= 500 {
            AdapterError::Temporary(format!("{doing}: {e}"))
        } else {
            AdapterError::Permanent(format!("{doing}: {e}"))
        };
    }
    match e {
        matrix_sdk::HttpError::Reqwest(_) => AdapterError::Unreachable(format!("{doing}: {e}")),
        _ => AdapterError::Temporary(format!("{doing}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_are_stable_path_safe_and_distinct() {
        let a = transaction_id("hc-12-3-matrix:!room:example.org");
        assert_eq!(a, transaction_id("hc-12-3-matrix:!room:example.org"));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{a}"
        );
        assert_ne!(a, transaction_id("hc-12-3-matrix_!room_example.org"));
        assert_ne!(a, transaction_id("hc-12-4-matrix:!room:example.org"));
    }
}
