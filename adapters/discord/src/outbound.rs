//! Carrying out the engine's posts and replies in Discord channels (and a session's thread,
//! for chats that ask for one: see [`crate::threads`]), and relayed copies: through the
//! channel's webhook under their author's name where the bot may have one, else as the bot's
//! own messages naming the author (see [`crate::webhooks`]).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use serenity::http::{LightMethod, Route};
use serenity::model::id::{ChannelId, MessageId};

use bot_core::adapter::{Adapter, AdapterError, Post, PostSession, RelayPost, RelayedCopy, Reply};
use bot_core::ids::Platform;
use bot_core::model::PostKind;

use crate::format::{
    allowed_mentions, mentioned_users, message_bodies, nonce, post_text, relay_text, relay_words,
    reply_quote, split, webhook_avatar, webhook_body, webhook_username, MAX_CONTENT,
};
use crate::interactions::Interactions;
use crate::rest::{Rest, RestError};
use crate::state::Known;
use crate::threads::{ChatOptions, Place, Threads};
use crate::webhooks::{is_unknown_webhook, Attempt, CopyRecord, Found, Hook, Webhooks};

/// The engine's [`Adapter`] for Discord.
pub struct DiscordAdapter {
    pub(crate) rest: Rest,
    pub(crate) known: Arc<Known>,
    pub(crate) interactions: Interactions,
    pub(crate) threads: Arc<Threads>,
    pub(crate) webhooks: Arc<Webhooks>,
}

/// How a copy through the webhook went.
enum Through {
    Posted(String),
    /// Discord will not take it through the webhook: a plain message instead.
    Plain,
    /// The webhook is gone (and forgotten) before any of it was posted: make one and try again.
    Gone,
}

/// Discord's error code for a message that is not there (any more).
const UNKNOWN_MESSAGE: i64 = 10008;

fn unknown_message(e: &RestError) -> bool {
    matches!(
        e,
        RestError::Status {
            code: Some(UNKNOWN_MESSAGE),
            ..
        }
    )
}

