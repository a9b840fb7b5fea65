//! Our own gateway connection: one task that reads the WebSocket, heartbeats, resumes after a
//! drop and identifies again after a session that cannot be resumed, and hands every dispatch
//! on, in the order Discord sent it, through a channel.
//!
//! Why not serenity's `Client`: it spawns one task per event (`dispatch_model`), and tokio's
//! LIFO slot runs consecutive spawns out of order, so an edit can be seen before its message
//! and commands out of the order they were typed. Driving serenity's `Shard` ourselves is not
//! possible either: in 0.12.5 `WsClient::recv_json` (how a shard is read) is crate-private. The
//! gateway protocol a bot needs is small (Hello, Identify, Resume, Heartbeat/ACK, Dispatch,
//! Reconnect, Invalid Session, close codes), so it is written here on the same
//! tokio-tungstenite (and TLS) serenity itself builds; serenity stays unmodified and is used
//! for REST and the command builders.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite_discord::tungstenite::Message as WsMessage;

/// GUILDS, GUILD_MESSAGES, GUILD_MESSAGE_REACTIONS, MESSAGE_CONTENT (privileged).
pub const INTENTS: u64 = (1 << 0) | (1 << 9) | (1 << 10) | (1 << 15);
const HELLO_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Completes once `stop` is true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// What the gateway tells the listener, in order.
#[derive(Debug)]
pub(crate) enum GatewayItem {
    /// A new session (after Identify): whatever happened while there was none is only in the
    /// channels' history.
    Ready {
        me: u64,
        application: u64,
    },
    /// The old session goes on; Discord replays what was missed.
    Resumed,
    Dispatch {
        t: String,
        d: Value,
    },
    /// The connection is gone (it is being re-established).
    Lost,
    /// Discord acknowledged a heartbeat: the connection is alive, events or not.
    Beat,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("Discord closed the gateway with {code} ({reason}); not reconnecting")]
    Fatal { code: u16, reason: String },
}

struct Session {
    id: String,
    resume_url: String,
}

enum Next {
    Resume,
    Reidentify,
    Stop,
}

pub(crate) struct Gateway {
    pub url: String,
    pub token: String,
    pub intents: u64,
}

type Ws = tokio_tungstenite_discord::WebSocketStream<
    tokio_tungstenite_discord::MaybeTlsStream<tokio::net::TcpStream>,
>;

