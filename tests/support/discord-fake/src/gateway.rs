//! The gateway: a WebSocket server speaking Discord's gateway protocol v10 (JSON, no
//! compression).
//!
//! A connection gets Hello, then must Identify (a new session: READY, then GUILD_CREATE per
//! guild) or Resume (the session's missed dispatches are replayed, then RESUMED). Every dispatch
//! goes to every live session whose intents allow it and is kept in that session's log with its
//! sequence number, whether or not a connection is attached at that moment: that log is what a
//! Resume replays. Faults (abrupt drop, op 7 Reconnect, op 9 Invalid Session, refusing
//! connections) are applied through [`GatewayState`] by the test API.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::ids::*;
use crate::state::{intents, ChannelKind, Message, Shared, World};

/// Gateway close codes (Discord's).
pub mod close_codes {
    pub const UNKNOWN_ERROR: u16 = 4000;
    pub const UNKNOWN_OPCODE: u16 = 4001;
    pub const DECODE_ERROR: u16 = 4002;
    pub const NOT_AUTHENTICATED: u16 = 4003;
    pub const AUTHENTICATION_FAILED: u16 = 4004;
    pub const ALREADY_AUTHENTICATED: u16 = 4005;
    pub const INVALID_SEQ: u16 = 4007;
    pub const INVALID_SHARD: u16 = 4010;
    pub const INVALID_API_VERSION: u16 = 4012;
    pub const INVALID_INTENTS: u16 = 4013;
    pub const DISALLOWED_INTENTS: u16 = 4014;
}

/// How many dispatches a session keeps for Resume. Discord keeps a bounded buffer too; a resume
/// from further back gets Invalid Session.
const SESSION_LOG_LIMIT: usize = 100_000;

/// Counters of what happened on the gateway, for tests to assert on.
#[derive(Clone, Debug, Default)]
pub struct GatewayStats {
    /// WebSocket connections accepted (refused ones are not counted here).
    pub connections: u32,
    /// Connections turned away while the gateway was refusing.
    pub refused: u32,
    pub identifies: u32,
    /// Successful resumes.
    pub resumes: u32,
    /// Resume attempts answered with Invalid Session.
    pub failed_resumes: u32,
    pub heartbeats: u32,
    /// Dispatches replayed by resumes, in total.
    pub replayed: u32,
    /// Intents of the last Identify.
    pub last_intents: Option<u64>,
    /// Close codes the fake sent, in order.
    pub close_codes_sent: Vec<u16>,
}

pub(crate) enum ConnCmd {
    Text(Arc<str>),
    /// Abrupt drop: TCP reset, no close frame.
    Drop,
    Close(u16, &'static str),
}

pub(crate) struct Conn {
    tx: mpsc::UnboundedSender<ConnCmd>,
    session: Option<String>,
}

pub(crate) struct Session {
    pub(crate) intents: u64,
    shard: (u32, u32),
    conn: Option<u64>,
    seq: u64,
    log: VecDeque<(u64, Arc<str>)>,
    alive: bool,
}

#[derive(Default)]
pub(crate) struct GatewayState {
    pub(crate) sessions: HashMap<String, Session>,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    next_session: u64,
    pub(crate) stats: GatewayStats,
    pub(crate) refusing: bool,
    pub(crate) refuse_until: Option<Instant>,
    /// New connections wait for Hello while set (see `FakeDiscord::hold_gateway`).
    pub(crate) holding_hello: bool,
    pub(crate) heartbeat_interval_ms: u64,
    pub(crate) url: String,
}

impl GatewayState {
    fn refused_now(&mut self) -> bool {
        if let Some(t) = self.refuse_until {
            if Instant::now() >= t {
                self.refuse_until = None;
            }
        }
        self.refusing || self.refuse_until.is_some()
    }

    fn send(&self, conn: u64, cmd: ConnCmd) {
        if let Some(c) = self.conns.get(&conn) {
            // A closed receiver means the connection task is ending; nothing to do.
            let _ = c.tx.send(cmd);
        }
    }

    /// Drops every connection without a close frame, as a network failure would.
    pub(crate) fn drop_all(&mut self) {
        for c in self.conns.values() {
            let _ = c.tx.send(ConnCmd::Drop);
        }
    }

    pub(crate) fn close_all(&mut self, code: u16) {
        for c in self.conns.values() {
            let _ = c.tx.send(ConnCmd::Close(code, "closed by the test"));
        }
    }

