//! Slash-command interactions waiting for the engine's answer, and Discord's 3-second rule.
//!
//! The listener hands an interaction to the engine and registers it here. The engine's answer
//! arrives later through `Adapter::reply` (matched by `in_reply_to`, the interaction id). If it
//! has not come within [`DEFER_AFTER`], a timer defers the interaction (callback type 5, "the
//! bot is thinking"), and the answer then edits that original response. One lock per
//! interaction keeps the timer and the answer from both calling back (Discord refuses a
//! second callback).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serenity::http::{LightMethod, Route};
use serenity::model::id::{ApplicationId, InteractionId};

use bot_core::adapter::AdapterError;

use crate::format::{allowed_mentions, split, MAX_CONTENT};
use crate::rest::Rest;

/// Discord gives 3 s for the first callback; the engine usually answers in milliseconds, and
/// 1.5 s leaves the deferral itself time to get there.
pub const DEFER_AFTER: Duration = Duration::from_millis(1500);
/// Interaction tokens are valid for 15 minutes; entries older than that are forgotten.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Only the person who ran the command sees it.
const EPHEMERAL: u64 = 1 << 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Waiting,
    Deferred,
    Answered,
}

struct Pending {
    token: String,
    stage: Stage,
    since: Instant,
}

type Entry = Arc<tokio::sync::Mutex<Pending>>;

#[derive(Clone, Default)]
pub(crate) struct Interactions {
    map: Arc<Mutex<HashMap<u64, Entry>>>,
}

impl Interactions {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, id: u64) -> Option<Entry> {
        self.entries().get(&id).cloned()
    }

    /// Registers an interaction and starts its deferral timer.
    pub fn begin(&self, rest: &Rest, id: u64, token: String) {
        let entry = Arc::new(tokio::sync::Mutex::new(Pending {
            token,
            stage: Stage::Waiting,
            since: Instant::now(),
        }));
        {
            let mut map = self.entries();
            map.retain(|_, e| {
                e.try_lock()
                    .map_or(true, |p| p.since.elapsed() < TOKEN_LIFETIME)
            });
            map.insert(id, entry.clone());
        }
        let rest = rest.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DEFER_AFTER).await;
            let mut p = entry.lock().await;
            if p.stage != Stage::Waiting {
                return;
            }
            let started = Instant::now();
            match callback(&rest, id, &p.token, &json!({ "type": 5 })).await {
                Ok(_) => {
                    p.stage = Stage::Deferred;
                    tracing::info!(
                        interaction = id,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "the answer is taking a while; interaction deferred"
                    );
                }
                Err(e) => {
                    tracing::warn!(interaction = id, error = %e, "could not defer an interaction")
                }
            }
        });
    }

    /// Whether `id` is an interaction we are answering.
    pub fn knows(&self, id: u64) -> bool {
        self.get(id).is_some()
    }

    /// Whether `id` was answered.
    pub async fn answered(&self, id: u64) -> bool {
        match self.get(id) {
            Some(e) => e.lock().await.stage == Stage::Answered,
            None => false,
        }
    }

    /// Answers interaction `id`: at once if it is still waiting, else by editing the deferred
    /// response (a private answer replaces it with an ephemeral follow-up, since a public
    /// deferral cannot become ephemeral), else as a further follow-up.
    pub async fn answer(
        &self,
        rest: &Rest,
        application: u64,
        id: u64,
        text: &str,
        private: bool,
    ) -> Result<(), AdapterError> {
        let Some(entry) = self.get(id) else {
            return Err(AdapterError::Permanent(format!(
                "interaction {id} is not waiting for an answer"
            )));
        };
        let mut p = entry.lock().await;
        let flags = if private { EPHEMERAL } else { 0 };
        let pieces = split(text, MAX_CONTENT);
        let message = |content: &str| json!({ "content": content, "flags": flags, "allowed_mentions": allowed_mentions(&[], false) });
        let app = ApplicationId::new(application.max(1));
        let token = p.token.clone();
        let rest_of = match p.stage {
            Stage::Waiting => {
                callback(
                    rest,
                    id,
                    &token,
                    &json!({ "type": 4, "data": message(&pieces[0]) }),
                )
                .await?;
                &pieces[1..]
            }
            Stage::Deferred if !private => {
                let route = Route::WebhookOriginalInteractionResponse {
                    application_id: app,
                    token: &token,
                };
                let body = json!({ "content": pieces[0], "allowed_mentions": allowed_mentions(&[], false) });
                rest.call(
                    LightMethod::Patch,
                    route,
                    Some(&body),
                    None,
                    "editing an interaction's answer",
                )
                .await?;
                &pieces[1..]
            }
            Stage::Deferred => {
                let route = Route::WebhookOriginalInteractionResponse {
                    application_id: app,
                    token: &token,
                };
                rest.call(
                    LightMethod::Delete,
                    route,
                    None,
                    None,
                    "removing a deferred answer",
                )
                .await?;
                &pieces[..]
            }
            Stage::Answered => &pieces[..],
        };
        p.stage = Stage::Answered;
        for piece in rest_of {
            let route = Route::WebhookFollowupMessages {
                application_id: app,
                token: &token,
            };
            rest.call(
                LightMethod::Post,
                route,
                Some(&message(piece)),
                None,
                "following up an interaction",
            )
            .await?;
        }
        Ok(())
    }
}

async fn callback(rest: &Rest, id: u64, token: &str, body: &Value) -> Result<Value, AdapterError> {
    let route = Route::InteractionResponse {
        interaction_id: InteractionId::new(id.max(1)),
        token,
    };
    Ok(rest
        .call(
            LightMethod::Post,
            route,
            Some(body),
            None,
            "answering an interaction",
        )
        .await?)
}

/// Autocomplete choices (callback type 8), answered at once.
pub(crate) async fn suggest(
    rest: &Rest,
    id: u64,
    token: &str,
    choices: Vec<Value>,
) -> Result<(), AdapterError> {
    callback(
        rest,
        id,
        token,
        &json!({ "type": 8, "data": { "choices": choices } }),
    )
    .await
    .map(|_| ())
}
