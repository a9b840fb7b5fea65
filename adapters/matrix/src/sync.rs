//! The bot's ear: long-polls the homeserver, hands each room event to the engine in order,
//! and saves how far it has read in the archive only once everything before is archived.
//!
//! After a restart the saved position is where reading resumes, so nothing is read twice
//! (what is, because the bot died between archiving and saving, is harmless: archiving is
//! idempotent and a command acts once) and nothing sent meanwhile is skipped: a timeline the
//! homeserver cut short is filled in from `/messages` back to the saved position.

use std::future::Future;
use std::time::Duration;

use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::filter::{FilterDefinition, LazyLoadOptions};
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::events::room::power_levels::UserPowerLevel;
use matrix_sdk::ruma::presence::PresenceState;
use matrix_sdk::ruma::{UInt, UserId};
use matrix_sdk::sync::SyncResponse;
use matrix_sdk::{Client, Room};
use serde_json::Value;

use crate::links::matrix_to;
use bot_core::adapter::{CommandInvocation, Inbound, MessageDeleted, MessageEdited, Reaction};
use bot_core::engine::Engine;
use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::model::IncomingMessage;

use crate::aliases::Aliases;
use crate::events::{parse_event, MessageKind, Parsed};
use crate::room_state::RoomStateLoaded;
use crate::{invites, MatrixError, RoomSettings};

/// Events per room per sync; more than this since the last read is fetched page by page.
const TIMELINE_LIMIT: u32 = 100;
/// How many `/messages` pages to read back to fill a gap before giving up on older events.
const MAX_BACKFILL_PAGES: usize = 100;
const LONG_POLL: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const ALIAS_RETRY: Duration = Duration::from_secs(60);

pub(crate) struct Listener {
    pub client: Client,
    pub engine: Engine,
    pub settings: RoomSettings,
    pub aliases: Aliases,
    pub room_state: RoomStateLoaded,
}