    /// Sends op 7 Reconnect on every connection.
    pub(crate) fn send_reconnect(&mut self) {
        for c in self.conns.values() {
            let _ = c.tx.send(ConnCmd::Text(
                r#"{"op":7,"d":null,"s":null,"t":null}"#.into(),
            ));
        }
    }

    /// Sends op 1 on every connection: the client must heartbeat at once.
    pub(crate) fn request_heartbeat(&mut self) {
        for c in self.conns.values() {
            let _ = c.tx.send(ConnCmd::Text(
                r#"{"op":1,"d":null,"s":null,"t":null}"#.into(),
            ));
        }
    }

    /// Sends op 9 on every identified connection. Not resumable: the session is gone, its
    /// missed events with it, and only a new Identify gets events again.
    pub(crate) fn invalidate_sessions(&mut self, resumable: bool) {
        let frame: Arc<str> = if resumable {
            r#"{"op":9,"d":true,"s":null,"t":null}"#.into()
        } else {
            r#"{"op":9,"d":false,"s":null,"t":null}"#.into()
        };
        let ids: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if !resumable {
                if let Some(sid) = self.conns.get_mut(&id).and_then(|c| c.session.take()) {
                    if let Some(s) = self.sessions.get_mut(&sid) {
                        s.alive = false;
                        s.conn = None;
                    }
                }
            }
            self.send(id, ConnCmd::Text(frame.clone()));
        }
    }

    /// The live session with a connection attached, if any (the bot is "online").
    pub(crate) fn connected_session(&self) -> Option<(&String, &Session)> {
        self.sessions
            .iter()
            .find(|(_, s)| s.alive && s.conn.is_some())
    }

    fn open_conn(&mut self, tx: mpsc::UnboundedSender<ConnCmd>) -> u64 {
        self.next_conn += 1;
        self.stats.connections += 1;
        self.conns
            .insert(self.next_conn, Conn { tx, session: None });
        self.next_conn
    }

    fn close_conn(&mut self, id: u64) {
        if let Some(c) = self.conns.remove(&id) {
            if let Some(s) = c.session.and_then(|sid| self.sessions.get_mut(&sid)) {
                // Only detach if this connection is still the session's: a Resume on a new
                // connection may already have taken the session over.
                if s.conn == Some(id) {
                    s.conn = None;
                }
            }
        }
    }
}

/// What decides whether a session without MESSAGE_CONTENT still sees a message's content.
pub(crate) struct ContentGate {
    author: UserId,
    mentions_bot: bool,
    dm: bool,
}

fn frame(op: u8, d: Value) -> Arc<str> {
    json!({"op": op, "d": d, "s": null, "t": null})
        .to_string()
        .into()
}

/// Empties what Discord withholds without MESSAGE_CONTENT.
fn strip_content(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert("content".into(), json!(""));
        o.insert("embeds".into(), json!([]));
        o.insert("attachments".into(), json!([]));
        o.insert("components".into(), json!([]));
        o.insert("poll".into(), Value::Null);
        if let Some(r) = o.get_mut("referenced_message") {
            if r.is_object() {
                strip_content(r);
            }
        }
    }
}

impl World {
    /// Sends one dispatch to every live session allowed to see it.
    pub(crate) fn dispatch(
        &mut self,
        name: &str,
        data: Value,
        intent: u64,
        guild: Option<GuildId>,
        gate: Option<ContentGate>,
    ) {
        let bot = self.bot_id();
        let mut stripped: Option<Value> = None;
        let gw = &mut self.gateway;
        for s in gw.sessions.values_mut() {
            if !s.alive || (intent != 0 && s.intents & intent == 0) {
                continue;
            }
            // Guild events go to the shard that owns the guild; DMs to shard 0.
            let (shard_id, shard_total) = s.shard;
            let owner = match guild {
                Some(g) if shard_total > 1 => ((g.0 >> 22) % shard_total as u64) as u32,
                _ => 0,
            };
            if owner != shard_id {
                continue;
            }
            let hide = match &gate {
                Some(g) => {
                    s.intents & intents::MESSAGE_CONTENT == 0
                        && g.author != bot
                        && !g.mentions_bot
                        && !g.dm
                }
                None => false,
            };
            let d = if hide {
                stripped
                    .get_or_insert_with(|| {
                        let mut v = data.clone();
                        strip_content(&mut v);
                        v
                    })
                    .clone()
            } else {
                data.clone()
            };
            s.seq += 1;
            let text: Arc<str> = json!({"op": 0, "s": s.seq, "t": name, "d": d})
                .to_string()
                .into();
            s.log.push_back((s.seq, text.clone()));
            if s.log.len() > SESSION_LOG_LIMIT {
                s.log.pop_front();
            }
            if let Some(c) = s.conn.and_then(|c| gw.conns.get(&c)) {
                let _ = c.tx.send(ConnCmd::Text(text));
            }
        }
    }

