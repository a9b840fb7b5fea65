//! Rooms named by alias in chat files (`matrix:#books:example.org`): resolved to room ids to
//! post there, and mapped back so events from that room reach the engine under the name the
//! chat file uses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use matrix_sdk::ruma::{OwnedRoomId, RoomAliasId, RoomId};
use matrix_sdk::Client;

use bot_core::adapter::AdapterError;

use crate::outbound::classify_http;

#[derive(Clone, Default)]
pub struct Aliases(Arc<Mutex<HashMap<String, OwnedRoomId>>>);

impl Aliases {
    fn cached(&self, alias: &str) -> Option<OwnedRoomId> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(alias)
            .cloned()
    }

    /// The room id behind `alias`, asking the homeserver the first time.
    pub async fn resolve(&self, client: &Client, alias: &str) -> Result<OwnedRoomId, AdapterError> {
        if let Some(id) = self.cached(alias) {
            return Ok(id);
        }
        let parsed = <&RoomAliasId>::try_from(alias)
            .map_err(|e| AdapterError::Permanent(format!("`{alias}`: {e}")))?;
        let resolved = client
            .resolve_room_alias(parsed)
            .await
            .map_err(|e| classify_http(&e, &format!("resolving {alias}")))?
            .room_id;
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(alias.to_owned(), resolved.clone());
        Ok(resolved)
    }

    /// Resolves every alias not yet known; those that fail are tried again next time.
    pub async fn resolve_all<'a>(
        &self,
        client: &Client,
        aliases: impl IntoIterator<Item = &'a str>,
    ) {
        for alias in aliases {
            if self.cached(alias).is_none() {
                if let Err(e) = self.resolve(client, alias).await {
                    tracing::warn!(%alias, error = %e, "could not resolve a room alias yet");
                }
            }
        }
    }

    /// Whether every one of `aliases` is resolved.
    pub fn all_known(&self, aliases: &[String]) -> bool {
        aliases.iter().all(|a| self.cached(a).is_some())
    }

    /// How the chat files name `room`: its alias when one maps to it, else its id.
    pub fn name_of(&self, room: &RoomId) -> String {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(_, id)| id.as_str() == room.as_str())
            .map_or_else(|| room.to_string(), |(alias, _)| alias.clone())
    }
}