impl Gateway {
    /// Runs until `stop` turns true or Discord says never to come back (bad token, intents
    /// not allowed).
    pub async fn run(
        self,
        tx: mpsc::UnboundedSender<GatewayItem>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), GatewayError> {
        let mut session: Option<Session> = None;
        let mut seq: Option<u64> = None;
        let mut backoff = Duration::from_secs(1);
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let base = session.as_ref().map_or(&self.url, |s| &s.resume_url);
            let url = format!("{}/?v=10&encoding=json", base.trim_end_matches('/'));
            let connected = tokio::select! {
                _ = stopped(&mut stop) => return Ok(()),
                c = tokio_tungstenite_discord::connect_async(url.as_str()) => c,
            };
            let mut ws = match connected {
                Ok((ws, _)) => ws,
                Err(e) => {
                    tracing::debug!(error = %e, ?backoff, "Discord gateway unreachable");
                    tokio::select! {
                        _ = stopped(&mut stop) => return Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            let next = self
                .connection(
                    &mut ws,
                    &mut session,
                    &mut seq,
                    &tx,
                    &mut stop,
                    &mut backoff,
                )
                .await?;
            let _ = tx.send(GatewayItem::Lost);
            match next {
                Next::Stop => {
                    let _ = ws.close(None).await;
                    return Ok(());
                }
                Next::Resume => {}
                Next::Reidentify => {
                    session = None;
                    seq = None;
                }
            }
        }
    }

    async fn send(ws: &mut Ws, v: Value) -> bool {
        ws.send(WsMessage::Text(v.to_string())).await.is_ok()
    }

    /// One WebSocket connection, from Hello until it ends; what to do next.
    async fn connection(
        &self,
        ws: &mut Ws,
        session: &mut Option<Session>,
        seq: &mut Option<u64>,
        tx: &mpsc::UnboundedSender<GatewayItem>,
        stop: &mut watch::Receiver<bool>,
        backoff: &mut Duration,
    ) -> Result<Next, GatewayError> {
        let hello = tokio::select! {
            _ = stopped(stop) => return Ok(Next::Stop),
            h = tokio::time::timeout(HELLO_TIMEOUT, ws.next()) => h,
        };
        let interval = match hello {
            Ok(Some(Ok(WsMessage::Text(text)))) => serde_json::from_str::<Value>(&text)
                .ok()
                .filter(|v| v["op"] == 10)
                .and_then(|v| v["d"]["heartbeat_interval"].as_u64()),
            _ => None,
        };
        let Some(interval) = interval.filter(|i| *i > 0) else {
            tracing::warn!("no Hello from the Discord gateway; connecting again");
            tokio::time::sleep(*backoff).await;
            *backoff = (*backoff * 2).min(MAX_BACKOFF);
            return Ok(Next::Resume);
        };
        let interval = Duration::from_millis(interval);
        let opened = match session {
            Some(s) => {
                Self::send(
                    ws,
                    json!({"op": 6, "d": {"token": self.token, "session_id": s.id, "seq": *seq}}),
                )
                .await
            }
            None => {
                Self::send(
                    ws,
                    json!({"op": 2, "d": {
                        "token": self.token,
                        "intents": self.intents,
                        "properties": {"os": std::env::consts::OS, "browser": "hashchat", "device": "hashchat"},
                    }}),
                )
                .await
            }
        };
        if !opened {
            return Ok(Next::Resume);
        }
        // The first heartbeat comes after a part of the interval, as Discord asks (jitter), so
        // that many bots reconnecting at once do not all beat together.
        let jitter = Duration::from_millis(u64::from(std::process::id() % 1000));
        let first = interval.mul_f64(0.5) + jitter.min(interval / 2);
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + first, interval);
        let mut acked = true;
        loop {
            let message = tokio::select! {
                _ = stopped(stop) => return Ok(Next::Stop),
                _ = heartbeat.tick() => {
                    if !acked {
                        tracing::info!("Discord gateway stopped answering heartbeats; reconnecting");
                        return Ok(Next::Resume);
                    }
                    acked = false;
                    if !Self::send(ws, json!({"op": 1, "d": *seq})).await {
                        return Ok(Next::Resume);
                    }
                    continue;
                }
                m = ws.next() => m,
            };
            let text = match message {
                Some(Ok(WsMessage::Text(text))) => text,
                Some(Ok(WsMessage::Close(frame))) => {
                    let (code, reason) = frame.map_or((1000, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    });
                    return match code {
                        4004 | 4010 | 4011 | 4012 | 4013 | 4014 => {
                            Err(GatewayError::Fatal { code, reason })
                        }
                        4007 | 4009 => {
                            tracing::info!(
                                code,
                                "Discord gateway session ended; identifying again"
                            );
                            Ok(Next::Reidentify)
                        }
                        _ => {
                            tracing::info!(code, %reason, "Discord gateway closed; resuming");
                            Ok(Next::Resume)
                        }
                    };
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    tracing::info!(error = %e, "lost the Discord gateway; resuming");
                    return Ok(Next::Resume);
                }
                None => {
                    tracing::info!("the Discord gateway connection ended; resuming");
                    return Ok(Next::Resume);
                }
            };
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                tracing::warn!("unreadable gateway message skipped");
                continue;
            };
            match v["op"].as_u64() {
                Some(0) => {
                    if let Some(s) = v["s"].as_u64() {
                        *seq = Some(s);
                    }
                    let t = v["t"].as_str().unwrap_or_default().to_owned();
                    let d = v.get("d").cloned().unwrap_or(Value::Null);
                    match t.as_str() {
                        "READY" => {
                            let id = d["session_id"].as_str().unwrap_or_default().to_owned();
                            let resume_url = d["resume_gateway_url"]
                                .as_str()
                                .unwrap_or(&self.url)
                                .to_owned();
                            *session = Some(Session { id, resume_url });
                            *backoff = Duration::from_secs(1);
                            let id_of =
                                |x: &Value| x.as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
                            let _ = tx.send(GatewayItem::Ready {
                                me: id_of(&d["user"]["id"]),
                                application: id_of(&d["application"]["id"]),
                            });
                        }
                        "RESUMED" => {
                            *backoff = Duration::from_secs(1);
                            let _ = tx.send(GatewayItem::Resumed);
                        }
                        _ => {
                            let _ = tx.send(GatewayItem::Dispatch { t, d });
                        }
                    }
                }
                // Discord asks for a heartbeat now.
                Some(1) if !Self::send(ws, json!({"op": 1, "d": *seq})).await => {
                    return Ok(Next::Resume);
                }
                Some(7) => {
                    tracing::info!("Discord asked for a reconnect; resuming");
                    return Ok(Next::Resume);
                }
                Some(9) => {
                    let resumable = v["d"].as_bool().unwrap_or(false);
                    tracing::info!(resumable, "Discord invalidated the gateway session");
                    // Discord asks for a pause of 1–5 s before the next Identify.
                    tokio::time::sleep(Duration::from_millis(
                        1000 + u64::from(std::process::id() % 4000),
                    ))
                    .await;
                    return Ok(if resumable {
                        Next::Resume
                    } else {
                        Next::Reidentify
                    });
                }
                Some(11) => {
                    acked = true;
                    let _ = tx.send(GatewayItem::Beat);
                }
                _ => {}
            }
        }
    }
}