    fn message_gate(&self, m: &Message) -> ContentGate {
        let dm = self
            .channels
            .get(&m.channel_id)
            .is_some_and(|c| c.kind == ChannelKind::Dm);
        ContentGate {
            author: m.author_id,
            mentions_bot: m.mentions.contains(&self.bot_id()),
            dm,
        }
    }

    fn message_intent(m: &Message) -> u64 {
        if m.guild_id.is_some() {
            intents::GUILD_MESSAGES
        } else {
            intents::DIRECT_MESSAGES
        }
    }

    pub(crate) fn dispatch_message_create(&mut self, m: &Message) {
        if m.is_ephemeral() {
            return; // Nobody but the invoking user's client sees an ephemeral message.
        }
        let d = self.message_json(m, true);
        let gate = self.message_gate(m);
        self.dispatch(
            "MESSAGE_CREATE",
            d,
            Self::message_intent(m),
            m.guild_id,
            Some(gate),
        );
    }

    pub(crate) fn dispatch_message_update(&mut self, m: &Message) {
        if m.is_ephemeral() {
            return;
        }
        let d = self.message_json(m, true);
        let gate = self.message_gate(m);
        self.dispatch(
            "MESSAGE_UPDATE",
            d,
            Self::message_intent(m),
            m.guild_id,
            Some(gate),
        );
    }

    pub(crate) fn dispatch_message_delete(&mut self, m: &Message) {
        if m.is_ephemeral() {
            return;
        }
        let d = json!({"id": m.id, "channel_id": m.channel_id, "guild_id": m.guild_id});
        self.dispatch(
            "MESSAGE_DELETE",
            d,
            Self::message_intent(m),
            m.guild_id,
            None,
        );
    }

    pub(crate) fn dispatch_bulk_delete(
        &mut self,
        channel: ChannelId,
        guild: Option<GuildId>,
        ids: &[MessageId],
    ) {
        let d = json!({"ids": ids, "channel_id": channel, "guild_id": guild});
        let intent = if guild.is_some() {
            intents::GUILD_MESSAGES
        } else {
            intents::DIRECT_MESSAGES
        };
        self.dispatch("MESSAGE_DELETE_BULK", d, intent, guild, None);
    }

    pub(crate) fn dispatch_reaction(
        &mut self,
        name: &str,
        channel: ChannelId,
        message: MessageId,
        user: UserId,
        emoji: &str,
        author: Option<UserId>,
    ) {
        let guild = self.channels.get(&channel).and_then(|c| c.guild_id);
        let mut d = json!({
            "user_id": user,
            "channel_id": channel,
            "message_id": message,
            "guild_id": guild,
            "emoji": crate::model::emoji_json(emoji),
            "burst": false,
            "type": 0,
        });
        if name == "MESSAGE_REACTION_ADD" {
            d["message_author_id"] = json!(author);
            d["burst_colors"] = json!([]);
            if let Some(g) = guild {
                d["member"] = self.member_json(g, user, true);
                d["member"]["guild_id"] = json!(g);
            }
        }
        let intent = if guild.is_some() {
            intents::GUILD_MESSAGE_REACTIONS
        } else {
            intents::DIRECT_MESSAGE_REACTIONS
        };
        self.dispatch(name, d, intent, guild, None);
    }

    pub(crate) fn dispatch_guild_create(&mut self, guild: GuildId) {
        // Each session gets the member list its intents allow, so build per intent set.
        let sessions: Vec<(String, u64)> = self
            .gateway
            .sessions
            .iter()
            .filter(|(_, s)| s.alive)
            .map(|(id, s)| (id.clone(), s.intents))
            .collect();
        for (sid, intents) in sessions {
            let d = self.guild_create_for(guild, intents);
            self.dispatch_to(&sid, "GUILD_CREATE", d, intents::GUILDS);
        }
    }

