//! Relayed copies under their author's name and avatar: a webhook per chat channel.
//!
//! A bot's own message can only show the bot, so a copy made that way has to start with its
//! author's name (`**Ann** *(Matrix)*: …`). A webhook's message shows any name and avatar it
//! is given, so hashchat makes one webhook in each channel it relays into, the first time it
//! does, and posts copies through it as `Ann (Matrix)` with Ann's avatar. What this keeps, in
//! the store's `sync_cursors` (platform `discord`), so it holds across restarts:
//!
//! - `webhook:{channel}` → `{id}:{token}`: the channel's webhook. Found again (the channel's
//!   list, the one our application made) before one is made, so a lost record or a crash
//!   between making and recording makes no second webhook;
//! - `webhook-id:{id}` → `{channel}`: every webhook hashchat made or adopted, kept after it is
//!   gone, so its messages are recognised by id (never by name) and never taken for a
//!   participant's: nothing echoes. (Messages of webhooks made by our application also carry
//!   its id as `application_id`; the listener takes that as a second sign.) Other people's
//!   webhooks (an RSS feed, another bridge) are left alone: their messages are participants';
//! - `copy:{message}` → a [`CopyRecord`] for a copy made through a webhook, or split into
//!   pieces: edits and deletions must go through the webhook's routes (the bot cannot edit a
//!   webhook's message) and to every piece, while the core keeps only the first piece's id;
//! - `relay-attempt:{key}` → when a copy was first tried through the webhook, then the copy
//!   once all of it is out (below).
//!
//! **A retried copy shows once.** A channel message has a nonce Discord enforces; a webhook
//! execute has none. So before the first execute the time is recorded under the relay's key.
//! Once every piece is out, the copy's record replaces the time, and it stays until the core
//! has recorded the copy (`relay_recorded`): a crash in between leaves a retry to return that
//! copy, not post another. Finding a time means an earlier attempt ended without an answer
//! (a timeout, a 5xx, a crash), and may have posted: the channel's messages
//! since then are read, and the pieces an earlier attempt posted (our webhook, the same
//! username, the same text, in order) are adopted instead of sent again. That is sound
//! because copies into a room are made one at a time, in order, and a copy that fails holds
//! back the room's later ones: nothing else of ours with the same text can have been posted
//! there meanwhile. What it cannot see is an execute Discord is still carrying out when the
//! retry reads the channel; the outbox's retry delay (15 s) makes that unlikely.
//!
//! **Without Manage Webhooks** (403/50013), or in a channel that cannot have webhooks (50024,
//! or full: 30007), copies are plain messages naming their author, as before; that is
//! remembered for an hour (so Discord is not asked before every message) and warned once.
//! A webhook someone deleted (10015) is forgotten and made again.
//!
//! A webhook token is as good as the webhook: it is never logged, and requests that carry it
//! go through [`Rest::call_webhook`].

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serenity::http::{LightMethod, Route};
use serenity::model::id::ChannelId;

use bot_core::adapter::AdapterError;
use bot_core::ids::Platform;
use bot_core::store::Store;

use crate::rest::{Rest, RestError};
use crate::state::Known;

/// What hashchat's webhooks are called (their default name; each copy sets its own).
pub const WEBHOOK_NAME: &str = "hashchat";
/// How long a channel that refused a webhook is left alone before it is asked again.
const REFUSAL_MEMORY: Duration = Duration::from_secs(3600);
/// Discord's epoch (2015), in unix milliseconds: snowflakes count from it.
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
/// Clock difference allowed between us and Discord when reading what an attempt posted.
const CLOCK_SLACK_MS: i64 = 5_000;

/// Discord's error codes this module acts on.
const UNKNOWN_WEBHOOK: i64 = 10015;
const MISSING_PERMISSIONS: i64 = 50013;
const WRONG_CHANNEL_TYPE: i64 = 50024;
const TOO_MANY_WEBHOOKS: i64 = 30007;

