//! Carrying out the engine's posts and replies in Discord channels.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use serenity::http::{LightMethod, Route};
use serenity::model::id::ChannelId;

use bot_core::adapter::{Adapter, AdapterError, Post, Reply};
use bot_core::ids::Platform;

use crate::format::{mentioned_users, message_bodies, post_text};
use crate::interactions::Interactions;
use crate::rest::Rest;
use crate::state::Known;

/// The engine's [`Adapter`] for Discord.
pub struct DiscordAdapter {
    pub(crate) rest: Rest,
    pub(crate) known: Arc<Known>,
    pub(crate) interactions: Interactions,
}

fn channel(id: &str) -> Result<ChannelId, AdapterError> {
    id.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(ChannelId::new)
        .ok_or_else(|| AdapterError::Permanent(format!("`{id}` is not a Discord channel id")))
}

impl DiscordAdapter {
    /// Sends `bodies` in order; the first message's id.
    async fn send(&self, channel: ChannelId, bodies: &[Value]) -> Result<String, AdapterError> {
        let mut first = None;
        for body in bodies {
            let started = std::time::Instant::now();
            let sent = self
                .rest
                .call(
                    LightMethod::Post,
                    Route::ChannelMessages {
                        channel_id: channel,
                    },
                    Some(body),
                    None,
                    "posting a message",
                )
                .await?;
            tracing::debug!(%channel, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "sent");
            let id = sent.get("id").and_then(Value::as_str).ok_or_else(|| {
                AdapterError::Temporary("Discord's answer had no message id".into())
            })?;
            first.get_or_insert_with(|| id.to_owned());
        }
        first.ok_or_else(|| AdapterError::Permanent("nothing to send".into()))
    }
}

#[async_trait]
impl Adapter for DiscordAdapter {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn post(&self, post: &Post) -> Result<String, AdapterError> {
        let channel = channel(&post.room.id)?;
        let users = mentioned_users(&post.content.mentions);
        let bodies = message_bodies(
            &post_text(&post.content),
            &post.idempotency_key,
            &users,
            None,
        );
        self.send(channel, &bodies).await
    }

    async fn reply(&self, reply: &Reply) -> Result<(), AdapterError> {
        let interaction = reply
            .in_reply_to
            .as_deref()
            .and_then(|id| id.parse::<u64>().ok())
            .filter(|id| self.interactions.knows(*id));
        if let Some(id) = interaction {
            return self
                .interactions
                .answer(
                    &self.rest,
                    self.known.application(),
                    id,
                    &reply.text,
                    reply.private,
                )
                .await;
        }
        // A text command: answer it as a reply to the command (Discord has no private
        // messages in a channel, so refusals are replies too).
        let channel = channel(&reply.room.id)?;
        let key = match &reply.in_reply_to {
            Some(message) => format!("hc-reply-{message}"),
            None => format!(
                "hc-reply-{}-{}",
                reply.to,
                chrono::Utc::now().timestamp_micros()
            ),
        };
        let bodies = message_bodies(&reply.text, &key, &[], reply.in_reply_to.as_deref());
        self.send(channel, &bodies).await.map(|_| ())
    }

    fn command_prefix(&self) -> Option<String> {
        Some("/chat".to_owned())
    }
}