    /// GUILD_CREATE as a session with `intents` sees it: without GUILD_MEMBERS Discord includes
    /// only the bot's own member object.
    fn guild_create_for(&self, guild: GuildId, session_intents: u64) -> Value {
        let mut d = self.guild_create_json(guild);
        if session_intents & intents::GUILD_MEMBERS == 0 {
            let bot = self.bot_id().to_string();
            if let Some(Value::Array(members)) = d.get_mut("members") {
                members.retain(|m| m["user"]["id"] == bot.as_str());
            }
        }
        d
    }

    /// A dispatch to one session only (READY, per-session GUILD_CREATE).
    fn dispatch_to(&mut self, session: &str, name: &str, d: Value, intent: u64) {
        let gw = &mut self.gateway;
        let Some(s) = gw.sessions.get_mut(session) else {
            return;
        };
        if !s.alive || (intent != 0 && s.intents & intent == 0) {
            return;
        }
        s.seq += 1;
        let text: Arc<str> = json!({"op": 0, "s": s.seq, "t": name, "d": d})
            .to_string()
            .into();
        s.log.push_back((s.seq, text.clone()));
        if let Some(c) = s.conn.and_then(|c| gw.conns.get(&c)) {
            let _ = c.tx.send(ConnCmd::Text(text));
        }
    }

    pub(crate) fn dispatch_channel_event(&mut self, name: &str, channel: ChannelId) {
        let Some(c) = self.channels.get(&channel) else {
            return;
        };
        if c.kind == ChannelKind::Dm {
            return;
        }
        let guild = c.guild_id;
        let mut d = self.channel_json(channel);
        if name == "THREAD_CREATE" {
            d["newly_created"] = json!(true);
        }
        self.dispatch(name, d, intents::GUILDS, guild, None);
    }

    pub(crate) fn dispatch_role_event(&mut self, name: &str, guild: GuildId, role: RoleId) {
        let Some(r) = self.guilds.get(&guild).and_then(|g| g.roles.get(&role)) else {
            return;
        };
        let d = json!({"guild_id": guild, "role": self.role_json(r)});
        self.dispatch(name, d, intents::GUILDS, Some(guild), None);
    }

    pub(crate) fn dispatch_member_event(&mut self, name: &str, guild: GuildId, user: UserId) {
        let mut d = self.member_json(guild, user, true);
        d["guild_id"] = json!(guild);
        self.dispatch(name, d, intents::GUILD_MEMBERS, Some(guild), None);
    }

    /// WEBHOOKS_UPDATE: a channel's webhooks changed (made, modified or deleted).
    pub(crate) fn dispatch_webhooks_update(&mut self, guild: Option<GuildId>, channel: ChannelId) {
        let Some(guild) = guild else {
            return;
        };
        let d = json!({"guild_id": guild, "channel_id": channel});
        self.dispatch(
            "WEBHOOKS_UPDATE",
            d,
            intents::GUILD_WEBHOOKS,
            Some(guild),
            None,
        );
    }

    pub(crate) fn dispatch_scheduled_event(&mut self, name: &str, d: Value, guild: GuildId) {
        self.dispatch(name, d, intents::GUILD_SCHEDULED_EVENTS, Some(guild), None);
    }

    // ----- connection handling -----

    /// Handles one text frame from connection `conn`. Returns a close code to close with.
    fn gateway_frame(&mut self, conn: u64, text: &str) -> Option<(u16, &'static str)> {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return Some((close_codes::DECODE_ERROR, "Error while decoding payload."));
        };
        let Some(op) = v.get("op").and_then(Value::as_u64) else {
            return Some((close_codes::DECODE_ERROR, "Error while decoding payload."));
        };
        let d = v.get("d").cloned().unwrap_or(Value::Null);
        let identified = self
            .gateway
            .conns
            .get(&conn)
            .is_some_and(|c| c.session.is_some());
        match op {
            1 => {
                self.gateway.stats.heartbeats += 1;
                self.gateway.send(
                    conn,
                    ConnCmd::Text(r#"{"op":11,"d":null,"s":null,"t":null}"#.into()),
                );
                None
            }
            2 => {
                if identified {
                    return Some((close_codes::ALREADY_AUTHENTICATED, "Already authenticated."));
                }
                self.identify(conn, &d)
            }
            6 => {
                if identified {
                    return Some((close_codes::ALREADY_AUTHENTICATED, "Already authenticated."));
                }
                self.resume(conn, &d)
            }
            _ if !identified => Some((close_codes::NOT_AUTHENTICATED, "Not authenticated.")),
            // Presence update, voice state update, request guild members: accepted, not modelled.
            3 | 4 | 8 => None,
            _ => Some((close_codes::UNKNOWN_OPCODE, "Unknown opcode.")),
        }
    }

