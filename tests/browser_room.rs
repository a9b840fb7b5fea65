//! The browser room in headless Chromium, against the real `hashchat run`: a moderator and two
//! participants, each in a browser context of their own, take part in one session from their
//! pages alone.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::browser::Browser;
use support::room_page::*;
use support::tab::Tab;
use support::{BotProcess, Scratch};

const SECRET: &str = "a-moderator-secret-for-tests";

pub const CHAT: &str = r##"
slug = "lobbychat"
title = "Libraries <and> the web"
hashtag = "#lobbychat"
description = "A chat held in the browser room."
intro = "Welcome to the lobby! Answer with A1, A2."
wrap_up = "That is all for today."
time_zone = "Europe/London"
minutes_between_points = 240
intro_minutes = 240
reminder_minutes = 0
rooms = ["web:lobby"]
moderators = []

[[points]]
text = "What brought you here?"

[[points]]
text = "What would you change?"

[web]
show_points = true
"##;

/// A bot serving the room on a port of its own, with `CHAT` and the moderators' secret.
fn bot_with_room(chat: &str) -> (BotProcess, String) {
    let scratch = Scratch::new();
    let config = scratch.write_config();
    let port = free_port();
    let text = support::read(&config) + &format!("\n[web]\nlisten = \"127.0.0.1:{port}\"\n");
    std::fs::write(&config, text).unwrap();
    scratch.write("chats/lobbychat.toml", chat);
    let mut bot = BotProcess::new(
        scratch,
        vec![
            "run".into(),
            "--config".into(),
            config.display().to_string(),
        ],
    );
    bot.start(|c| {
        c.env("HASHCHAT_WEB_MODERATOR_TOKEN", SECRET);
    });
    let listen = format!("127.0.0.1:{port}");
    support::wait_for(WAIT, "the web server to answer", || {
        std::net::TcpStream::connect(&listen).is_ok()
    });
    (bot, format!("http://{listen}"))
}