impl Listener {
    fn account(&self) -> String {
        self.client
            .user_id()
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Reads events until `shutdown` completes. Only a store that stays unreadable ends it
    /// early; a homeserver that goes away is waited for.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), MatrixError> {
        tokio::pin!(shutdown);
        let account = self.account();
        let store = self.engine.store().clone();
        let mut since = store
            .sync_cursor(Platform::Matrix, &account)
            .await
            .map_err(|e| MatrixError::Store(e.to_string()))?;
        let mut backoff = Duration::from_secs(1);
        let mut online = true;
        let mut alias_check = None;
        let health = self.engine.health().clone();
        health.expect(Platform::Matrix);
        loop {
            let mut settings = SyncSettings::default()
                .filter(sync_filter())
                // A bot has no presence to show; offline spares the homeserver tracking it.
                .set_presence(PresenceState::Offline)
                .timeout(if since.is_some() {
                    LONG_POLL
                } else {
                    Duration::ZERO
                });
            if let Some(token) = &since {
                settings = settings.token(token.clone());
            }
            // Room state lives in memory: the first sync of a run asks for all of it.
            if !self.room_state.is_loaded() {
                settings = settings.full_state(true);
            }
            let polled = std::time::Instant::now();
            let response = tokio::select! {
                _ = &mut shutdown => break,
                r = self.client.sync_once(settings) => r,
            };
            tracing::debug!(
                elapsed_ms = polled.elapsed().as_secs_f64() * 1000.0,
                "sync returned"
            );
            let response = match response {
                Ok(response) => response,
                Err(e) => {
                    health.down(Platform::Matrix);
                    if online {
                        tracing::warn!(error = %e, "lost the Matrix homeserver; retrying");
                        online = false;
                    } else {
                        tracing::debug!(error = %e, ?backoff, "Matrix homeserver still away");
                    }
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            health.heard(Platform::Matrix);
            // An alias that does not resolve (a typo, a deleted alias) is asked about once a
            // minute, not on every sync.
            if alias_check.is_none_or(|at: std::time::Instant| at.elapsed() >= ALIAS_RETRY) {
                let aliases = self.chat_aliases();
                self.aliases
                    .resolve_all(&self.client, aliases.iter().map(String::as_str))
                    .await;
                alias_check = (!self.aliases.all_known(&aliases)).then(std::time::Instant::now);
            }
            if !online {
                tracing::info!("reconnected to the Matrix homeserver");
                online = true;
                // Posts that waited for the homeserver go out now, not at the next retry.
                self.engine.wake();
            }
            backoff = Duration::from_secs(1);
            if !self.room_state.is_loaded() {
                self.room_state.mark();
                // Posts that waited for the rooms to be known go out now.
                self.engine.wake();
            }
            match self.handle(&response, since.as_deref()).await {
                Ok(()) => {
                    if let Err(e) = store
                        .set_sync_cursor(Platform::Matrix, &account, &response.next_batch)
                        .await
                    {
                        // Reading again from the old position is safe; skipping is not.
                        tracing::error!(error = %e, "could not save the Matrix sync position");
                        continue;
                    }
                    since = Some(response.next_batch.clone());
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not archive a Matrix sync; reading it again");
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        tracing::info!("Matrix listener stopped");
        Ok(())
    }

    /// The Matrix rooms chat files name by alias.
    fn chat_aliases(&self) -> Vec<String> {
        self.engine
            .chats()
            .iter()
            .flat_map(|c| c.rooms.iter())
            .filter(|r| r.platform == Platform::Matrix && r.id.starts_with('#'))
            .map(|r| r.id.clone())
            .collect()
    }

    async fn handle(
        &self,
        response: &SyncResponse,
        since: Option<&str>,
    ) -> Result<(), MatrixError> {
        for room_id in response.rooms.invited.keys() {
            let name = self.aliases.name_of(room_id);
            invites::consider(&self.client, &self.engine, &self.settings, room_id, &name).await;
        }
        for room_id in response.rooms.left.keys() {
            tracing::warn!(room = %room_id, "no longer in a Matrix room (left, kicked or banned); posts there will fail");
        }
        // The first read ever brings history from before the bot was here: not ours to archive.
        let Some(since) = since else {
            tracing::info!(
                rooms = response.rooms.joined.len(),
                "first Matrix sync; reading from now on"
            );
            return Ok(());
        };
        for (room_id, update) in &response.rooms.joined {
            let Some(room) = self.client.get_room(room_id) else {
                continue;
            };
            if update.timeline.limited {
                if let Some(prev) = &update.timeline.prev_batch {
                    let missed = self.backfill(&room, prev, since).await?;
                    if !missed.is_empty() {
                        tracing::info!(room = %room_id, events = missed.len(), "read events sent while away");
                    }
                    for event in &missed {
                        self.handle_event(&room, event).await?;
                    }
                }
            }
            for event in &update.timeline.events {
                self.handle_event(&room, event).await?;
            }
        }
        Ok(())
    }

    /// The events between the saved position and a cut-short timeline, oldest first.
    async fn backfill(
        &self,
        room: &Room,
        from: &str,
        to: &str,
    ) -> Result<Vec<TimelineEvent>, MatrixError> {
        let mut collected = Vec::new();
        let mut from = Some(from.to_owned());
        for _ in 0..MAX_BACKFILL_PAGES {
            let mut options = MessagesOptions::backward().from(from.as_deref());
            options.to = Some(to.to_owned());
            options.limit = UInt::from(TIMELINE_LIMIT);
            let page = room.messages(options).await.map_err(|e| {
                MatrixError::Connect(format!("reading missed events in {}: {e}", room.room_id()))
            })?;
            let empty = page.chunk.is_empty();
            collected.extend(page.chunk);
            match page.end {
                Some(end) if !empty => from = Some(end),
                _ => {
                    collected.reverse();
                    return Ok(collected);
                }
            }
        }
        tracing::warn!(room = %room.room_id(), "too many missed events; the oldest are not archived");
        collected.reverse();
        Ok(collected)
    }

    async fn handle_event(&self, room: &Room, event: &TimelineEvent) -> Result<(), MatrixError> {
        let raw: Value = match event.raw().deserialize_as::<Value>() {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(room = %room.room_id(), error = %e, "unreadable Matrix event skipped");
                return Ok(());
            }
        };
        if raw.get("type").and_then(Value::as_str) == Some("m.room.encrypted") {
            tracing::warn!(room = %room.room_id(), event = ?raw.get("event_id"), "an encrypted event could not be decrypted; not archived");
            return Ok(());
        }
        let (envelope, parsed) = match parse_event(&raw, &self.settings.command_prefix) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(room = %room.room_id(), error = %e, "malformed Matrix event skipped");
                return Ok(());
            }
        };
        if self
            .client
            .user_id()
            .is_some_and(|me| me.as_str() == envelope.sender)
        {
            return Ok(());
        }
        let room_ref = RoomRef::new(Platform::Matrix, self.aliases.name_of(room.room_id()));
        let at = self.engine.platform_time(envelope.sent_at);
        let inbound = match parsed {
            Parsed::Ignored => return Ok(()),
            Parsed::Reaction { target, key } => Inbound::Reacted(Reaction {
                platform: Platform::Matrix,
                platform_reaction_id: envelope.event_id.clone(),
                target_msg_id: target,
                room: room_ref.id.clone(),
                author_id: envelope.sender.clone(),
                author_name: self.member(room, &envelope.sender).await.0,
                platform_label: Some("Matrix".to_owned()),
                key,
                at,
            }),
            Parsed::Redaction { target } => Inbound::Deleted(MessageDeleted {
                platform: Platform::Matrix,
                platform_msg_id: target,
                deleted_at: at,
            }),
            Parsed::Edit {
                target,
                body,
                formatted_body,
            } => Inbound::Edited(MessageEdited {
                platform: Platform::Matrix,
                platform_msg_id: target,
                editor_id: Some(envelope.sender.clone()),
                body,
                formatted_body,
                edited_at: at,
            }),
            Parsed::Command { text, reply_to } => {
                let (display_name, _) = self.member(room, &envelope.sender).await;
                Inbound::Command(CommandInvocation {
                    room: room_ref,
                    user: UserRef::new(Platform::Matrix, envelope.sender.clone()),
                    display_name,
                    platform_moderator: self.is_moderator(room, &envelope.sender).await,
                    text,
                    platform_msg_id: Some(envelope.event_id.clone()),
                    reply_to,
                })
            }
            Parsed::Message(parts) => {
                let (display_name, avatar_url) = self.member(room, &envelope.sender).await;
                if let Some(file) = &parts.encrypted_file {
                    // Kept before the message is archived (which starts the copy), so the
                    // copy can decrypt, now or after a restart.
                    for a in &parts.attachments {
                        self.engine
                            .store()
                            .remember_media_source(&a.url, &file.to_string())
                            .await
                            .map_err(|e| MatrixError::Store(e.to_string()))?;
                    }
                }
                let body = if parts.kind == MessageKind::Emote {
                    format!("* {display_name} {}", parts.body)
                } else {
                    parts.body
                };
                let permalink = matrix_to(&[&room_ref.id, &envelope.event_id]);
                Inbound::Message(IncomingMessage {
                    platform: Platform::Matrix,
                    room: room_ref.id,
                    platform_msg_id: envelope.event_id.clone(),
                    author_id: envelope.sender.clone(),
                    author_name: display_name,
                    avatar_url,
                    body,
                    formatted_body: parts.formatted_body,
                    sent_at: at,
                    reply_to: parts.reply_to,
                    attachments: parts.attachments,
                    platform_label: Some("Matrix".to_owned()),
                    permalink: Some(permalink),
                })
            }
        };
        let started = std::time::Instant::now();
        let handled = self
            .engine
            .handle(inbound)
            .await
            .map_err(|e| MatrixError::Store(e.to_string()));
        tracing::debug!(event = %envelope.event_id, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "handled");
        handled
    }

    /// The sender's name in this room and their avatar, falling back to the user id.
    async fn member(&self, room: &Room, sender: &str) -> (String, Option<String>) {
        let Ok(user) = <&UserId>::try_from(sender) else {
            return (sender.to_owned(), None);
        };
        match room.get_member_no_sync(user).await {
            Ok(Some(member)) => (
                member.display_name().unwrap_or(sender).to_owned(),
                member.avatar_url().map(|u| u.to_string()),
            ),
            _ => (sender.to_owned(), None),
        }
    }

    /// A moderator by the room's own rules: a power level at or above the configured one, or,
    /// from room version 12, one of the room's creators (who have no number: they outrank all).
    async fn is_moderator(&self, room: &Room, sender: &str) -> bool {
        let Ok(user) = <&UserId>::try_from(sender) else {
            return false;
        };
        match room.get_user_power_level(user).await {
            Ok(UserPowerLevel::Infinite) => true,
            Ok(UserPowerLevel::Int(level)) => {
                i64::from(level) >= i64::from(self.settings.moderator_power_level)
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(room = %room.room_id(), error = %e, "could not read power levels; treating the sender as not a moderator");
                false
            }
        }
    }
}

fn sync_filter() -> Filter {
    let mut filter = FilterDefinition::default();
    filter.room.timeline.limit = Some(UInt::from(TIMELINE_LIMIT));
    // Members arrive with the events they sent: a bot in big rooms need not hold every member.
    filter.room.state.lazy_load_options = LazyLoadOptions::Enabled {
        include_redundant_members: false,
    };
    // Presence, typing and read receipts mean nothing to the archive; left out, they neither
    // wake the bot nor cost it a sync's processing.
    filter.presence.not_types = vec!["*".to_owned()];
    filter.room.ephemeral.not_types = vec!["*".to_owned()];
    Filter::FilterDefinition(filter)
}