fn message_id(v: &Value) -> Result<u64, AdapterError> {
    v.get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| AdapterError::Temporary("Discord's answer had no message id".into()))
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
    /// Where a session's conversation goes in `room`: the channel, and its thread while that
    /// is open (for a chat that runs sessions in threads).
    async fn session_place(
        &self,
        room: &str,
        options: Option<&Value>,
        session: &PostSession,
    ) -> Result<(ChannelId, Option<ChannelId>), AdapterError> {
        let channel = channel(room)?;
        if ChatOptions::from_options(options).thread_per_session {
            if let Some(Place::Thread { thread }) =
                self.threads.place(channel.get(), &session.uid).await?
            {
                return Ok((channel, Some(ChannelId::new(thread))));
            }
        }
        Ok((channel, None))
    }

    /// Sends `bodies` in order; the first message's id.
    async fn send(&self, channel: ChannelId, bodies: &[Value]) -> Result<String, AdapterError> {
        let ids = self.send_all(channel, bodies).await?;
        Ok(ids[0].to_string())
    }

    /// Sends `bodies` in order; every message's id.
    async fn send_all(
        &self,
        channel: ChannelId,
        bodies: &[Value],
    ) -> Result<Vec<u64>, AdapterError> {
        let mut ids = Vec::with_capacity(bodies.len());
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
            ids.push(message_id(&sent)?);
        }
        if ids.is_empty() {
            return Err(AdapterError::Permanent("nothing to send".into()));
        }
        Ok(ids)
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
            PostKind::Point { .. } | PostKind::Notice => {
                match self.threads.place(parent, uid).await? {
                    Some(Place::Thread { thread }) => {
                        self.send(ChannelId::new(thread), bodies).await
                    }
                    // No thread (it could not be made, or the intro went out before the chat asked
                    // for one), or the session was already wrapped up: the channel.
                    _ => self.send(channel, bodies).await,
                }
            }
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

    fn sent_at_of(&self, platform_msg_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let id: u64 = platform_msg_id.parse().ok()?;
        chrono::DateTime::from_timestamp_millis(crate::webhooks::snowflake_time(id))
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
        let (channel, thread) = self
            .session_place(&relay.room.id, relay.options.as_ref(), &relay.session)
            .await?;
        // Twice at most: a webhook someone deleted is made again once.
        for _ in 0..2 {
            let hook = match self
                .webhooks
                .for_channel(&self.rest, &self.known, channel.get())
                .await?
            {
                Found::Hook(hook) => hook,
                Found::Refused => break,
            };
            match self.relay_through(&hook, channel, thread, relay).await? {
                Through::Posted(id) => return Ok(id),
                Through::Plain => break,
                Through::Gone => continue,
            }
        }
        self.relay_plain(thread.unwrap_or(channel), thread, relay)
            .await
    }

    async fn relay_recorded(&self, relay: &RelayPost) -> Result<(), AdapterError> {
        self.webhooks.attempt_done(&relay.idempotency_key).await
    }

    async fn edit_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        let (channel, thread) = self
            .session_place(&copy.room.id, copy.options.as_ref(), &copy.session)
            .await?;
        let first = message(&copy.copy_msg_id)?.get();
        match self.webhooks.copy(first).await? {
            Some(record) if record.webhook.is_some() => {
                self.edit_through(channel, record, copy).await
            }
            record => {
                self.edit_plain(thread.unwrap_or(channel), first, record, copy)
                    .await
            }
        }
    }

    async fn delete_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        let (channel, thread) = self
            .session_place(&copy.room.id, copy.options.as_ref(), &copy.session)
            .await?;
        let first = message(&copy.copy_msg_id)?.get();
        let record = self.webhooks.copy(first).await?;
        let (parts, through) = match &record {
            Some(r) => (r.parts.clone(), r.webhook.map(|w| (w, r.thread))),
            None => (vec![first], None),
        };
        let target = match through {
            Some((_, Some(t))) => ChannelId::new(t),
            Some((_, None)) => channel,
            None => thread.unwrap_or(channel),
        };
        for part in parts {
            let mut done = false;
            if let Some((webhook, thread)) = through {
                match self.webhooks.current(channel.get()).await? {
                    Some(hook) if hook.id == webhook => {
                        match self.delete_through(&hook, thread, part).await {
                            Ok(()) => done = true,
                            Err(e) if unknown_message(&e) => done = true,
                            Err(e) if is_unknown_webhook(&e) => {
                                self.webhooks.forget(channel.get(), webhook).await?;
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    // Its webhook is gone: the bot can still delete it, with Manage Messages.
                    _ => {}
                }
            }
            if !done {
                self.delete_message(target, part).await?;
            }
        }
        if record.is_some() {
            self.webhooks.forget_copy(first).await?;
        }
        Ok(())
    }

    fn command_prefix(&self) -> Option<String> {
        Some("/chat".to_owned())
    }

    fn label(&self) -> String {
        "Discord".to_owned()
    }
}

impl DiscordAdapter {
    /// A copy as the bot's own messages, naming its author: where there is no webhook. A long
    /// one's pieces are recorded, so its edits reach each of them.
    async fn relay_plain(
        &self,
        target: ChannelId,
        thread: Option<ChannelId>,
        relay: &RelayPost,
    ) -> Result<String, AdapterError> {
        let chosen = crate::uploads::choose(&relay.files);
        let bodies = message_bodies(
            &chosen.with_left_out(relay_text(&relay.content)),
            &relay.idempotency_key,
            &[],
            relay.in_reply_to.as_deref(),
        );
        let ids = if chosen.uploads.is_empty() {
            self.send_all(target, &bodies).await?
        } else {
            // The files go with the first message: the copy the store keeps, deleted with it.
            let (first, rest) = bodies
                .split_first()
                .expect("message_bodies gives one at least");
            let mut ids = vec![
                crate::uploads::send_with_files(&self.rest, target, first, &chosen.uploads).await?,
            ];
            ids.extend(self.send_all(target, rest).await?);
            ids
        };
        if ids.len() > 1 {
            self.webhooks
                .set_copy(&CopyRecord {
                    webhook: None,
                    thread: thread.map(ChannelId::get),
                    parts: ids.clone(),
                    quote: None,
                })
                .await?;
        }
        Ok(ids[0].to_string())
    }

    /// A copy through the channel's webhook, as its author with their avatar. A reply starts
    /// with a quoted line naming its parent (a webhook cannot reply). An earlier attempt that
    /// ended without an answer may have posted some of it: that is adopted, not sent again.
    async fn relay_through(
        &self,
        hook: &Hook,
        channel: ChannelId,
        thread: Option<ChannelId>,
        relay: &RelayPost,
    ) -> Result<Through, AdapterError> {
        let content = &relay.content;
        let key = &relay.idempotency_key;
        let target = thread.unwrap_or(channel);
        let username = webhook_username(&content.author_name, &content.origin_label);
        let avatar = webhook_avatar(content.avatar_url.as_deref());
        let quote = match relay.in_reply_to.as_deref() {
            Some(parent) => self.quote_of(target, parent).await,
            None => None,
        };
        let chosen = crate::uploads::choose(&relay.files);
        let parts = split(
            &with_quote(
                quote.as_deref(),
                &chosen.with_left_out(relay_words(content)),
            ),
            MAX_CONTENT,
        );
        let mut ids = match self.webhooks.attempt(key).await? {
            Attempt::Posted(record) => {
                // Out and recorded here before a crash; the core had not recorded it.
                self.webhooks.set_copy(&record).await?;
                return Ok(Through::Posted(record.parts[0].to_string()));
            }
            Attempt::Unfinished { since_ms } => {
                self.webhooks
                    .already_sent(&self.rest, target.get(), &username, &parts, since_ms)
                    .await?
            }
            Attempt::First => Vec::new(),
        };
        for part in &parts[ids.len()..] {
            let body = webhook_body(part, &username, avatar.as_deref());
            // The files go with the first part, the copy the store keeps.
            let files = if ids.is_empty() {
                &chosen.uploads[..]
            } else {
                &[]
            };
            let started = std::time::Instant::now();
            match self.execute(hook, thread, &body, files).await {
                Ok(id) => {
                    tracing::debug!(channel = %target, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "sent through the webhook");
                    ids.push(id);
                }
                Err(e) if is_unknown_webhook(&e) => {
                    self.webhooks.forget(channel.get(), hook.id).await?;
                    if ids.is_empty() {
                        self.webhooks.attempt_done(key).await?;
                        return Ok(Through::Gone);
                    }
                    // Part of it is out through the old webhook; the next attempt adopts that
                    // and carries on through a new one.
                    return Err(AdapterError::Temporary(e.to_string()));
                }
                Err(e) if ids.is_empty() && e.is_refusal() => {
                    // Its name or avatar, say, however sanitised: the words still go out.
                    tracing::warn!(
                        channel = %target,
                        error = %e,
                        "Discord refused a copy through the webhook; sending it as a plain message"
                    );
                    self.webhooks.attempt_done(key).await?;
                    return Ok(Through::Plain);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let record = CopyRecord {
            webhook: Some(hook.id),
            thread: thread.map(ChannelId::get),
            parts: ids,
            quote,
        };
        self.webhooks.attempt_posted(key, &record).await?;
        self.webhooks.set_copy(&record).await?;
        Ok(Through::Posted(record.parts[0].to_string()))
    }

    /// Posts one message through `hook` (into `thread` if given), waiting for its id.
    async fn execute(
        &self,
        hook: &Hook,
        thread: Option<ChannelId>,
        body: &Value,
        files: &[crate::uploads::Upload],
    ) -> Result<u64, RestError> {
        let mut params = vec![("wait", "true".to_owned())];
        if let Some(thread) = thread {
            params.push(("thread_id", thread.to_string()));
        }
        let sent = self
            .rest
            .call_webhook(
                LightMethod::Post,
                hook.id,
                &hook.token,
                "",
                &params,
                Some(body),
                files,
                "posting a copy through the channel's webhook",
            )
            .await?;
        sent.get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| RestError::Decode {
                doing: "posting a copy through the channel's webhook".into(),
                message: "no message id".into(),
            })
    }

    /// The quoted line for a reply to `parent` in `channel`: its author and the start of its
    /// text. `None` if Discord cannot say (the copy then goes without it rather than wait).
    async fn quote_of(&self, channel: ChannelId, parent: &str) -> Option<String> {
        let route = Route::ChannelMessage {
            channel_id: channel,
            message_id: message(parent).ok()?,
        };
        let read = self
            .rest
            .call(
                LightMethod::Get,
                route,
                None,
                None,
                "reading a reply's parent",
            )
            .await;
        let parent_msg = match read {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read a reply's parent; the copy goes without its quote");
                return None;
            }
        };
        let author = &parent_msg["author"];
        let name = author["global_name"]
            .as_str()
            .filter(|_| parent_msg["webhook_id"].is_null())
            .or_else(|| author["username"].as_str())
            .unwrap_or("someone");
        let content = parent_msg["content"].as_str().unwrap_or_default();
        // A copy that was itself a reply: its own quote is not part of what it says.
        let text = match content.strip_prefix("> ↪ ") {
            Some(quoted) => quoted.split_once('\n').map_or("", |(_, rest)| rest),
            None => content,
        };
        let link = self
            .known
            .guild_of(channel.get())
            .map(|g| format!("https://discord.com/channels/{g}/{channel}/{parent}"));
        Some(reply_quote(name, text, link.as_deref()))
    }

    /// Edits a copy made through a webhook, piece by piece, through the webhook's routes.
    async fn edit_through(
        &self,
        channel: ChannelId,
        mut record: CopyRecord,
        copy: &RelayedCopy,
    ) -> Result<(), AdapterError> {
        let webhook = record.webhook.unwrap_or_default();
        let hook = match self.webhooks.current(channel.get()).await? {
            Some(hook) if hook.id == webhook => hook,
            _ => {
                return Err(AdapterError::Permanent(
                    "the webhook that made this copy is gone, so it cannot be edited".into(),
                ))
            }
        };
        let thread = record.thread.map(ChannelId::new);
        let texts = split(
            &with_quote(record.quote.as_deref(), &relay_words(&copy.content)),
            MAX_CONTENT,
        );
        let username = webhook_username(&copy.content.author_name, &copy.content.origin_label);
        let avatar = webhook_avatar(copy.content.avatar_url.as_deref());
        let mut params = Vec::new();
        if let Some(thread) = thread {
            params.push(("thread_id", thread.to_string()));
        }
        let gone = |e: RestError| async move {
            if is_unknown_webhook(&e) {
                self.webhooks.forget(channel.get(), webhook).await?;
            }
            Err::<(), AdapterError>(e.into())
        };
        let old = record.parts.clone();
        let mut parts = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            match old.get(i) {
                Some(&part) => {
                    let body = json!({ "content": text, "allowed_mentions": { "parse": [] } });
                    let edited = self
                        .rest
                        .call_webhook(
                            LightMethod::Patch,
                            hook.id,
                            &hook.token,
                            &format!("/messages/{part}"),
                            &params,
                            Some(&body),
                            &[],
                            "editing a copy through the channel's webhook",
                        )
                        .await;
                    match edited {
                        Ok(_) => {}
                        // Deleted by a moderator meanwhile: nothing to edit there.
                        Err(e) if unknown_message(&e) => {}
                        Err(e) => return gone(e).await,
                    }
                    parts.push(part);
                }
                // Longer now: the rest goes out after it.
                None => match self
                    .execute(
                        &hook,
                        thread,
                        &webhook_body(text, &username, avatar.as_deref()),
                        &[],
                    )
                    .await
                {
                    Ok(id) => {
                        // Recorded at once: a webhook's message has no nonce to find it by.
                        parts.push(id);
                        record.parts = parts.clone();
                        self.webhooks.set_copy(&record).await?;
                    }
                    Err(e) => return gone(e).await,
                },
            }
        }
        // Shorter now: the pieces no longer needed go.
        for &part in old.iter().skip(texts.len()) {
            match self
                .delete_through(&hook, thread.map(ChannelId::get), part)
                .await
            {
                Ok(()) => {}
                Err(e) if unknown_message(&e) => {}
                Err(e) => return gone(e).await,
            }
        }
        if parts != record.parts {
            record.parts = parts;
            self.webhooks.set_copy(&record).await?;
        }
        Ok(())
    }

    /// Edits a copy the bot posted itself, each piece; pieces it needs now are posted (with
    /// the edit's nonces), pieces it no longer needs deleted.
    async fn edit_plain(
        &self,
        target: ChannelId,
        first: u64,
        record: Option<CopyRecord>,
        copy: &RelayedCopy,
    ) -> Result<(), AdapterError> {
        let texts = split(&relay_text(&copy.content), MAX_CONTENT);
        let old = record
            .as_ref()
            .map_or_else(|| vec![first], |r| r.parts.clone());
        let mut parts = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            match old.get(i) {
                Some(&part) => {
                    let body = json!({ "content": text, "allowed_mentions": allowed_mentions(&[], false) });
                    let route = Route::ChannelMessage {
                        channel_id: target,
                        message_id: MessageId::new(part.max(1)),
                    };
                    match self
                        .rest
                        .call(
                            LightMethod::Patch,
                            route,
                            Some(&body),
                            None,
                            "editing a relayed copy",
                        )
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if unknown_message(&e) => {}
                        Err(e) => return Err(e.into()),
                    }
                    parts.push(part);
                }
                None => {
                    let body = json!({
                        "content": text,
                        "nonce": nonce(&copy.idempotency_key, i),
                        "enforce_nonce": true,
                        "allowed_mentions": allowed_mentions(&[], false),
                    });
                    let id = self.send_all(target, &[body]).await?[0];
                    parts.push(id);
                }
            }
        }
        for &part in old.iter().skip(texts.len()) {
            self.delete_message(target, part).await?;
        }
        if old.len() != parts.len() {
            self.webhooks
                .set_copy(&CopyRecord {
                    webhook: None,
                    thread: record.as_ref().and_then(|r| r.thread),
                    parts,
                    quote: None,
                })
                .await?;
        }
        Ok(())
    }

    async fn delete_through(
        &self,
        hook: &Hook,
        thread: Option<u64>,
        part: u64,
    ) -> Result<(), RestError> {
        let mut params = Vec::new();
        if let Some(thread) = thread {
            params.push(("thread_id", thread.to_string()));
        }
        self.rest
            .call_webhook(
                LightMethod::Delete,
                hook.id,
                &hook.token,
                &format!("/messages/{part}"),
                &params,
                None,
                &[],
                "deleting a copy through the channel's webhook",
            )
            .await
            .map(|_| ())
    }

    /// Deletes a message in `channel`; one already gone is not an error.
    async fn delete_message(&self, channel: ChannelId, part: u64) -> Result<(), AdapterError> {
        let route = Route::ChannelMessage {
            channel_id: channel,
            message_id: MessageId::new(part.max(1)),
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
}

/// A copy's text after the quoted line of its parent, when it is a reply.
fn with_quote(quote: Option<&str>, words: &str) -> String {
    match quote {
        Some(quote) => format!("{quote}\n{words}"),
        None => words.to_owned(),
    }
}
