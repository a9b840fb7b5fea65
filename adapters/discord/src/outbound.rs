//! Carrying out the engine's posts and replies in Discord channels (and a session's thread,
//! for chats that ask for one: see [`crate::threads`]).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use serenity::http::{LightMethod, Route};
use serenity::model::id::{ChannelId, MessageId};

use bot_core::adapter::{Adapter, AdapterError, Post, PostSession, RelayPost, RelayedCopy, Reply};
use bot_core::ids::Platform;
use bot_core::model::PostKind;

use crate::format::{
    allowed_mentions, escape_markdown, mentioned_users, message_bodies, post_text, relay_text,
    split, MAX_CONTENT,
};
use crate::interactions::Interactions;
use crate::rest::Rest;
use crate::state::Known;
use crate::threads::{ChatOptions, Place, Threads};

/// The engine's [`Adapter`] for Discord.
pub struct DiscordAdapter {
    pub(crate) rest: Rest,
    pub(crate) known: Arc<Known>,
    pub(crate) interactions: Interactions,
    pub(crate) threads: Arc<Threads>,
}

fn channel(id: &str) -> Result<ChannelId, AdapterError> {
    id.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(ChannelId::new)
        .ok_or_else(|| AdapterError::Permanent(format!("`{id}` is not a Discord channel id")))
}

fn message(id: &str) -> Result<MessageId, AdapterError> {
    id.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(MessageId::new)
        .ok_or_else(|| AdapterError::Permanent(format!("`{id}` is not a Discord message id")))
}