    fn token_ok(&self, d: &Value) -> bool {
        let t = d.get("token").and_then(Value::as_str).unwrap_or("");
        t.strip_prefix("Bot ").unwrap_or(t) == self.app.token
    }

    fn identify(&mut self, conn: u64, d: &Value) -> Option<(u16, &'static str)> {
        if !self.token_ok(d) {
            return Some((close_codes::AUTHENTICATION_FAILED, "Authentication failed."));
        }
        let Some(req_intents) = d.get("intents").and_then(Value::as_u64) else {
            return Some((close_codes::INVALID_INTENTS, "Invalid intent(s)."));
        };
        if req_intents & !intents::ALL_KNOWN != 0 {
            return Some((close_codes::INVALID_INTENTS, "Invalid intent(s)."));
        }
        if req_intents & intents::PRIVILEGED & !self.app.privileged_intents != 0 {
            return Some((close_codes::DISALLOWED_INTENTS, "Disallowed intent(s)."));
        }
        let shard = match d.get("shard") {
            None | Some(Value::Null) => (0, 1),
            Some(s) => {
                let id = s.get(0).and_then(Value::as_u64);
                let total = s.get(1).and_then(Value::as_u64);
                match (id, total) {
                    (Some(id), Some(total)) if total >= 1 && id < total => {
                        (id as u32, total as u32)
                    }
                    _ => return Some((close_codes::INVALID_SHARD, "Invalid shard.")),
                }
            }
        };
        self.gateway.next_session += 1;
        let sid = format!("{:016x}{:016x}", self.next_id(), self.gateway.next_session);
        self.gateway.sessions.insert(
            sid.clone(),
            Session {
                intents: req_intents,
                shard,
                conn: Some(conn),
                seq: 0,
                log: VecDeque::new(),
                alive: true,
            },
        );
        if let Some(c) = self.gateway.conns.get_mut(&conn) {
            c.session = Some(sid.clone());
        }
        self.gateway.stats.identifies += 1;
        self.gateway.stats.last_intents = Some(req_intents);
        let guilds: Vec<GuildId> = self
            .guilds
            .keys()
            .copied()
            .filter(|g| shard.1 <= 1 || ((g.0 >> 22) % shard.1 as u64) as u32 == shard.0)
            .collect();
        let ready = json!({
            "v": 10,
            "user": self.current_user_json(),
            "guilds": guilds.iter().map(|g| json!({"id": g, "unavailable": true})).collect::<Vec<_>>(),
            "session_id": sid,
            "resume_gateway_url": self.gateway.url,
            "shard": [shard.0, shard.1],
            "application": {"id": self.app.id, "flags": self.app.flags()},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "user_settings": {},
            "session_type": "normal",
            "auth": {},
        });
        self.dispatch_to(&sid, "READY", ready, 0);
        for g in guilds {
            let d = self.guild_create_for(g, req_intents);
            self.dispatch_to(&sid, "GUILD_CREATE", d, intents::GUILDS);
        }
        None
    }

    fn resume(&mut self, conn: u64, d: &Value) -> Option<(u16, &'static str)> {
        if !self.token_ok(d) {
            return Some((close_codes::AUTHENTICATION_FAILED, "Authentication failed."));
        }
        let sid = d.get("session_id").and_then(Value::as_str).unwrap_or("");
        let from = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let gw = &mut self.gateway;
        let resumable = gw
            .sessions
            .get(sid)
            .is_some_and(|s| s.alive && s.log.front().is_none_or(|(first, _)| *first <= from + 1));
        if !resumable {
            gw.stats.failed_resumes += 1;
            gw.send(conn, ConnCmd::Text(frame(9, json!(false))));
            return None;
        }
        let s = gw.sessions.get_mut(sid).expect("checked above");
        if from > s.seq {
            return Some((close_codes::INVALID_SEQ, "Invalid seq."));
        }
        // A session has one connection: a resume takes it over from an older one.
        let old = s.conn.replace(conn);
        let missed: Vec<Arc<str>> = s
            .log
            .iter()
            .filter(|(seq, _)| *seq > from)
            .map(|(_, t)| t.clone())
            .collect();
        if let Some(c) = gw.conns.get_mut(&conn) {
            c.session = Some(sid.to_string());
        }
        if let Some(old) = old.filter(|o| *o != conn) {
            if let Some(c) = gw.conns.get_mut(&old) {
                c.session = None;
                let _ = c.tx.send(ConnCmd::Drop);
            }
        }
        gw.stats.resumes += 1;
        gw.stats.replayed += missed.len() as u32;
        for t in missed {
            gw.send(conn, ConnCmd::Text(t));
        }
        let sid = sid.to_string();
        self.dispatch_to(&sid, "RESUMED", json!({"_trace": ["discord-fake"]}), 0);
        None
    }
}