/// A channel's webhook. Its token is never printed (not even by `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Hook {
    pub id: u64,
    pub token: String,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("id", &self.id)
            .field("token", &"[hidden]")
            .finish()
    }
}

impl Hook {
    fn encode(&self) -> String {
        format!("{}:{}", self.id, self.token)
    }

    fn decode(text: &str) -> Option<Hook> {
        let (id, token) = text.split_once(':')?;
        let ok = !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic());
        let id = id.parse().ok().filter(|id| *id > 0)?;
        ok.then(|| Hook {
            id,
            token: token.to_owned(),
        })
    }
}

/// How a copy was made, when the core's one id is not enough to edit or delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyRecord {
    /// The webhook that posted it; `None`: the bot did (a long copy in pieces).
    pub webhook: Option<u64>,
    /// The thread it is in, when the session runs in one.
    pub thread: Option<u64>,
    /// Every piece, in order; the first is the id the core keeps.
    pub parts: Vec<u64>,
    /// The quoted line a reply made through a webhook starts with, kept for its edits (the
    /// core hands an edit only the original's new text).
    pub quote: Option<String>,
}

impl CopyRecord {
    fn encode(&self) -> String {
        json!({
            "webhook": self.webhook,
            "thread": self.thread,
            "parts": self.parts,
            "quote": self.quote,
        })
        .to_string()
    }

    fn decode(text: &str) -> Option<CopyRecord> {
        let v: Value = serde_json::from_str(text).ok()?;
        let id = |v: &Value| v.as_u64().filter(|n| *n > 0);
        let opt = |key: &str| match &v[key] {
            Value::Null => Some(None),
            other => id(other).map(Some),
        };
        let parts: Option<Vec<u64>> = v["parts"].as_array()?.iter().map(id).collect();
        let parts = parts.filter(|p| !p.is_empty())?;
        let quote = match &v["quote"] {
            Value::Null => None,
            q => Some(q.as_str()?.to_owned()),
        };
        Some(CopyRecord {
            webhook: opt("webhook")?,
            thread: opt("thread")?,
            parts,
            quote,
        })
    }
}

/// Whether a channel gets a webhook, as far as is known.
pub(crate) enum Found {
    Hook(Hook),
    /// Not here (no permission, a channel that cannot have one): plain messages.
    Refused,
}

#[derive(Default)]
struct Inner {
    loaded: bool,
    by_channel: HashMap<u64, Hook>,
    /// Every webhook id hashchat made or adopted, current or gone.
    ours: HashSet<u64>,
    /// Webhook ids looked up in the store and not found there (another instance may make
    /// one; it records it before it posts anything through it).
    not_ours: HashSet<u64>,
    /// Channels that refused a webhook, and when.
    refused: HashMap<u64, Instant>,
}

/// The webhooks, shared by the adapter (which makes and uses them) and the listener (which
/// ignores their messages).
pub(crate) struct Webhooks {
    store: Store,
    inner: Mutex<Inner>,
    /// One webhook found or made at a time, so two rooms' lanes never make two in a channel.
    making: tokio::sync::Mutex<()>,
}

fn account_hook(channel: u64) -> String {
    format!("webhook:{channel}")
}

fn account_id(webhook: u64) -> String {
    format!("webhook-id:{webhook}")
}

fn account_copy(message: u64) -> String {
    format!("copy:{message}")
}

fn account_attempt(key: &str) -> String {
    format!("relay-attempt:{key}")
}

/// How an attempt whose pieces are all out is kept: this, then the copy's record.
const POSTED: &str = "posted ";

/// How far earlier attempts at a copy through a webhook got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// None was made.
    First,
    /// One began at this moment (unix ms) and did not finish: it may have posted pieces.
    Unfinished { since_ms: i64 },
    /// Every piece went out, and the core may not have recorded the copy yet.
    Posted(CopyRecord),
}

