//! This `run`'s entry in the database's list of instances (`Store::register_instance`): it
//! beats every few seconds with how its platforms are, and says when it stops, so
//! `hashchat status` run anywhere shows it. A heartbeat that fails is logged and tried again
//! at the next beat: the bot goes on without it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bot_core::health::PlatformHealth;
use bot_core::store::{NewInstance, Store};

/// How often the instance beats; `hashchat status` calls one silent for three beats gone.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

pub struct Presence {
    store: Store,
    id: String,
    beating: tokio::task::JoinHandle<()>,
}

/// The platforms as `status` shows them: JSON, one object per platform.
fn platforms_json(health: &PlatformHealth) -> String {
    let list: Vec<serde_json::Value> = health
        .snapshot()
        .iter()
        .map(|s| {
            serde_json::json!({
                "platform": s.platform.as_str(),
                "link": s.link.as_str(),
                "away": s.is_away(),
                "silent_seconds": s.silent_for.as_secs(),
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

impl Presence {
    pub async fn start(store: Store, health: Arc<PlatformHealth>) -> anyhow::Result<Presence> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        store
            .register_instance(&NewInstance {
                id: id.clone(),
                host: host_name(),
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .await
            .context("cannot register this instance in the database")?;
        let beating = {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(HEARTBEAT);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    if let Err(e) = store
                        .instance_heartbeat(&id, &platforms_json(&health))
                        .await
                    {
                        tracing::warn!(error = %e, "could not record this instance's heartbeat");
                    }
                }
            })
        };
        tracing::info!(instance = %id, "registered this instance");
        Ok(Presence { store, id, beating })
    }

    pub async fn stop(self) {
        self.beating.abort();
        if let Err(e) = self.store.instance_stopped(&self.id).await {
            tracing::warn!(error = %e, "could not record that this instance stopped");
        }
    }
}