fn messages_under<'a>(transcript: &'a Value, body: &str) -> &'a Value {
    transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"].as_str().is_some_and(|b| b.contains(body)))
        .unwrap_or_else(|| panic!("`{body}` is not in the archive: {transcript:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_and_two_participants_hold_a_session_from_their_browsers() {
    let (mut bot, origin) = bot_with_room(CHAT);
    let browser = Browser::start();
    let mut moderator = Tab::open(&browser, "moderator", 1200, 900).await;
    let mut ada = Tab::open(&browser, "ada", 1200, 900).await;
    let mut bob = Tab::open(&browser, "bob", 390, 844).await;

    // Between sessions: the description, the points to come, an RSVP, the title escaped.
    ada.goto(&format!("{origin}/r/lobby")).await;
    let page = ada.eval("document.body.innerText").await;
    let page = page.as_str().unwrap();
    assert!(page.contains("Libraries <and> the web"), "{page}");
    assert!(page.contains("Between sessions"), "{page}");
    assert!(
        page.contains("What would you change?"),
        "the points to come: {page}"
    );
    assert!(page.contains("Coming?"), "{page}");
    ada.screenshot(&screenshots().join("room-between-desktop.png"))
        .await;

    // The moderator signs in with the secret and joins under a name.
    moderator
        .goto(&format!("{origin}/signin?token={SECRET}"))
        .await;
    moderator
        .eval("document.querySelector('form[action=\"/signin\"]').submit(); true")
        .await;
    moderator
        .wait_for(
            "location.pathname === '/r'",
            WAIT,
            "the sign-in to land on the rooms",
        )
        .await;
    join(&mut moderator, &origin, "Moderator Mo").await;
    assert_eq!(
        moderator
            .eval("document.querySelector('.mod-panel') !== null")
            .await,
        Value::Bool(true),
        "the moderator has the controls"
    );
    join(&mut ada, &origin, "Ada").await;
    join(&mut bob, &origin, "Bob").await;
    assert_eq!(
        bob.eval("document.querySelector('.mod-panel') === null")
            .await,
        Value::Bool(true),
        "a participant has none"
    );

    // The same name twice in one room is refused, in words.
    let mut eve = Tab::open(&browser, "eve", 1200, 900).await;
    eve.goto(&format!("{origin}/r/lobby")).await;
    eve.eval("document.getElementById('join-name').value = ' ada '; document.getElementById('join').requestSubmit(); true")
        .await;
    eve.wait_for(
        "document.querySelector('#join .form-status').textContent.includes('already goes by')",
        WAIT,
        "the duplicate name to be refused",
    )
    .await;

    // The moderator starts the session from the page: the intro appears on every page.
    command(&mut moderator, "start").await;
    for tab in [&mut ada, &mut bob, &mut moderator] {
        tab.wait_for(&shows("Welcome to the lobby!"), WAIT, "the intro")
            .await;
    }
    command(&mut moderator, "next point").await;
    for tab in [&mut ada, &mut bob] {
        tab.wait_for(&shows("What brought you here?"), WAIT, "Q1")
            .await;
    }
    ada.wait_for(
        "document.getElementById('room-state').textContent === 'Live now: Q1 of 2.'",
        WAIT,
        "the state line to follow the points",
    )
    .await;

    // Answers reach the other participant within a second.
    assert_eq!(send(&mut ada, "A1 the reading room, of course").await, "");
    let seen = bob
        .wait_for(&shows("A1 the reading room"), WAIT, "Ada's answer")
        .await;
    assert!(
        seen < Duration::from_secs(1),
        "Bob saw Ada's answer after {seen:?}"
    );
    bob.eval("document.getElementById('say-body').focus(); true")
        .await;
    bob.type_text("A1 a friend told me").await;
    bob.press("Enter", 2).await; // Ctrl+Enter sends, from the keyboard alone
    bob.wait_for(
        "document.getElementById('say-body').value === ''",
        WAIT,
        "the sent text to leave the box",
    )
    .await;
    let seen = ada
        .wait_for(&shows("A1 a friend told me"), WAIT, "Bob's answer")
        .await;
    assert!(
        seen < Duration::from_secs(1),
        "Ada saw Bob's answer after {seen:?}"
    );

    // A reply and a reaction.
    bob.eval(
        "Array.from(document.querySelectorAll('.room-msg')).find(function (m) { return m.dataset.author === 'Ada'; })\
         .querySelector('button[data-act=reply]').click(); true",
    )
    .await;
    assert_eq!(send(&mut bob, "Same here, Ada").await, "");
    ada.wait_for(
        "Array.from(document.querySelectorAll('.room-msg')).some(function (m) { return m.textContent.includes('Same here') && m.textContent.includes('in reply to Ada'); })",
        WAIT,
        "Bob's reply, shown as a reply",
    )
    .await;
    ada.eval(
        "Array.from(document.querySelectorAll('.room-msg')).find(function (m) { return m.dataset.author === 'Bob'; })\
         .querySelector('button[data-act=react]').click(); true",
    )
    .await;
    bob.wait_for(
        "Array.from(document.querySelectorAll('.room-reaction')).some(function (r) { return r.textContent.includes('Ada') && r.textContent.includes('👍'); })",
        WAIT,
        "Ada's reaction",
    )
    .await;

    // A reload mid-session shows everything once.
    let before = bob
        .eval("Array.from(document.querySelectorAll('#events [data-seq]')).map(function (e) { return e.id; })")
        .await;
    bob.goto(&format!("{origin}/r/lobby")).await;
    bob.settle(Duration::from_millis(500)).await;
    let after = bob
        .eval("Array.from(document.querySelectorAll('#events [data-seq]')).map(function (e) { return e.id; })")
        .await;
    let ids: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "shown twice after a reload: {ids:?}"
    );
    for id in before.as_array().unwrap() {
        assert!(
            ids.contains(&id.as_str().unwrap()),
            "{id} lost in the reload: {ids:?}"
        );
    }
    bob.screenshot(&screenshots().join("room-live-phone.png"))
        .await;

    // The moderator pauses, advances and resumes; Q2 appears; an answer goes under it.
    command(&mut moderator, "pause").await;
    moderator
        .wait_for(
            "document.querySelector('#events').textContent.toLowerCase().includes('paus')",
            WAIT,
            "the bot to say it paused",
        )
        .await;
    command(&mut moderator, "next point").await;
    for tab in [&mut ada, &mut bob] {
        tab.wait_for(&shows("What would you change?"), WAIT, "Q2")
            .await;
    }
    command(&mut moderator, "resume").await;
    assert_eq!(send(&mut ada, "A2 longer opening hours").await, "");
    bob.wait_for(
        &shows("A2 longer opening hours"),
        WAIT,
        "Ada's second answer",
    )
    .await;

    // The rate limit answers in words, and the text stays in the box.
    let mut refusal = String::new();
    for n in 0..8 {
        refusal = send(&mut ada, &format!("quick message {n}")).await;
        if !refusal.is_empty() {
            break;
        }
    }
    assert!(
        refusal.contains("faster than the room allows"),
        "{refusal:?}"
    );
    assert!(
        ada.eval("document.getElementById('say-body').value")
            .await
            .as_str()
            .unwrap()
            .starts_with("quick message"),
        "the refused text is kept"
    );
    moderator
        .screenshot(&screenshots().join("room-live-desktop.png"))
        .await;

    // A moderator hides a message: it leaves every page, and the transcript keeps it hidden.
    moderator
        .eval(
            "Array.from(document.querySelectorAll('.room-msg')).find(function (m) { return m.textContent.includes('quick message 0'); })\
             .querySelector('button[data-act=hide]').click(); true",
        )
        .await;
    bob.wait_for(
        "!Array.from(document.querySelectorAll('.room-msg')).some(function (m) { return m.textContent.includes('quick message 0'); })",
        WAIT,
        "the hidden message to leave the room",
    )
    .await;
    bob.dark().await;
    bob.screenshot(&screenshots().join("room-live-phone-dark.png"))
        .await;

    command(&mut moderator, "stop").await;
    for tab in [&mut ada, &mut bob] {
        tab.wait_for(&shows("That is all for today."), WAIT, "the wrap-up")
            .await;
    }

    for (tab, expected) in [
        (&mut moderator, &[][..]),
        (&mut ada, &[429][..]),
        (&mut bob, &[][..]),
        (&mut eve, &[409][..]),
    ] {
        tab.settle(Duration::from_millis(300)).await;
        assert_clean(tab, &origin, expected);
    }

    let status = bot.stop();
    assert!(status.success(), "{status:?}\n{}", bot.logs());
    let transcript = bot.transcript("1");
    assert_eq!(transcript["session"]["state"], "ended");
    let a1 = messages_under(&transcript, "A1 the reading room");
    assert_eq!(a1["point"], 1);
    assert_eq!(a1["author"]["name"], "Ada");
    assert_eq!(a1["platform"], "web");
    assert_eq!(a1["platform_label"], "Web");
    assert!(a1["reactions"].is_null(), "no one reacted to it: {a1:#}");
    let bob_a1 = messages_under(&transcript, "A1 a friend told me");
    assert_eq!(bob_a1["point"], 1);
    assert_eq!(
        bob_a1["reactions"],
        serde_json::json!([{ "key": "👍", "count": 1 }])
    );
    let reply = messages_under(&transcript, "Same here, Ada");
    assert_eq!(reply["reply_to"], a1["platform_message_id"]);
    assert_eq!(
        messages_under(&transcript, "A2 longer opening hours")["point"],
        2
    );
    assert_eq!(
        messages_under(&transcript, "quick message 0")["hidden"],
        true
    );
    support::assert_a_clean_log(&bot.logs());
}