fn store_error(doing: &str) -> impl Fn(bot_core::store::StoreError) -> AdapterError + '_ {
    move |e| AdapterError::Temporary(format!("{doing}: {e}"))
}

/// The moment a snowflake was made (unix ms): the time Discord gives the message.
pub(crate) fn snowflake_time(id: u64) -> i64 {
    (id >> 22) as i64 + DISCORD_EPOCH_MS
}

/// The snowflake of a moment: messages after it have greater ids.
pub(crate) fn snowflake_at(unix_ms: i64) -> u64 {
    ((unix_ms - DISCORD_EPOCH_MS).max(0) as u64) << 22
}

impl Webhooks {
    pub fn new(store: Store) -> Webhooks {
        Webhooks {
            store,
            inner: Mutex::default(),
            making: tokio::sync::Mutex::new(()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // Every write under this lock is a single insert or removal.
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    /// Reads what the store has, once.
    async fn load(&self) -> Result<(), AdapterError> {
        if self.with(|i| i.loaded) {
            return Ok(());
        }
        let read = |prefix: &'static str| async move {
            self.store
                .sync_cursors_under(Platform::Discord, prefix)
                .await
                .map_err(store_error("reading the relay webhooks"))
        };
        let hooks = read("webhook:").await?;
        let ids = read("webhook-id:").await?;
        self.with(|i| {
            for (account, value) in hooks {
                let channel = account
                    .strip_prefix("webhook:")
                    .and_then(|c| c.parse().ok());
                match (channel, Hook::decode(&value)) {
                    (Some(channel), Some(hook)) => {
                        i.ours.insert(hook.id);
                        i.by_channel.insert(channel, hook);
                    }
                    _ => tracing::warn!(account, "unreadable webhook record ignored"),
                }
            }
            i.ours.extend(ids.iter().filter_map(|(account, _)| {
                account.strip_prefix("webhook-id:")?.parse::<u64>().ok()
            }));
            i.loaded = true;
        });
        Ok(())
    }

    /// Whether `webhook` is one hashchat made (now or before): its messages are copies.
    pub async fn is_ours(&self, webhook: u64) -> bool {
        if let Err(e) = self.load().await {
            tracing::warn!(error = %e, "cannot read the relay webhooks; checking this one alone");
        }
        if let Some(known) = self.with(|i| {
            (i.ours.contains(&webhook) || i.not_ours.contains(&webhook))
                .then(|| i.ours.contains(&webhook))
        }) {
            return known;
        }
        match self
            .store
            .sync_cursor(Platform::Discord, &account_id(webhook))
            .await
        {
            Ok(found) => {
                let ours = found.is_some();
                self.with(|i| {
                    if ours {
                        i.ours.insert(webhook);
                    } else {
                        i.not_ours.insert(webhook);
                    }
                });
                ours
            }
            // Unsure: treat it as someone else's (a missed copy of ours would be archived
            // once, which is better than a participant's message lost).
            Err(e) => {
                tracing::warn!(webhook, error = %e, "cannot tell whose webhook this is");
                false
            }
        }
    }

    async fn remember_ours(&self, webhook: u64, channel: u64) -> Result<(), AdapterError> {
        self.store
            .set_sync_cursor(
                Platform::Discord,
                &account_id(webhook),
                &channel.to_string(),
            )
            .await
            .map_err(store_error("recording a relay webhook"))?;
        self.with(|i| {
            i.ours.insert(webhook);
            i.not_ours.remove(&webhook);
        });
        Ok(())
    }

    async fn keep(&self, channel: u64, hook: &Hook) -> Result<(), AdapterError> {
        self.remember_ours(hook.id, channel).await?;
        self.store
            .set_sync_cursor(Platform::Discord, &account_hook(channel), &hook.encode())
            .await
            .map_err(store_error("recording a channel's webhook"))?;
        self.with(|i| i.by_channel.insert(channel, hook.clone()));
        Ok(())
    }

    /// The channel's webhook as recorded, without asking Discord.
    pub async fn current(&self, channel: u64) -> Result<Option<Hook>, AdapterError> {
        self.load().await?;
        Ok(self.with(|i| i.by_channel.get(&channel).cloned()))
    }

    /// Forgets `channel`'s webhook `hook` (Discord says it is gone); its id stays known as ours.
    pub async fn forget(&self, channel: u64, hook: u64) -> Result<(), AdapterError> {
        let current = self.with(|i| i.by_channel.get(&channel).map(|h| h.id));
        if current != Some(hook) {
            return Ok(());
        }
        tracing::info!(
            channel,
            webhook = hook,
            "the channel's relay webhook is gone; it will be made again"
        );
        self.store
            .delete_sync_cursor(Platform::Discord, &account_hook(channel))
            .await
            .map_err(store_error("forgetting a channel's webhook"))?;
        self.with(|i| i.by_channel.remove(&channel));
        Ok(())
    }

    /// The webhook to relay into `channel` through: the recorded one, else ours from the
    /// channel's list, else a new one; [`Found::Refused`] where the bot may not have one.
    pub async fn for_channel(
        &self,
        rest: &Rest,
        known: &Known,
        channel: u64,
    ) -> Result<Found, AdapterError> {
        if let Some(hook) = self.current(channel).await? {
            return Ok(Found::Hook(hook));
        }
        if self.refused_lately(channel) {
            return Ok(Found::Refused);
        }
        let _making = self.making.lock().await;
        if let Some(hook) = self.current(channel).await? {
            return Ok(Found::Hook(hook));
        }
        let (me, application) = (known.me(), known.application());
        if me == 0 {
            // Which webhooks are ours is told by who we are: wait for the gateway's READY.
            return Err(AdapterError::Unreachable(
                "not connected to Discord yet".into(),
            ));
        }
        let route = Route::ChannelWebhooks {
            channel_id: ChannelId::new(channel.max(1)),
        };
        let listed = rest
            .call(
                LightMethod::Get,
                route,
                None,
                None,
                "listing a channel's webhooks",
            )
            .await;
        let listed = match listed {
            Ok(v) => v,
            Err(e) => return self.refusal(channel, e),
        };
        let mut mine: Vec<Hook> = listed
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["type"].as_u64() == Some(1))
            .filter(|h| {
                let id_is = |v: &Value, want: u64| {
                    v.as_str().and_then(|s| s.parse::<u64>().ok()) == Some(want)
                };
                (application != 0 && id_is(&h["application_id"], application))
                    || id_is(&h["user"]["id"], me)
            })
            .filter_map(|h| {
                Some(Hook {
                    id: h["id"].as_str()?.parse().ok()?,
                    token: h["token"].as_str()?.to_owned(),
                })
            })
            .collect();
        mine.sort_by_key(|h| h.id);
        for other in mine.iter().skip(1) {
            self.remember_ours(other.id, channel).await?;
        }
        if let Some(hook) = mine.into_iter().next() {
            tracing::info!(
                channel,
                webhook = hook.id,
                "relaying through the bot's webhook found in the channel"
            );
            self.keep(channel, &hook).await?;
            return Ok(Found::Hook(hook));
        }
        let made = rest
            .call(
                LightMethod::Post,
                route,
                Some(&json!({ "name": WEBHOOK_NAME })),
                None,
                "making a channel's relay webhook",
            )
            .await;
        let made = match made {
            Ok(v) => v,
            Err(e) => return self.refusal(channel, e),
        };
        let hook = match (
            made["id"].as_str().and_then(|s| s.parse::<u64>().ok()),
            made["token"].as_str(),
        ) {
            (Some(id), Some(token)) => Hook {
                id,
                token: token.to_owned(),
            },
            _ => {
                return Err(AdapterError::Temporary(
                    "Discord's new webhook came without its id or token".into(),
                ))
            }
        };
        tracing::info!(
            channel,
            webhook = hook.id,
            "made the channel's relay webhook"
        );
        self.keep(channel, &hook).await?;
        Ok(Found::Hook(hook))
    }

    /// A refusal to list or make webhooks means plain copies here for a while (warned once);
    /// anything else is the copy's failure.
    fn refusal(&self, channel: u64, e: RestError) -> Result<Found, AdapterError> {
        let code = match &e {
            RestError::Status { code, .. } => *code,
            _ => None,
        };
        let refused = e.status() == Some(403)
            || matches!(
                code,
                Some(MISSING_PERMISSIONS | WRONG_CHANNEL_TYPE | TOO_MANY_WEBHOOKS)
            );
        if !refused {
            return Err(e.into());
        }
        tracing::warn!(
            channel,
            error = %e,
            "cannot relay through a webhook here (does the bot have Manage Webhooks?); \
             copies are plain messages naming their author for the next hour"
        );
        self.with(|i| i.refused.insert(channel, Instant::now()));
        Ok(Found::Refused)
    }

    fn refused_lately(&self, channel: u64) -> bool {
        self.with(|i| match i.refused.get(&channel) {
            Some(at) if at.elapsed() < REFUSAL_MEMORY => true,
            Some(_) => {
                i.refused.remove(&channel);
                false
            }
            None => false,
        })
    }

    /// How copy `message` was made, if it needed recording.
    pub async fn copy(&self, message: u64) -> Result<Option<CopyRecord>, AdapterError> {
        let saved = self
            .store
            .sync_cursor(Platform::Discord, &account_copy(message))
            .await
            .map_err(store_error("reading a copy's record"))?;
        Ok(saved.as_deref().and_then(|text| {
            let record = CopyRecord::decode(text);
            if record.is_none() {
                tracing::warn!(message, "unreadable copy record ignored");
            }
            record
        }))
    }

    pub async fn set_copy(&self, record: &CopyRecord) -> Result<(), AdapterError> {
        self.store
            .set_sync_cursor(
                Platform::Discord,
                &account_copy(record.parts[0]),
                &record.encode(),
            )
            .await
            .map_err(store_error("recording a copy"))
    }

    pub async fn forget_copy(&self, message: u64) -> Result<(), AdapterError> {
        self.store
            .delete_sync_cursor(Platform::Discord, &account_copy(message))
            .await
            .map_err(store_error("forgetting a copy"))
    }

    /// How far earlier attempts at relay `key` got; records now as its first attempt when
    /// there was none.
    pub async fn attempt(&self, key: &str) -> Result<Attempt, AdapterError> {
        let account = account_attempt(key);
        let saved = self
            .store
            .sync_cursor(Platform::Discord, &account)
            .await
            .map_err(store_error("reading a relay's attempt"))?;
        if let Some(saved) = saved {
            if let Some(record) = saved.strip_prefix(POSTED).and_then(CopyRecord::decode) {
                return Ok(Attempt::Posted(record));
            }
            if let Ok(since_ms) = saved.parse() {
                return Ok(Attempt::Unfinished { since_ms });
            }
            tracing::warn!(key, "unreadable relay attempt ignored");
        }
        self.store
            .set_sync_cursor(
                Platform::Discord,
                &account,
                &chrono::Utc::now().timestamp_millis().to_string(),
            )
            .await
            .map_err(store_error("recording a relay's attempt"))?;
        Ok(Attempt::First)
    }

    /// Notes that every piece of relay `key` is out, before the copy's record is written:
    /// from here until the core has recorded the copy, a retry returns this copy.
    pub async fn attempt_posted(&self, key: &str, record: &CopyRecord) -> Result<(), AdapterError> {
        self.store
            .set_sync_cursor(
                Platform::Discord,
                &account_attempt(key),
                &format!("{POSTED}{}", record.encode()),
            )
            .await
            .map_err(store_error("recording a relay's pieces"))
    }

    /// Forgets relay `key`'s attempts: a plain copy is being made instead, or the core has
    /// recorded the copy.
    pub async fn attempt_done(&self, key: &str) -> Result<(), AdapterError> {
        self.store
            .delete_sync_cursor(Platform::Discord, &account_attempt(key))
            .await
            .map_err(store_error("clearing a relay's attempt"))
    }

    /// The pieces of a copy an earlier attempt already posted in `channel` (or its thread)
    /// since `since_ms`: messages of our webhooks with the copy's username and, in order, the
    /// texts of its first pieces.
    pub async fn already_sent(
        &self,
        rest: &Rest,
        channel: u64,
        username: &str,
        parts: &[String],
        since_ms: i64,
    ) -> Result<Vec<u64>, AdapterError> {
        let route = Route::ChannelMessages {
            channel_id: ChannelId::new(channel.max(1)),
        };
        let after = snowflake_at(since_ms - CLOCK_SLACK_MS);
        let page = rest
            .call(
                LightMethod::Get,
                route,
                None,
                Some(vec![("after", after.to_string()), ("limit", "100".into())]),
                "reading what an earlier attempt at a copy posted",
            )
            .await?;
        let mut candidates: Vec<(u64, u64, String, String)> = page
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                Some((
                    m["id"].as_str()?.parse().ok()?,
                    m["webhook_id"].as_str()?.parse().ok()?,
                    m["author"]["username"].as_str()?.to_owned(),
                    m["content"].as_str()?.to_owned(),
                ))
            })
            .collect();
        candidates.sort_by_key(|c| c.0);
        let mut found = Vec::new();
        let mut rest_of = candidates.into_iter();
        'parts: for part in parts {
            for (id, webhook, name, content) in rest_of.by_ref() {
                if name.trim() == username.trim()
                    && content.trim() == part.trim()
                    && self.is_ours(webhook).await
                    && self.copy(id).await?.is_none()
                {
                    found.push(id);
                    continue 'parts;
                }
            }
            break;
        }
        if !found.is_empty() {
            tracing::info!(
                channel,
                pieces = found.len(),
                "an earlier attempt had posted the copy; adopting it"
            );
        }
        Ok(found)
    }
}