/// Accepts gateway connections until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let refused = shared.with(|w| {
            let r = w.gateway.refused_now();
            if r {
                w.gateway.stats.refused += 1;
            }
            r
        });
        if refused {
            // "Unreachable": reset the connection before any WebSocket handshake.
            let _ = stream.set_zero_linger();
            drop(stream);
            continue;
        }
        tokio::spawn(connection(stream, shared.clone()));
    }
}

// The handshake callback's error type is tungstenite's own (an HTTP response).
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut query = String::new();
    let ws = tokio_tungstenite::accept_hdr_async(stream, |req: &Request, resp: Response| {
        query = req.uri().query().unwrap_or("").to_string();
        Ok(resp)
    })
    .await;
    let Ok(mut ws) = ws else {
        return; // Not a WebSocket handshake: nothing to answer.
    };
    let mut version_ok = true;
    let mut encoding_ok = true;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("v", v)) => version_ok = v == "10",
            Some(("encoding", e)) => encoding_ok = e == "json",
            _ => {}
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (conn, hello) = shared.with(|w| {
        let id = w.gateway.open_conn(tx);
        let hello = frame(10, json!({"heartbeat_interval": w.gateway.heartbeat_interval_ms, "_trace": ["discord-fake"]}));
        (id, hello)
    });
    let early_close = if !version_ok {
        Some((close_codes::INVALID_API_VERSION, "Invalid API version."))
    } else if !encoding_ok {
        Some((close_codes::DECODE_ERROR, "Unsupported encoding."))
    } else {
        None
    };
    if let Some((code, reason)) = early_close {
        close_with(&shared, &mut ws, code, reason).await;
        shared.with(|w| w.gateway.close_conn(conn));
        return;
    }
    // Held: the client is connected but hears nothing until the test lets it go.
    shared
        .wait_for(Duration::from_secs(120), |w| {
            (!w.gateway.holding_hello).then_some(())
        })
        .await;
    if ws.send(WsMessage::text(hello.to_string())).await.is_err() {
        shared.with(|w| w.gateway.close_conn(conn));
        return;
    }
    let started = Instant::now();
    loop {
        // Discord closes a connection that has not identified within a while; 30 s here.
        let identify_deadline =
            tokio::time::sleep(Duration::from_secs(30).saturating_sub(started.elapsed()));
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(WsMessage::Text(t))) => {
                    if let Some((code, reason)) = shared.with(|w| w.gateway_frame(conn, t.as_str())) {
                        close_with(&shared, &mut ws, code, reason).await;
                        break;
                    }
                }
                Some(Ok(WsMessage::Binary(_))) => {
                    // The fake speaks JSON text frames only (no ETF, no zlib).
                    close_with(&shared, &mut ws, close_codes::DECODE_ERROR, "Error while decoding payload.").await;
                    break;
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
            },
            cmd = rx.recv() => match cmd {
                Some(ConnCmd::Text(t)) => {
                    if ws.send(WsMessage::text(t.to_string())).await.is_err() {
                        break;
                    }
                }
                Some(ConnCmd::Drop) | None => {
                    let _ = ws.get_ref().set_zero_linger();
                    break; // dropping `ws` resets the TCP connection: no close frame
                }
                Some(ConnCmd::Close(code, reason)) => {
                    close_with(&shared, &mut ws, code, reason).await;
                    break;
                }
            },
            _ = identify_deadline, if shared.read(|w| w.gateway.conns.get(&conn).is_none_or(|c| c.session.is_none())) => {
                close_with(&shared, &mut ws, close_codes::UNKNOWN_ERROR, "Session timed out.").await;
                break;
            }
        }
    }
    shared.with(|w| w.gateway.close_conn(conn));
}

async fn close_with(
    shared: &Shared,
    ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
    code: u16,
    reason: &'static str,
) {
    shared.with(|w| w.gateway.stats.close_codes_sent.push(code));
    let _ = ws
        .send(WsMessage::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        })))
        .await;
    let _ = ws.close(None).await;
}
