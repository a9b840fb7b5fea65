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

/// Silent for longer than three heartbeats: gone (killed, or its machine lost).
pub const GONE_AFTER: Duration = Duration::from_secs(3 * HEARTBEAT.as_secs());

/// Several instances on one PostgreSQL database do not share its sessions yet (leases are to
/// come), so a second one would post and relay beside the first. Another that looks alive is
/// watched for a heartbeat: one that beats is running, and this one is refused; one that does
/// not (killed: a restart right after SIGKILL) is waited for until it counts as gone. SQLite
/// needs none of this: its file lock decides.
async fn wait_for_no_other(store: &Store) -> anyhow::Result<()> {
    if store.backend() != bot_core::store::Backend::Postgres {
        return Ok(());
    }
    let gone_ms = GONE_AFTER.as_millis() as i64;
    let alive = |all: Vec<bot_core::store::InstanceRecord>| -> Vec<_> {
        all.into_iter()
            .filter(|i| i.stopped_at.is_none() && i.silent_ms <= gone_ms)
            .collect()
    };
    loop {
        let before = alive(store.instances().await?);
        if before.is_empty() {
            return Ok(());
        }
        tracing::info!(
            instances = before.len(),
            "another instance looks alive on this database; watching for its heartbeat"
        );
        tokio::time::sleep(HEARTBEAT + Duration::from_secs(1)).await;
        let after = alive(store.instances().await?);
        if let Some(other) = after.iter().find(|a| {
            before
                .iter()
                .any(|b| b.id == a.id && a.heartbeat_at > b.heartbeat_at)
        }) {
            anyhow::bail!(
                "another hashchat instance ({} on {}, process {}) is running on this PostgreSQL \
                 database; several instances on one database are not supported yet. Stop it \
                 first (`hashchat status` shows it)",
                &other.id[..other.id.len().min(8)],
                other.host,
                other.pid
            );
        }
        tracing::info!("waiting for an instance that stopped beating to count as gone");
    }
}

impl Presence {
    pub async fn start(store: Store, health: Arc<PlatformHealth>) -> anyhow::Result<Presence> {
        wait_for_no_other(&store).await?;
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