/// Whether Discord said the webhook is gone.
pub(crate) fn is_unknown_webhook(e: &RestError) -> bool {
    matches!(
        e,
        RestError::Status {
            code: Some(UNKNOWN_WEBHOOK),
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_written_and_anything_else_is_none() {
        let hook = Hook {
            id: 42,
            token: "abc-DEF_123".into(),
        };
        assert_eq!(Hook::decode(&hook.encode()), Some(hook.clone()));
        for bad in ["", "42", "42:", "x:abc", "0:abc", "42:a b"] {
            assert_eq!(Hook::decode(bad), None, "{bad}");
        }
        let record = CopyRecord {
            webhook: Some(7),
            thread: None,
            parts: vec![10, 11],
            quote: Some("> ↪ **Ann**: hi".into()),
        };
        assert_eq!(CopyRecord::decode(&record.encode()), Some(record));
        for bad in [
            "",
            "{}",
            r#"{"webhook":null,"thread":null,"parts":[]}"#,
            r#"{"webhook":"7","thread":null,"parts":[1]}"#,
            r#"{"webhook":null,"thread":null,"parts":[0]}"#,
        ] {
            assert_eq!(CopyRecord::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_hooks_token_is_never_printed() {
        let hook = Hook {
            id: 42,
            token: "s3cret".into(),
        };
        let shown = format!("{hook:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("42"));
    }

    #[test]
    fn snowflakes_of_a_moment_order_messages_after_it() {
        // 2016-04-30 11:18:25.796 UTC is the moment of Discord's documented example id.
        let at = 1_462_015_105_796;
        assert_eq!(snowflake_at(at) >> 22, 175928847299117063 >> 22);
        assert_eq!(snowflake_at(0), 0);
        assert_eq!(snowflake_time(175928847299117063), at, "and back");
    }
}
