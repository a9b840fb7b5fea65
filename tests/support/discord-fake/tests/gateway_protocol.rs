//! The gateway, driven by a raw WebSocket client so each frame can be checked: every dispatch
//! the fake sends parses with serenity 0.12.5's `GatewayEvent`/`Event`, intents filter what is
//! sent, resumes replay, invalid sessions end sessions, and bad input gets Discord's close codes.

use std::collections::BTreeSet;
use std::time::Duration;

use discord_fake::{close_codes, intents, FakeDiscord, Post, SlashCommand};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use serenity::all::{
    CommandOptionType, CreateCommand, CreateCommandOption, CreateScheduledEvent, CreateThread,
    EditScheduledEvent, EditThread, HttpBuilder, ScheduledEventStatus, ScheduledEventType,
    Timestamp,
};
use serenity::model::event::{Event, GatewayEvent};
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(fake: &FakeDiscord) -> Ws {
    let url = format!("{}/?v=10&encoding=json", fake.gateway_url());
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("gateway accepts");
    ws
}

/// The next text frame as JSON, parsed with serenity too (a frame serenity rejects fails).
/// `None` on timeout; `Err(code)` when the server closed with a close frame.
async fn recv(ws: &mut Ws, within: Duration) -> Option<Result<(Value, GatewayEvent), Option<u16>>> {
    loop {
        let msg = tokio::time::timeout(within, ws.next()).await.ok()?;
        match msg {
            Some(Ok(WsMessage::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).expect("valid JSON");
                let ev: GatewayEvent = serde_json::from_str(t.as_str())
                    .unwrap_or_else(|e| panic!("serenity rejects {}: {e}\n{t}", v["t"]));
                return Some(Ok((v, ev)));
            }
            Some(Ok(WsMessage::Close(f))) => return Some(Err(f.map(|f| u16::from(f.code)))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Some(Err(None)),
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(WsMessage::text(v.to_string())).await.unwrap();
}

async fn hello(ws: &mut Ws) -> u64 {
    let (v, ev) = recv(ws, Duration::from_secs(5)).await.unwrap().unwrap();
    assert!(matches!(ev, GatewayEvent::Hello(_)), "{v}");
    v["d"]["heartbeat_interval"].as_u64().unwrap()
}

fn identify(fake: &FakeDiscord, intents: u64) -> Value {
    json!({"op": 2, "d": {
        "token": fake.token(), "intents": intents,
        "properties": {"os": "linux", "browser": "test", "device": "test"},
    }})
}

/// Reads dispatches until none arrives for `quiet`; returns (name, seq, serenity event, raw).
async fn drain(ws: &mut Ws, quiet: Duration) -> Vec<(String, u64, Event, Value)> {
    let mut out = vec![];
    while let Some(r) = recv(ws, quiet).await {
        let (v, ev) = r.expect("connection stays open");
        if let GatewayEvent::Dispatch(seq, event) = ev {
            if let Event::Unknown(u) = &event {
                panic!("serenity did not recognise {}", u.kind);
            }
            out.push((v["t"].as_str().unwrap().to_string(), seq, event, v));
        }
    }
    out
}

const QUIET: Duration = Duration::from_millis(300);

fn all_intents() -> u64 {
    intents::GUILDS
        | intents::GUILD_MEMBERS
        | intents::GUILD_MESSAGES
        | intents::GUILD_MESSAGE_REACTIONS
        | intents::DIRECT_MESSAGES
        | intents::MESSAGE_CONTENT
        | intents::GUILD_SCHEDULED_EVENTS
}

#[tokio::test]
async fn every_dispatch_the_fake_sends_parses_with_serenity() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = HttpBuilder::new(fake.token())
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .application_id(serenity::all::ApplicationId::new(
            fake.application_id().get(),
        ))
        .build();
    let mut ws = connect(&fake).await;
    assert_eq!(hello(&mut ws).await, 41_250);
    send(&mut ws, identify(&fake, all_intents())).await;
    let start = drain(&mut ws, QUIET).await;
    assert_eq!(start[0].0, "READY");
    assert_eq!(start[0].1, 1, "sequence numbers start at 1");
    assert_eq!(start[1].0, "GUILD_CREATE");
    if let Event::GuildCreate(g) = &start[1].2 {
        assert!(g.guild.members.len() >= 4, "members with GUILD_MEMBERS");
        assert!(g.guild.channels.len() >= 2);
    } else {
        panic!("not a guild create");
    }

    // Everything a human or the bot can make happen.
    let guild = serenity::all::GuildId::new(d.guild.get());
    let channel = serenity::all::ChannelId::new(d.channel.get());
    http.create_guild_commands(
        guild,
        &vec![CreateCommand::new("chat").description("chats").add_option(
            CreateCommandOption::new(CommandOptionType::SubCommand, "start", "start one")
                .add_sub_option(
                    CreateCommandOption::new(CommandOptionType::String, "chat", "which")
                        .required(true)
                        .set_autocomplete(true),
                ),
        )],
    )
    .await
    .unwrap();
    let first = fake
        .post(Post::new(d.channel, d.alice, "Q1 <@&1> hello").attachment(
            "a.txt",
            "text/plain",
            b"hi".to_vec(),
        ))
        .await
        .unwrap();
    let reply = fake
        .post(Post::new(d.channel, d.bob, "A1 yes").reply_to(first.id))
        .await
        .unwrap();
    fake.edit(d.channel, reply.id, "A1 yes, edited")
        .await
        .unwrap();
    fake.react(d.channel, first.id, d.bob, "👍").await.unwrap();
    fake.unreact(d.channel, first.id, d.bob, "👍")
        .await
        .unwrap();
    let extra = fake
        .post(Post::new(d.channel, d.alice, "one"))
        .await
        .unwrap();
    let extra2 = fake
        .post(Post::new(d.channel, d.alice, "two"))
        .await
        .unwrap();
    fake.bulk_delete(d.channel, &[extra.id, extra2.id]).await;
    fake.delete(d.channel, reply.id).await.unwrap();
    fake.invoke(
        d.moderator,
        d.channel,
        SlashCommand::parse("/chat start chat:interlibnet").unwrap(),
    )
    .await
    .unwrap();
    fake.autocomplete(
        d.moderator,
        d.channel,
        SlashCommand::parse("/chat start chat:inter").unwrap(),
        "chat",
    )
    .await
    .unwrap();
    let thread = channel
        .create_thread_from_message(
            &http,
            serenity::all::MessageId::new(first.id.get()),
            CreateThread::new("Q1 thread"),
        )
        .await
        .unwrap();
    thread
        .id
        .edit_thread(&http, EditThread::new().archived(true).locked(true))
        .await
        .unwrap();
    let start_time = Timestamp::from_unix_timestamp(chrono::Utc::now().timestamp() + 3600).unwrap();
    let end_time = Timestamp::from_unix_timestamp(chrono::Utc::now().timestamp() + 7200).unwrap();
    let ev = guild
        .create_scheduled_event(
            &http,
            CreateScheduledEvent::new(ScheduledEventType::External, "#interlibnet", start_time)
                .end_time(end_time)
                .location("Discord #general"),
        )
        .await
        .unwrap();
    guild
        .edit_scheduled_event(
            &http,
            ev.id,
            EditScheduledEvent::new().status(ScheduledEventStatus::Active),
        )
        .await
        .unwrap();
    guild.delete_scheduled_event(&http, ev.id).await.unwrap();
    let newbie = fake.create_user("newbie");
    fake.add_member(d.guild, newbie, &[]).unwrap();
    fake.create_role(d.guild, "Speakers", 0).unwrap();
    fake.create_channel(d.guild, "another").unwrap();
    let g2 = fake.create_guild("Second guild", d.owner);
    let _ = g2;

    let events = drain(&mut ws, QUIET).await;
    let names: BTreeSet<&str> = events.iter().map(|e| e.0.as_str()).collect();
    for expected in [
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
        "MESSAGE_DELETE",
        "MESSAGE_DELETE_BULK",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE",
        "INTERACTION_CREATE",
        "THREAD_CREATE",
        "THREAD_UPDATE",
        "GUILD_SCHEDULED_EVENT_CREATE",
        "GUILD_SCHEDULED_EVENT_UPDATE",
        "GUILD_SCHEDULED_EVENT_DELETE",
        "GUILD_MEMBER_ADD",
        "GUILD_ROLE_CREATE",
        "CHANNEL_CREATE",
        "GUILD_CREATE",
    ] {
        assert!(names.contains(expected), "no {expected} in {names:?}");
    }
    // Sequence numbers keep counting across the whole session without gaps.
    let seqs: Vec<u64> = start.iter().chain(events.iter()).map(|e| e.1).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // Details serenity must see: member and attachment on messages, the reply's reference,
    // typed interaction options (subcommand → string), autocomplete focus.
    let creates: Vec<&serenity::all::Message> = events
        .iter()
        .filter_map(|e| match &e.2 {
            Event::MessageCreate(m) => Some(&m.message),
            _ => None,
        })
        .collect();
    assert!(creates[0].member.is_some());
    assert_eq!(creates[0].attachments[0].filename, "a.txt");
    assert!(creates[0].attachments[0].url.starts_with(fake.base_url()));
    assert_eq!(
        creates[1].referenced_message.as_ref().map(|m| m.id.get()),
        Some(first.id.get())
    );
    let interactions: Vec<&serenity::all::Interaction> = events
        .iter()
        .filter_map(|e| match &e.2 {
            Event::InteractionCreate(i) => Some(&i.interaction),
            _ => None,
        })
        .collect();
    let serenity::all::Interaction::Command(cmd) = interactions[0] else {
        panic!("a command interaction");
    };
    let opts = cmd.data.options();
    assert_eq!(opts[0].name, "start");
    assert!(
        matches!(&opts[0].value, serenity::all::ResolvedValue::SubCommand(o) if matches!(o[0].value, serenity::all::ResolvedValue::String("interlibnet")))
    );
    let serenity::all::Interaction::Autocomplete(ac) = interactions[1] else {
        panic!("an autocomplete interaction");
    };
    assert_eq!(ac.data.autocomplete().map(|a| a.value), Some("inter"));

    // The attachment is served at its URL.
    let url = &creates[0].attachments[0].url;
    let body = http_get(url).await;
    assert_eq!(body, b"hi");
}

/// A tiny HTTP/1.1 GET over a TcpStream (the fake serves attachments on 127.0.0.1).
async fn http_get(url: &str) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![];
    s.read_to_end(&mut buf).await.unwrap();
    let pos = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(
        buf.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    buf[pos + 4..].to_vec()
}

#[tokio::test]
async fn intents_decide_what_is_dispatched_and_message_content_is_privileged() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    // GUILDS only: no message events at all.
    send(&mut ws, identify(&fake, intents::GUILDS)).await;
    let start = drain(&mut ws, QUIET).await;
    if let Event::GuildCreate(g) = &start[1].2 {
        assert_eq!(
            g.guild.members.len(),
            1,
            "without GUILD_MEMBERS only the bot"
        );
    }
    fake.post(Post::new(d.channel, d.alice, "invisible"))
        .await
        .unwrap();
    assert!(drain(&mut ws, QUIET).await.is_empty());

    // GUILD_MESSAGES without MESSAGE_CONTENT: the message arrives, its content empty.
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    send(
        &mut ws,
        identify(&fake, intents::GUILDS | intents::GUILD_MESSAGES),
    )
    .await;
    drain(&mut ws, QUIET).await;
    fake.post(Post::new(d.channel, d.alice, "hidden").attachment("x.png", "image/png", vec![1, 2]))
        .await
        .unwrap();
    let ev = drain(&mut ws, QUIET).await;
    let Event::MessageCreate(m) = &ev[0].2 else {
        panic!()
    };
    assert_eq!(m.message.content, "");
    assert!(m.message.attachments.is_empty());

    // An application without the MESSAGE_CONTENT privilege may not ask for it: 4014.
    fake.set_privileged_intents(0);
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    send(
        &mut ws,
        identify(&fake, intents::GUILDS | intents::MESSAGE_CONTENT),
    )
    .await;
    let closed = recv(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(closed.err(), Some(Some(close_codes::DISALLOWED_INTENTS)));
}

#[tokio::test]
async fn bad_input_gets_discords_close_codes_not_a_crash() {
    let fake = FakeDiscord::start().await.unwrap();
    let cases: Vec<(Value, u16)> = vec![
        (
            json!({"op": 2, "d": {"token": "wrong", "intents": 1, "properties": {}}}),
            close_codes::AUTHENTICATION_FAILED,
        ),
        (
            json!({"op": 2, "d": {"token": fake.token(), "intents": 1u64 << 40, "properties": {}}}),
            close_codes::INVALID_INTENTS,
        ),
        (
            json!({"op": 3, "d": {"status": "online"}}),
            close_codes::NOT_AUTHENTICATED,
        ),
        (
            json!({"op": 2, "d": {"token": fake.token(), "intents": 1, "shard": [3, 2]}}),
            close_codes::INVALID_SHARD,
        ),
    ];
    for (payload, code) in cases {
        let mut ws = connect(&fake).await;
        hello(&mut ws).await;
        send(&mut ws, payload.clone()).await;
        let r = recv(&mut ws, Duration::from_secs(5)).await.unwrap();
        assert_eq!(r.err(), Some(Some(code)), "for {payload}");
    }
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    ws.send(WsMessage::text("{not json")).await.unwrap();
    let r = recv(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.err(), Some(Some(close_codes::DECODE_ERROR)));
    // The fake still serves new connections.
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    send(&mut ws, identify(&fake, intents::GUILDS)).await;
    assert_eq!(drain(&mut ws, QUIET).await[0].0, "READY");
}

#[tokio::test]
async fn heartbeats_are_acknowledged_and_op1_asks_for_one() {
    let fake = FakeDiscord::start().await.unwrap();
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    send(&mut ws, json!({"op": 1, "d": null})).await;
    let (_, ev) = recv(&mut ws, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ev, GatewayEvent::HeartbeatAck));
    fake.request_heartbeat();
    let (_, ev) = recv(&mut ws, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ev, GatewayEvent::Heartbeat { .. }));
    assert_eq!(fake.gateway_stats().heartbeats, 1);
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_dispatches_then_sends_resumed() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    send(&mut ws, identify(&fake, all_intents())).await;
    let start = drain(&mut ws, QUIET).await;
    let Event::Ready(ready) = &start[0].2 else {
        panic!()
    };
    let session = ready.ready.session_id.clone();
    assert_eq!(ready.ready.resume_gateway_url, fake.gateway_url());
    fake.post(Post::new(d.channel, d.alice, "seen"))
        .await
        .unwrap();
    let seen = drain(&mut ws, QUIET).await;
    let last_seq = seen.last().unwrap().1;

    fake.drop_gateway();
    assert!(
        matches!(recv(&mut ws, Duration::from_secs(5)).await, Some(Err(None))),
        "no close frame"
    );
    fake.post(Post::new(d.channel, d.alice, "missed 1"))
        .await
        .unwrap();
    fake.post(Post::new(d.channel, d.alice, "missed 2"))
        .await
        .unwrap();

    let mut ws = connect(&fake).await;
    send(
        &mut ws,
        json!({"op": 6, "d": {"token": fake.token(), "session_id": session, "seq": last_seq}}),
    )
    .await;
    hello(&mut ws).await;
    let replay = drain(&mut ws, QUIET).await;
    let contents: Vec<String> = replay
        .iter()
        .filter_map(|e| match &e.2 {
            Event::MessageCreate(m) => Some(m.message.content.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(contents, vec!["missed 1", "missed 2"]);
    assert_eq!(replay.last().unwrap().0, "RESUMED");
    assert_eq!(replay[0].1, last_seq + 1);
}

#[tokio::test]
async fn a_non_resumable_invalid_session_loses_the_events_until_a_new_identify() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    send(&mut ws, identify(&fake, all_intents())).await;
    let start = drain(&mut ws, QUIET).await;
    let Event::Ready(ready) = &start[0].2 else {
        panic!()
    };
    let session = ready.ready.session_id.clone();

    fake.invalidate_session(false);
    let (_, ev) = recv(&mut ws, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ev, GatewayEvent::InvalidateSession(false)));
    fake.post(Post::new(d.channel, d.alice, "lost"))
        .await
        .unwrap();
    assert!(
        drain(&mut ws, QUIET).await.is_empty(),
        "nothing for a dead session"
    );

    // Resuming the dead session fails with op 9 d:false.
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    send(
        &mut ws,
        json!({"op": 6, "d": {"token": fake.token(), "session_id": session, "seq": 2}}),
    )
    .await;
    let (_, ev) = recv(&mut ws, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ev, GatewayEvent::InvalidateSession(false)));
    // A new Identify is a new session that does not replay "lost".
    send(&mut ws, identify(&fake, all_intents())).await;
    let fresh = drain(&mut ws, QUIET).await;
    assert_eq!(fresh[0].0, "READY");
    assert!(!fresh
        .iter()
        .any(|e| matches!(&e.2, Event::MessageCreate(_))));
    assert_eq!(fake.gateway_stats().failed_resumes, 1);
}

#[tokio::test]
async fn reconnect_and_resumable_invalid_session_frames_parse_and_refusal_resets_connections() {
    let fake = FakeDiscord::start().await.unwrap();
    let mut ws = connect(&fake).await;
    hello(&mut ws).await;
    send(&mut ws, identify(&fake, intents::GUILDS)).await;
    drain(&mut ws, QUIET).await;
    fake.send_reconnect();
    let (_, ev) = recv(&mut ws, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ev, GatewayEvent::Reconnect));
    fake.invalidate_session(true);
    let (_, ev) = recv(&mut ws, Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ev, GatewayEvent::InvalidateSession(true)));

    fake.refuse_gateway(None);
    assert!(matches!(
        recv(&mut ws, Duration::from_secs(5)).await,
        Some(Err(None))
    ));
    let url = format!("{}/?v=10&encoding=json", fake.gateway_url());
    assert!(
        tokio_tungstenite::connect_async(url.clone()).await.is_err(),
        "refused"
    );
    assert_eq!(fake.gateway_stats().refused, 1);
    fake.restore_gateway();
    assert!(tokio_tungstenite::connect_async(url).await.is_ok());
}