impl DiscordAdapter {
    /// Where a session's conversation goes in `room`: its thread while that is open (for a
    /// chat that runs sessions in threads), else the channel.
    async fn session_channel(
        &self,
        room: &str,
        options: Option<&Value>,
        session: &PostSession,
    ) -> Result<ChannelId, AdapterError> {
        let channel = channel(room)?;
        if ChatOptions::from_options(options).thread_per_session {
            if let Some(Place::Thread { thread }) =
                self.threads.place(channel.get(), &session.uid).await?
            {
                return Ok(ChannelId::new(thread));
            }
        }
        Ok(channel)
    }

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

impl DiscordAdapter {
    /// A step of a session that runs in a thread of its own: the reminder in the channel, the
    /// intro in the channel with the thread started from it, the rest in the thread, which the
    /// wrap-up closes. What a retry must find again is in the store before this returns.
    async fn post_with_thread(
        &self,
        channel: ChannelId,
        post: &Post,
        bodies: &[Value],
    ) -> Result<String, AdapterError> {
        let uid = &post.session.uid;
        let parent = channel.get();
        match post.content.kind {
            PostKind::Reminder => self.send(channel, bodies).await,
            PostKind::Intro => {
                let intro = match self.threads.place(parent, uid).await? {
                    // Sent before, and its thread started: the thread has the intro's id.
                    Some(Place::Thread { thread } | Place::Closed { thread, .. }) => {
                        return Ok(thread.to_string())
                    }
                    // Sent before, the thread refused: the nonce finds the intro again.
                    Some(Place::Channel) => return self.send(channel, bodies).await,
                    // Sent before, the thread not yet started.
                    Some(Place::Intro { intro }) => intro,
                    None => {
                        let sent = self.send(channel, bodies).await?;
                        let intro = sent.parse::<u64>().map_err(|_| {
                            AdapterError::Temporary(format!("`{sent}` is not a message id"))
                        })?;
                        self.threads
                            .set_place(parent, uid, Place::Intro { intro })
                            .await?;
                        intro
                    }
                };
                self.threads
                    .open(&self.rest, &self.known, parent, intro, &post.session)
                    .await?;
                Ok(intro.to_string())
            }
            PostKind::Point { .. } => match self.threads.place(parent, uid).await? {
                Some(Place::Thread { thread }) => self.send(ChannelId::new(thread), bodies).await,
                // No thread (it could not be made, or the intro went out before the chat asked
                // for one), or the session was already wrapped up: the channel.
                _ => self.send(channel, bodies).await,
            },
            PostKind::WrapUp => match self.threads.place(parent, uid).await? {
                Some(Place::Thread { thread }) => {
                    let wrap_up = self.send(ChannelId::new(thread), bodies).await?;
                    let id = wrap_up.parse::<u64>().map_err(|_| {
                        AdapterError::Temporary(format!("`{wrap_up}` is not a message id"))
                    })?;
                    self.threads
                        .close(&self.rest, parent, uid, thread, id)
                        .await?;
                    Ok(wrap_up)
                }
                // Sent before; the thread may not have been closed yet.
                Some(Place::Closed { thread, wrap_up }) => {
                    self.threads
                        .close(&self.rest, parent, uid, thread, wrap_up)
                        .await?;
                    Ok(wrap_up.to_string())
                }
                Some(Place::Channel | Place::Intro { .. }) | None => {
                    self.send(channel, bodies).await
                }
            },
        }
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
        if !ChatOptions::of(post).thread_per_session {
            return self.send(channel, &bodies).await;
        }
        self.post_with_thread(channel, post, &bodies).await
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
        let thread = reply
            .in_reply_to
            .as_deref()
            .and_then(|id| id.parse::<u64>().ok())
            .and_then(|id| self.known.take_command_thread(id));
        let channel = match thread {
            Some(thread) => ChannelId::new(thread),
            None => channel(&reply.room.id)?,
        };
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

    async fn relay(&self, relay: &RelayPost) -> Result<String, AdapterError> {
        let target = self
            .session_channel(&relay.room.id, relay.options.as_ref(), &relay.session)
            .await?;
        let chosen = crate::uploads::choose(&relay.files);
        let mut text = relay_text(&relay.content);
        for name in &chosen.left_out {
            text.push_str(&format!("\n📎 {}", escape_markdown(name)));
        }
        let bodies = message_bodies(
            &text,
            &relay.idempotency_key,
            &[],
            relay.in_reply_to.as_deref(),
        );
        if chosen.uploads.is_empty() {
            return self.send(target, &bodies).await;
        }
        // The files go with the first message: the copy the store keeps, deleted with it.
        let (first, rest) = bodies
            .split_first()
            .expect("message_bodies gives one at least");
        let copy =
            crate::uploads::send_with_files(&self.rest, target, first, chosen.uploads).await?;
        if !rest.is_empty() {
            self.send(target, rest).await?;
        }
        Ok(copy)
    }

    async fn edit_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        let target = self
            .session_channel(&copy.room.id, copy.options.as_ref(), &copy.session)
            .await?;
        // A copy long enough to have been split is edited in its first message only.
        let text = split(&relay_text(&copy.content), MAX_CONTENT)
            .into_iter()
            .next()
            .unwrap_or_default();
        let body = json!({ "content": text, "allowed_mentions": allowed_mentions(&[], false) });
        let route = Route::ChannelMessage {
            channel_id: target,
            message_id: message(&copy.copy_msg_id)?,
        };
        self.rest
            .call(
                LightMethod::Patch,
                route,
                Some(&body),
                None,
                "editing a relayed copy",
            )
            .await?;
        Ok(())
    }

    async fn delete_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        let target = self
            .session_channel(&copy.room.id, copy.options.as_ref(), &copy.session)
            .await?;
        let route = Route::ChannelMessage {
            channel_id: target,
            message_id: message(&copy.copy_msg_id)?,
        };
        match self
            .rest
            .call(
                LightMethod::Delete,
                route,
                None,
                None,
                "deleting a relayed copy",
            )
            .await
        {
            Err(e) if e.status() == Some(404) => Ok(()),
            done => done.map(|_| ()).map_err(Into::into),
        }
    }

    fn command_prefix(&self) -> Option<String> {
        Some("/chat".to_owned())
    }
}
