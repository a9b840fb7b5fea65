//! The `hashchat` binary as a Matrix bot, end to end against the real Synapse that
//! `scripts/test` starts: commands, points on accelerated time, answers of every kind, the
//! archive they end up in, encrypted rooms, power levels in old and new room versions, and a
//! SIGKILL mid-session.

#![recursion_limit = "256"]

#[path = "support/matrix.rs"]
mod matrix;
mod support;

use std::time::Duration;

use matrix::*;
use serde_json::Value;
use support::synapse::Homeserver;

const WAIT: Duration = Duration::from_secs(60);

fn message<'a>(transcript: &'a Value, event: &str) -> &'a Value {
    transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform_message_id"] == event)
        .unwrap_or_else(|| panic!("{event} is not in the archive: {transcript:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_runs_in_a_matrix_room_and_is_archived_under_its_points() {
    let server = Homeserver::from_env();
    let (moderator, ann, bob, room, mut bot) = room_with_bot(&server, None, false, 1).await;
    let create = server
        .get_json(
            &format!(
                "{}/_matrix/client/v3/rooms/{room}/state/m.room.create/",
                server.url
            ),
            Some(&moderator.access_token),
        )
        .await;
    assert_eq!(
        create["room_version"], "12",
        "the default room version is 12"
    );

    // Someone without power asks: a clear refusal, as a reply to them, and nothing starts.
    let asked = ann.say(&room, "!chat start quick").await;
    let refusal = ann
        .wait_for(&room, &bot.user_id, "the refusal", WAIT, |e| {
            e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == asked.as_str()
        })
        .await;
    assert_eq!(refusal["content"]["msgtype"], "m.notice");
    assert!(
        body(&refusal).contains("Only moderators"),
        "{}",
        body(&refusal)
    );
    assert_eq!(
        refusal["content"]["m.mentions"]["user_ids"][0],
        ann.user_id.as_str()
    );

    // The room's creator has no entry in m.room.power_levels in a v12 room, and moderates.
    moderator.say(&room, "!chat start quick").await;
    let started = moderator
        .wait_for(
            &room,
            &bot.user_id,
            "the start reply",
            WAIT,
            starts("Started"),
        )
        .await;
    assert_eq!(started["content"]["msgtype"], "m.notice");
    let session = session_number(&started);
    let q1 = ann
        .wait_for(&room, &bot.user_id, "Q1", WAIT, starts("Q1:"))
        .await;
    assert_eq!(q1["content"]["format"], "org.matrix.custom.html");
    assert!(q1["content"]["formatted_body"]
        .as_str()
        .unwrap()
        .starts_with("<strong>Q1</strong>: What brought you here?"));

    let a1 = ann.say(&room, "A1 libraries are for everyone").await;
    let reply = bob
        .reply(&room, &event_id(&q1), "agreed, shelves and all")
        .await;
    ann.wait_for(&room, &bot.user_id, "Q2", WAIT, starts("Q2:"))
        .await;
    let typo = ann.say(&room, "A2 catalogue tyop").await;
    ann.edit(&room, &typo, "A2 catalogue typo fixed").await;
    let oops = bob.say(&room, "A2 wrong room, sorry").await;
    bob.redact(&room, &oops).await;
    let picture = bob
        .send_image(&server, &room, PNG, "A2 our reading corner")
        .await;
    // Reactions: two kept, one taken back.
    bob.react(&room, &a1, "👍").await;
    let taken_back = moderator.react(&room, &a1, "👍").await;
    ann.react(&room, &reply, "🎉").await;
    moderator.redact(&room, &taken_back).await;
    // Matrix lets anyone send an "edit" of anyone's message; the archive takes the author's only.
    bob.edit(&room, &a1, "A1 words put in ann's mouth").await;
    ann.wait_for(&room, &bot.user_id, "Q3", WAIT, starts("Q3:"))
        .await;
    let on_screen = ann
        .say(&room, "no prefix: this answers the point on screen")
        .await;
    stop_session(&moderator, &room, &bot).await;

    assert_each_step_once(&moderator, &room, &bot).await;

    // The image is copied into the media store in the background.
    let start = std::time::Instant::now();
    while !bot
        .export(&session, "html")
        .contains("data:image/png;base64,")
    {
        assert!(
            start.elapsed() < WAIT,
            "the image was never copied; log:\n{}",
            bot.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = bot.stop();
    assert!(status.success(), "clean exit: {status:?}\n{}", bot.logs());

    let transcript = bot.transcript(&session);
    assert_eq!(
        archived(&transcript),
        vec![
            (
                ann.user_id.clone(),
                "A1 libraries are for everyone".into(),
                Some(1)
            ),
            (
                bob.user_id.clone(),
                "agreed, shelves and all".into(),
                Some(1)
            ),
            (
                ann.user_id.clone(),
                "A2 catalogue typo fixed".into(),
                Some(2)
            ),
            (bob.user_id.clone(), "A2 our reading corner".into(), Some(2)),
            (
                ann.user_id.clone(),
                "no prefix: this answers the point on screen".into(),
                Some(3)
            ),
        ],
        "exactly the answers, under their points: no command, no redacted message, no forged edit"
    );
    assert_eq!(
        message(&transcript, &reply)["reply_to"],
        event_id(&q1).as_str()
    );
    assert_eq!(
        message(&transcript, &typo)["edits"][0]["body"],
        "A2 catalogue tyop"
    );
    let image = &message(&transcript, &picture)["attachments"][0];
    assert_eq!(image["name"], "pic.png");
    assert!(image["url"]
        .as_str()
        .unwrap()
        .starts_with("mxc://localhost/"));
    assert_eq!(message(&transcript, &on_screen)["point"], 3);
    assert_eq!(transcript["session"]["state"], "ended");
    assert_eq!(
        message(&transcript, &a1)["reactions"],
        serde_json::json!([{ "key": "👍", "count": 1 }]),
        "the reaction kept, the one taken back gone"
    );
    assert_eq!(
        message(&transcript, &reply)["reactions"],
        serde_json::json!([{ "key": "🎉", "count": 1 }])
    );
    // The adapter recorded where each message can be seen, and under which name.
    let encode = hashchat_matrix::links::percent_encode_component;
    assert_eq!(message(&transcript, &a1)["platform_label"], "Matrix");
    assert_eq!(
        message(&transcript, &a1)["permalink"],
        format!("https://matrix.to/#/{}/{}", encode(&room), encode(&a1))
    );
    support::assert_a_clean_log(&bot.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_an_older_room_version_power_level_50_moderates_a_member_does_not_and_the_prefix_is_configurable(
) {
    let server = Homeserver::from_env();
    let creator = Person::new(&server, "creator").await;
    let helper = Person::new(&server, "helper").await;
    let member = Person::new(&server, "member").await;
    let room = creator
        .create_room(
            &server,
            Some("10"),
            false,
            Some(serde_json::json!({ "users": { creator.user_id.clone(): 100, helper.user_id.clone(): 50 } })),
        )
        .await;
    for p in [&helper, &member] {
        creator.invite(&room, &p.user_id).await;
        p.join(&room).await;
    }
    let mut bot = Bot::new(&server, "quick", &room, &[&creator.user_id], 1).await;
    // This room's bot answers to its own prefix, and to nothing else.
    bot.set_command_prefix("!hc");
    bot.start();
    creator.invite(&room, &bot.user_id).await;
    bot.wait_joined(&room, &creator).await;

    let asked = member.say(&room, "!hc start quick").await;
    let refusal = member
        .wait_for(&room, &bot.user_id, "the refusal", WAIT, |e| {
            e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == asked.as_str()
        })
        .await;
    assert!(body(&refusal).contains("Only moderators"));

    let other_prefix = helper.say(&room, "!chat start quick").await;
    start_session(&helper, &room, &bot).await;
    helper
        .wait_for(&room, &bot.user_id, "the intro", WAIT, starts("Intro:"))
        .await;
    // Events are handled in order: by now `!chat start` was read, and it was not a command.
    let answered_other_prefix = helper.messages(&room).await.iter().any(|e| {
        e["sender"] == bot.user_id.as_str()
            && e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == other_prefix.as_str()
    });
    assert!(
        !answered_other_prefix,
        "the bot answered `!chat` although its prefix is `!hc`"
    );

    stop_session(&creator, &room, &bot).await;
    let status = bot.stop();
    assert!(status.success(), "{}", bot.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_runs_in_an_encrypted_room() {
    let server = Homeserver::from_env();
    let (moderator, ann, bob, room, mut bot) = room_with_bot(&server, None, true, 1).await;

    let session = start_session(&moderator, &room, &bot).await;
    let q1 = ann
        .wait_for(&room, &bot.user_id, "Q1 (decrypted)", WAIT, starts("Q1:"))
        .await;
    let a1 = ann.say(&room, "A1 encrypted and archived").await;
    bob.reply(&room, &event_id(&q1), "a reply nobody else can read")
        .await;
    ann.edit(&room, &a1, "A1 encrypted, edited and archived")
        .await;
    let picture = bob.send_encrypted_image(&room, PNG).await;
    // The attachment is encrypted on the homeserver; the bot decrypts its copy.
    let start = std::time::Instant::now();
    while !bot
        .export(&session, "html")
        .contains("data:image/png;base64,")
    {
        assert!(
            start.elapsed() < WAIT,
            "the encrypted image was never copied; log:\n{}",
            bot.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A restart: the bot reads the room's state from the homeserver again (it holds it in
    // memory), so it must learn anew that the room is encrypted, decrypt what was sent while
    // it was away, and encrypt what it posts next.
    let status = bot.stop();
    assert!(status.success(), "{}", bot.logs());
    bob.say(&room, "A1 sent while the bot restarted").await;
    bot.start();
    stop_session(&moderator, &room, &bot).await;

    // What the homeserver stores is ciphertext: the bot's posts are m.room.encrypted there.
    let raw = server
        .get_json(
            &format!(
                "{}/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=100",
                server.url
            ),
            Some(&moderator.access_token),
        )
        .await;
    let from_bot: Vec<&Value> = raw["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["sender"] == bot.user_id.as_str())
        .filter(|e| e["type"] != "m.room.member")
        .collect();
    assert!(!from_bot.is_empty());
    assert!(
        from_bot.iter().all(|e| e["type"] == "m.room.encrypted"),
        "the bot encrypts in an encrypted room"
    );

    let status = bot.stop();
    assert!(status.success(), "{}", bot.logs());
    let transcript = bot.transcript(&session);
    assert_eq!(
        archived(&transcript),
        vec![
            (
                ann.user_id.clone(),
                "A1 encrypted, edited and archived".into(),
                Some(1)
            ),
            (
                bob.user_id.clone(),
                "a reply nobody else can read".into(),
                Some(1)
            ),
            (bob.user_id.clone(), String::new(), Some(1)),
            (
                bob.user_id.clone(),
                "A1 sent while the bot restarted".into(),
                Some(1)
            ),
        ],
        "log:\n{}",
        bot.logs()
    );
    let image = &message(&transcript, &picture)["attachments"][0];
    assert_eq!(image["name"], "pic.png");
    assert_eq!(image["content_type"], "image/png");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_killed_mid_session_repeats_no_point_misses_none_and_archives_the_downtime() {
    let server = Homeserver::from_env();
    let (moderator, ann, bob, room, mut bot) = room_with_bot(&server, None, false, 1).await;

    let session = start_session(&moderator, &room, &bot).await;
    ann.wait_for(&room, &bot.user_id, "Q1", WAIT, starts("Q1:"))
        .await;
    ann.say(&room, "A1 before the crash").await;
    // Let the bot read it before it dies.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    bot.kill();

    // While the bot is away: answers (more than one sync's worth, so the bot must page back
    // for the rest), and points fall due.
    ann.say(&room, "A1 while the bot was down").await;
    let flood: Vec<String> = (1..=FLOOD).map(|i| format!("A2 backlog {i}")).collect();
    for text in &flood {
        bob.say(&room, text).await;
    }
    tokio::time::sleep(Duration::from_secs_f64(3.5 * 60.0 / SPEED)).await;

    bot.start();
    moderator
        .wait_for(
            &room,
            &bot.user_id,
            "the wrap-up",
            Duration::from_secs(90),
            starts("Wrap-up:"),
        )
        .await;
    // A duplicate would show up right after; give it the chance.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = assert_each_step_once(&moderator, &room, &bot).await;
    let starts_replies = messages
        .iter()
        .filter(|e| e["sender"] == bot.user_id.as_str() && body(e).starts_with("Started"))
        .count();
    assert_eq!(starts_replies, 1, "the start command acted once");

    let status = bot.stop();
    assert!(status.success(), "{}", bot.logs());
    let transcript = bot.transcript(&session);
    let bodies: Vec<String> = archived(&transcript).into_iter().map(|m| m.1).collect();
    let mut expected = vec![
        "A1 before the crash".to_owned(),
        "A1 while the bot was down".to_owned(),
    ];
    expected.extend(flood);
    assert_eq!(bodies, expected, "every downtime message, in order");
    assert!(
        bot.logs().contains("read events sent while away"),
        "the backlog was longer than one sync: the bot paged back for it"
    );

    // The restart restored the bot's device: one device, not one per start.
    let admin = server.register(&unique("admin"), true).await;
    let devices = server
        .get_json(
            &format!(
                "{}/_synapse/admin/v2/users/{}/devices",
                server.url, bot.user_id
            ),
            Some(&admin.access_token),
        )
        .await;
    // (Registering through the admin API made a device of its own; the bot's are its logins.)
    let bot_devices = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["display_name"] == "hashchat")
        .count();
    assert_eq!(bot_devices, 1, "{devices}");
    assert!(bot.logs().contains("restored the Matrix session"));
}

/// The bot is killed after a moderator's command has acted and before it is claimed (as an
/// operator's SIGKILL can land), then started again: the command, read again, acts once and is
/// answered once. Before commands kept their effects, 9 kills in 12 lost the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_and_a_stop_killed_before_their_claims_each_act_once_after_a_restart() {
    let server = Homeserver::from_env();
    let (moderator, ann, _bob, room, mut bot) = room_with_bot(&server, None, false, 10).await;
    let held = "held before claiming a command";
    let replayed = "command read again after a restart: it already acted";

    for (command, answer) in [("start quick", "Started"), ("stop", "#quick stopped")] {
        bot.kill();
        bot.hold_before_claiming = true;
        let holds_before = bot.logs().matches(held).count();
        bot.start();
        moderator
            .say(&room, &format!("{} {command}", bot.prefix))
            .await;
        bot.wait_for_log(held, holds_before + 1, WAIT).await;
        bot.kill();
        let replays_before = bot.logs().matches(replayed).count();
        bot.hold_before_claiming = false;
        bot.start();
        moderator
            .wait_for_bot(&room, &bot, answer, WAIT, |e| body(e).starts_with(answer))
            .await;
        assert_eq!(
            bot.logs().matches(replayed).count(),
            replays_before + 1,
            "the restarted bot found `{command}` had acted; log:\n{}",
            bot.logs()
        );
    }
    // A duplicate would show up right after; give it the chance.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = ann.messages(&room).await;
    for answer in ["Started", "#quick stopped"] {
        let count = messages
            .iter()
            .filter(|e| e["sender"] == bot.user_id.as_str() && body(e).starts_with(answer))
            .count();
        assert_eq!(count, 1, "`{answer}` once; log:\n{}", bot.logs());
    }
    let steps = step_posts(&messages, &bot.user_id);
    assert_eq!(
        steps.first().map(String::as_str),
        Some("Intro"),
        "{steps:?}"
    );
    assert_eq!(
        steps.last().map(String::as_str),
        Some("Wrap-up"),
        "{steps:?}"
    );
    let mut unique = steps.clone();
    unique.dedup();
    assert_eq!(unique, steps, "no step twice");
    assert!(bot.stop().success(), "{}", bot.logs());
}

/// More messages than the bot reads per sync (100): the rest come from paging back.
const FLOOD: usize = 130;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_named_by_its_alias_in_the_chat_file_works_like_one_named_by_id() {
    let server = Homeserver::from_env();
    let moderator = Person::new(&server, "mod").await;
    let ann = Person::new(&server, "ann").await;
    let room = moderator.create_room(&server, None, false, None).await;
    let alias = format!("#{}:localhost", unique("books"));
    server
        .put_json(
            &format!(
                "{}/_matrix/client/v3/directory/room/{}",
                server.url,
                alias.replace('#', "%23").replace(':', "%3A")
            ),
            &moderator.access_token,
            &serde_json::json!({ "room_id": room }),
        )
        .await;
    moderator.invite(&room, &ann.user_id).await;
    ann.join(&room).await;
    let mut bot = Bot::new(&server, "quick", &alias, &[&moderator.user_id], 1).await;
    bot.start();
    moderator.invite(&room, &bot.user_id).await;
    bot.wait_joined(&room, &moderator).await;

    let session = start_session(&moderator, &room, &bot).await;
    ann.wait_for(&room, &bot.user_id, "Q1", WAIT, starts("Q1:"))
        .await;
    ann.say(&room, "A1 said in a room known by its alias").await;
    stop_session(&moderator, &room, &bot).await;
    let status = bot.stop();
    assert!(status.success(), "{}", bot.logs());
    let transcript = bot.transcript(&session);
    assert_eq!(transcript["session"]["rooms"][0], format!("matrix:{alias}"));
    assert_eq!(
        archived(&transcript),
        vec![(
            ann.user_id.clone(),
            "A1 said in a room known by its alias".into(),
            Some(1)
        )],
        "log:\n{}",
        bot.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_adopts_an_access_token_and_restores_it_on_restart() {
    let server = Homeserver::from_env();
    let moderator = Person::new(&server, "mod").await;
    let room = moderator.create_room(&server, None, false, None).await;
    let mut bot = Bot::new(&server, "quick", &room, &[&moderator.user_id], 1).await;
    bot.use_token = true;
    bot.start();
    moderator.invite(&room, &bot.user_id).await;
    bot.wait_joined(&room, &moderator).await;
    moderator.say(&room, "!chat upcoming").await;
    moderator
        .wait_for(&room, &bot.user_id, "an answer", WAIT, |e| {
            e["content"]["msgtype"] == "m.notice"
        })
        .await;
    assert!(bot.stop().success(), "{}", bot.logs());
    assert!(bot.logs().contains("adopted the given Matrix access token"));

    bot.start();
    moderator.say(&room, "!chat help").await;
    let start = std::time::Instant::now();
    while moderator
        .messages(&room)
        .await
        .iter()
        .filter(|e| e["sender"] == bot.user_id.as_str() && e["content"]["msgtype"] == "m.notice")
        .count()
        < 2
    {
        assert!(
            start.elapsed() < WAIT,
            "no answer after the restart: {}",
            bot.logs()
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(bot.stop().success(), "{}", bot.logs());
    assert!(
        bot.logs().contains("restored the Matrix session"),
        "the second start restores the saved token and device: {}",
        bot.logs()
    );
    let saved = std::fs::read_to_string(bot.scratch.path("data/matrix/session.json")).unwrap();
    assert!(saved.contains(&bot.registered_token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_bot_keeps_running_and_carries_on_when_invited_back() {
    let server = Homeserver::from_env();
    // Points nine seconds apart: Q2 falls due while the bot is out, Q3 well after it is back.
    let (moderator, ann, _bob, room, mut bot) = room_with_bot(&server, None, false, 3).await;
    moderator.say(&room, "!chat start quick").await;
    ann.wait_for(&room, &bot.user_id, "Q1", WAIT, starts("Q1:"))
        .await;
    moderator
        .room(&room)
        .await
        .kick_user(bot.user_id.as_str().try_into().unwrap(), Some("testing"))
        .await
        .expect("kicking the bot");
    // Q2 falls due while the bot is out of the room; it cannot be posted there.
    tokio::time::sleep(Duration::from_secs_f64(1.2 * 3.0 * 60.0 / SPEED)).await;
    moderator.invite(&room, &bot.user_id).await;
    bot.wait_joined(&room, &moderator).await;
    ann.wait_for(
        &room,
        &bot.user_id,
        "Q3, after the bot came back",
        WAIT,
        starts("Q3:"),
    )
    .await;
    stop_session(&moderator, &room, &bot).await;
    let logs = bot.logs();
    assert!(logs.contains("no longer in a Matrix room"), "{logs}");
    assert!(
        bot.stop().success(),
        "still running, stops cleanly: {}",
        bot.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_mentions_the_people_who_said_they_are_coming() {
    use chrono::{Timelike, Utc};
    let server = Homeserver::from_env();
    let moderator = Person::new(&server, "mod").await;
    let ann = Person::new(&server, "ann").await;
    let room = moderator.create_room(&server, None, false, None).await;
    moderator.invite(&room, &ann.user_id).await;
    ann.join(&room).await;
    let mut bot = Bot::new(&server, "quick", &room, &[&moderator.user_id], 1).await;
    // The chat starts eight to nine (virtual) minutes from now, its reminder five before.
    let start = Utc::now()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap()
        + chrono::Duration::minutes(9);
    bot.scratch.write(
        "chats/quick.toml",
        &chat_file(
            "quick",
            &room,
            1,
            &format!(
                "reminder_minutes = 5\n\n[schedule]\nstart = \"{}\"",
                start.format("%Y-%m-%d %H:%M")
            ),
        ),
    );
    bot.start();
    moderator.invite(&room, &bot.user_id).await;
    bot.wait_joined(&room, &moderator).await;
    ann.say(&room, "!chat join quick").await;
    let reminder = ann
        .wait_for(
            &room,
            &bot.user_id,
            "the reminder",
            WAIT,
            starts("Reminder:"),
        )
        .await;
    assert_eq!(
        reminder["content"]["m.mentions"]["user_ids"],
        serde_json::json!([ann.user_id]),
        "{reminder:#}\n{}",
        bot.logs()
    );
    assert!(reminder["content"]["formatted_body"]
        .as_str()
        .unwrap()
        .contains(&format!(
            "https://matrix.to/#/{}",
            hashchat_matrix::links::percent_encode_component(&ann.user_id)
        )));
    assert!(bot.stop().success(), "{}", bot.logs());
}
