//! `hashchat status`: the picture an operator needs, from the database, so it can run on any
//! machine that reaches it: the instances (alive, or how long silent), each one's platforms as
//! it last reported them, the sessions running now, sessions by state, and what waits in the
//! outbox.

use std::fmt::Write as _;
use std::process::ExitCode;

use bot_core::model::SessionState;
use bot_core::store::{InstanceRecord, OperationsSnapshot};

use super::common::{database_url, load_config, open_store, redact};
use super::presence::GONE_AFTER;
use super::StoreArgs;

const GONE_AFTER_MS: i64 = GONE_AFTER.as_millis() as i64;

pub async fn status(args: &StoreArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.config)?;
    let url = database_url(args, &config);
    let store = open_store(&url).await?;
    let instances = store.instances().await?;
    let ops = store.operations_snapshot().await?;
    let running: Vec<_> = store
        .active_sessions()
        .await?
        .into_iter()
        .filter(|s| s.state.is_live())
        .collect();
    let mut out = format!("Database: {}\n", redact(&url));
    out.push_str(&instances_section(&instances));
    out.push_str(&sessions_section(&ops, &running));
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn state_of(i: &InstanceRecord) -> String {
    match i.stopped_at {
        Some(at) => format!("stopped {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        None if i.silent_ms > GONE_AFTER_MS => {
            format!("gone: silent for {} s", i.silent_ms / 1000)
        }
        None => "running".to_owned(),
    }
}

fn instances_section(instances: &[InstanceRecord]) -> String {
    let mut out = String::new();
    if instances.is_empty() {
        out.push_str("\nInstances: none has run on this database yet.\n");
        return out;
    }
    out.push_str("\nInstances (newest first):\n");
    for i in instances {
        let _ = writeln!(
            out,
            "  {id}  {host} pid {pid}  v{version}  started {started}  {state}",
            id = &i.id[..i.id.len().min(8)],
            host = i.host,
            pid = i.pid,
            version = i.version,
            started = i.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            state = state_of(i),
        );
        if i.stopped_at.is_some() || i.silent_ms > GONE_AFTER_MS {
            continue;
        }
        let platforms: Vec<serde_json::Value> =
            serde_json::from_str(&i.platforms_json).unwrap_or_default();
        for p in platforms {
            let name = p["platform"].as_str().unwrap_or("?");
            let link = p["link"].as_str().unwrap_or("?");
            let silent = p["silent_seconds"].as_u64().unwrap_or(0);
            let away = if p["away"].as_bool().unwrap_or(false) {
                "  AWAY"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "      {name:<8} {link:<10} last heard {silent} s ago{away}"
            );
        }
    }
    out
}

fn sessions_section(ops: &OperationsSnapshot, running: &[bot_core::model::Session]) -> String {
    let mut out = String::from("\nSessions:");
    let mut any = false;
    for state in SessionState::ALL {
        if let Some((_, n)) = ops.sessions_by_state.iter().find(|(s, _)| *s == state) {
            let _ = write!(out, " {state} {n},");
            any = true;
        }
    }
    if any {
        out.pop();
    } else {
        out.push_str(" none");
    }
    out.push('\n');
    for s in running {
        let _ = writeln!(
            out,
            "  now: session {} ({}), {}, {}",
            s.id,
            s.chat_slug,
            s.state,
            match s.current_point {
                Some(q) => format!("on Q{q}"),
                None => "before Q1".to_owned(),
            }
        );
    }
    for (what, w) in [("steps", &ops.steps), ("relayed copies", &ops.relays)] {
        let _ = write!(out, "Outbox: {} {what} waiting", w.count);
        if let Some(at) = w.oldest {
            let _ = write!(
                out,
                ", the oldest since {}",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            );
        }
        out.push('\n');
    }
    out
}
