//! One chat with a Matrix room and a Discord channel: the `hashchat` binary connected to the
//! test Synapse and the fake Discord at once posts every step of a session in both rooms, each
//! once and in order, archives what is said in each where it was said, and relays each
//! participant's message into the other room, naming its author and origin, never echoing a
//! copy back and pinging nobody.

#![recursion_limit = "256"]

#[path = "support/bridge.rs"]
mod bridge;
#[path = "support/discord.rs"]
mod discord;
#[path = "support/matrix.rs"]
mod matrix;
mod support;

use std::time::Duration;

use bridge::*;
use discord_fake::Post;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_with_a_matrix_room_and_a_discord_channel_posts_each_step_in_both() {
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
        ..
    } = Bridge::start().await;
    let d = fake.defaults().clone();
    let session = matrix::start_session(&moderator, &room, &bot).await;
    discord_message(&fake, d.channel, &bot, "Q1", |m| {
        m.content.starts_with("**Q1:**")
    })
    .await;
    fake.post(Post::new(d.channel, d.alice, "A1 from Discord"))
        .await
        .unwrap();
    moderator.say(&room, "A1 from Matrix").await;
    // Both archived before the stop: the two platforms' events come on separate streams.
    let archived = |bot: &matrix::Bot| -> Vec<String> {
        let mut bodies = archived_bodies(bot, &session);
        bodies.sort();
        bodies
    };
    support::wait_for(WAIT, "both answers archived", || archived(&bot).len() == 2);
    matrix::stop_session(&moderator, &room, &bot).await;

    discord_message(&fake, d.channel, &bot, "Wrap-up", |m| {
        m.content.starts_with("**Wrap-up:**")
    })
    .await;
    let on_discord = discord::step_labels(&fake.bot_messages(d.channel));
    let on_matrix = matrix::step_posts(&moderator.messages(&room).await, &bot.user_id);
    assert_eq!(
        on_discord,
        on_matrix,
        "the same steps in both rooms; log:\n{}",
        bot.logs()
    );
    assert_eq!(on_discord[..2], ["Intro", "Q1"], "{on_discord:?}");
    assert_eq!(on_discord.last().map(String::as_str), Some("Wrap-up"));
    assert!(bot.stop().success(), "{}", bot.logs());
    assert_eq!(archived(&bot), ["A1 from Discord", "A1 from Matrix"]);
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_is_relayed_into_the_other_room_once_naming_its_author_and_pinging_nobody() {
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
        ..
    } = Bridge::start().await;
    let d = fake.defaults().clone();
    let session = matrix::start_session(&moderator, &room, &bot).await;
    fake.post(Post::new(d.channel, d.alice, "A1 from Discord, @everyone"))
        .await
        .unwrap();
    moderator
        .say(&room, "A1 from Matrix @room <@123> *not bold*")
        .await;

    // On Discord: the Matrix message through the channel's webhook, its author and origin
    // as the username, its text kept plain.
    let copy = discord_message(&fake, d.channel, &bot, "the copy", |m| {
        m.content.contains("A1 from Matrix")
    })
    .await;
    let author = copy.webhook.clone().expect("copied through the webhook");
    assert!(author.username.ends_with(" (Matrix)"), "{author:?}");
    assert_eq!(
        copy.content, r"A1 from Matrix @room \<@123> \*not bold\*",
        "no markup or mention it was not"
    );
    assert!(!copy.mention_everyone);
    let sent = fake
        .requests_matching("POST /webhooks/*/*")
        .into_iter()
        .find(|r| {
            r.body.as_ref().is_some_and(|b| {
                b["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("A1 from Matrix"))
            })
        })
        .expect("the copy's request");
    assert_eq!(
        sent.body.unwrap()["allowed_mentions"]["parse"],
        serde_json::json!([])
    );

    // On Matrix: the Discord message, named, mentioning nobody.
    let copy_on_matrix = bot_event(&moderator, &room, &bot, "A1 from Discord").await;
    assert_eq!(
        body(&copy_on_matrix),
        "Alice (Discord): A1 from Discord, @everyone"
    );
    assert_eq!(
        copy_on_matrix["content"]["m.mentions"],
        serde_json::json!({})
    );
    assert_eq!(
        copy_on_matrix["content"][matrix::RELAY_MARK]["platform"],
        "discord"
    );

    // Nothing echoes: each message has one copy, in the other room only.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let discord_copies = fake
        .bot_messages(d.channel)
        .into_iter()
        .filter(|m| m.content.contains("A1 from"))
        .count();
    let matrix_copies = moderator
        .messages(&room)
        .await
        .into_iter()
        .filter(|e| e["sender"] == bot.user_id && body(e).contains("A1 from"))
        .count();
    assert_eq!(
        (discord_copies, matrix_copies),
        (1, 1),
        "log:\n{}",
        bot.logs()
    );

    matrix::stop_session(&moderator, &room, &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    let transcript = bot.transcript(&session);
    let mut archived: Vec<&str> = transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    archived.sort();
    assert_eq!(
        archived,
        [
            "A1 from Discord, @everyone",
            "A1 from Matrix @room <@123> *not bold*"
        ],
        "each message archived once, the copies not at all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletions_follow_the_copies_both_ways() {
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
        ..
    } = Bridge::start().await;
    let d = fake.defaults().clone();
    matrix::start_session(&moderator, &room, &bot).await;

    // Discord → Matrix: an edit becomes an m.replace of the copy, a deletion its redaction.
    let typo = fake
        .post(Post::new(d.channel, d.alice, "A1 Discrod typo"))
        .await
        .unwrap();
    let copy = bot_event(&moderator, &room, &bot, "A1 Discrod typo").await;
    let copy_id = copy["event_id"].as_str().unwrap().to_owned();
    fake.edit(d.channel, typo.id, "A1 Discord, fixed")
        .await
        .unwrap();
    let replaced = bot_event(&moderator, &room, &bot, "A1 Discord, fixed").await;
    assert_eq!(replaced["content"]["m.relates_to"]["rel_type"], "m.replace");
    assert_eq!(
        replaced["content"]["m.relates_to"]["event_id"],
        copy_id.as_str()
    );
    assert_eq!(
        replaced["content"]["m.new_content"]["body"],
        "Alice (Discord): A1 Discord, fixed"
    );
    fake.delete(d.channel, typo.id).await.unwrap();
    poll("the copy redacted on Matrix", &bot, || async {
        moderator.events(&room).await.into_iter().find(|e| {
            e["type"] == "m.room.redaction"
                && e["sender"] == bot.user_id.as_str()
                && (e["redacts"] == copy_id.as_str() || e["content"]["redacts"] == copy_id.as_str())
        })
    })
    .await;

    // Matrix → Discord: an edit edits the copy, a redaction deletes it.
    let original = moderator.say(&room, "A2 Matrxi typo").await;
    let copy = discord_message(&fake, d.channel, &bot, "the copy", |m| {
        m.content.contains("A2 Matrxi typo")
    })
    .await;
    moderator.edit(&room, &original, "A2 Matrix, fixed").await;
    let edited = fake
        .wait_for(WAIT, |f| {
            f.bot_messages(d.channel)
                .into_iter()
                .find(|m| m.id == copy.id && m.content.contains("A2 Matrix, fixed"))
        })
        .await;
    assert!(
        edited.is_some_and(|m| m.edited_at.is_some()),
        "the copy edited in place; log:\n{}",
        bot.logs()
    );
    moderator.redact(&room, &original).await;
    let deleted = fake
        .wait_for(WAIT, |f| {
            f.deleted_messages().into_iter().find(|m| m.id == copy.id)
        })
        .await;
    assert!(deleted.is_some(), "the copy deleted; log:\n{}", bot.logs());
    assert!(bot.stop().success(), "{}", bot.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_on_either_side_is_told_on_the_other_as_a_reply_and_taken_back_with_it() {
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
        ..
    } = Bridge::start().await;
    let d = fake.defaults().clone();
    matrix::start_session(&moderator, &room, &bot).await;

    // Matrix reacts to the copy of Alice's message: Discord hears of it in a reply to hers.
    let alice = fake
        .post(Post::new(d.channel, d.alice, "A1 react to me"))
        .await
        .unwrap();
    let copy = bot_event(&moderator, &room, &bot, "A1 react to me").await;
    moderator
        .react(&room, copy["event_id"].as_str().unwrap(), "👍")
        .await;
    let line = discord_message(&fake, d.channel, &bot, "the reaction line", |m| {
        m.content.contains("reacted 👍")
    })
    .await;
    // Through the channel's webhook, under the reactor's name; a webhook cannot reply, so the
    // line quotes and links the message reacted to.
    let hook = line.webhook.as_ref().expect("sent through the webhook");
    assert!(hook.username.ends_with("(Matrix)"), "{}", hook.username);
    assert!(
        line.content.starts_with("> ↪ **Alice**: A1 react to me")
            && line.content.contains(&alice.id.to_string()),
        "{}",
        line.content
    );

    // Bob reacts on Discord to the copy of a Matrix message: a notice answering the original.
    let original = moderator.say(&room, "A2 from Matrix").await;
    let copy = discord_message(&fake, d.channel, &bot, "the copy", |m| {
        m.content.contains("A2 from Matrix")
    })
    .await;
    fake.react(d.channel, copy.id, d.bob, "🎉").await.unwrap();
    let notice = bot_event(&moderator, &room, &bot, "reacted 🎉").await;
    assert_eq!(notice["content"]["msgtype"], "m.notice");
    assert_eq!(
        notice["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        original.as_str()
    );
    assert!(body(&notice).contains("(Discord)"), "{notice}");
    let notice_id = notice["event_id"].as_str().unwrap().to_owned();

    // Bob takes it back: the notice is redacted.
    fake.unreact(d.channel, copy.id, d.bob, "🎉").await.unwrap();
    poll("the reaction notice redacted", &bot, || async {
        moderator.events(&room).await.into_iter().find(|e| {
            e["type"] == "m.room.redaction"
                && (e["redacts"] == notice_id.as_str()
                    || e["content"]["redacts"] == notice_id.as_str())
        })
    })
    .await;
    assert!(bot.stop().success(), "{}", bot.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_crosses_both_ways_as_an_upload_of_the_same_bytes() {
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
        ..
    } = Bridge::start().await;
    let d = fake.defaults().clone();
    let server = support::synapse::Homeserver::from_env();
    matrix::start_session(&moderator, &room, &bot).await;

    // Discord → Matrix: the copy's text, then the image uploaded to the homeserver.
    let original = fake
        .post(
            Post::new(d.channel, d.alice, "A1 our reading corner").attachment(
                "corner.png",
                "image/png",
                matrix::PNG,
            ),
        )
        .await
        .unwrap();
    let text = bot_event(&moderator, &room, &bot, "A1 our reading corner").await;
    let image =
        poll("the image on Matrix", &bot, || async {
            moderator.messages(&room).await.into_iter().find(|e| {
                e["sender"] == bot.user_id.as_str() && e["content"]["msgtype"] == "m.image"
            })
        })
        .await;
    assert_eq!(body(&image), "corner.png", "{image}");
    let mxc = image["content"]["url"].as_str().expect("an mxc url");
    let (host, media) = mxc
        .strip_prefix("mxc://")
        .and_then(|m| m.split_once('/'))
        .expect("an mxc url");
    let bytes = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v1/media/download/{host}/{media}",
            server.url
        ))
        .bearer_auth(&moderator.access_token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], matrix::PNG, "the same bytes");

    // Deleted on Discord: the text and the image both go on Matrix.
    fake.delete(d.channel, original.id).await.unwrap();
    for copy in [&text, &image] {
        let id = copy["event_id"].as_str().expect("an event id");
        poll("the copy's event redacted on Matrix", &bot, || async {
            moderator.events(&room).await.into_iter().find(|e| {
                e["type"] == "m.room.redaction"
                    && e["sender"] == bot.user_id.as_str()
                    && (e["redacts"] == id || e["content"]["redacts"] == id)
            })
        })
        .await;
    }

    // Matrix → Discord: the image uploaded with the copy's message.
    moderator
        .send_image(&server, &room, matrix::PNG, "A2 the view")
        .await;
    let copy = discord_message(&fake, d.channel, &bot, "the copy with the image", |m| {
        m.content.contains("A2 the view")
    })
    .await;
    assert_eq!(copy.attachments.len(), 1, "{copy:?}");
    let file = &copy.attachments[0];
    assert_eq!(file.filename, "pic.png");
    assert_eq!(file.size, matrix::PNG.len());
    let served = reqwest::get(file.url.as_str())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&served[..], matrix::PNG);
    assert!(bot.stop().success(), "{}", bot.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formatting_crosses_both_ways_and_nothing_else_does() {
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
        ..
    } = Bridge::start().await;
    let d = fake.defaults().clone();
    matrix::start_session(&moderator, &room, &bot).await;

    // Discord → Matrix: markdown becomes HTML, a mention becomes a name, HTML stays text.
    fake.post(Post::new(
        d.channel,
        d.alice,
        format!(
            "A1 **bold** *it* ~~gone~~ `code` ||secret|| [site](https://example.org) <@{}> <b>raw</b>",
            d.bob
        ),
    ))
    .await
    .unwrap();
    let copy = bot_event(&moderator, &room, &bot, "A1 **bold**").await;
    assert_eq!(
        copy["content"]["formatted_body"],
        "<strong>Alice</strong> <em>(Discord)</em>: A1 <strong>bold</strong> <em>it</em> \
         <del>gone</del> <code>code</code> <span data-mx-spoiler=\"\">secret</span> \
         <a href=\"https://example.org\" rel=\"nofollow ugc noopener\">site</a> @Bob \
         &lt;b&gt;raw&lt;/b&gt;",
        "{copy}"
    );
    assert_eq!(copy["content"]["m.mentions"], serde_json::json!({}));

    // Matrix → Discord: HTML becomes markdown; a pill, a script and plain asterisks do not
    // cross as what they were.
    moderator
        .send(
            &room,
            serde_json::json!({
                "msgtype": "m.text",
                "body": "A2 it bold Ann *x*",
                "format": "org.matrix.custom.html",
                "formatted_body": "A2 <em>it</em> <strong>bold</strong> \
                    <a href=\"https://matrix.to/#/@ann:localhost\">Ann</a> *x*<script>alert(1)</script>",
            }),
        )
        .await;
    let copy = discord_message(&fake, d.channel, &bot, "the copy", |m| {
        m.content.contains("A2")
    })
    .await;
    assert_eq!(copy.content, r"A2 *it* **bold** Ann \*x\*");
    assert!(copy.webhook.is_some(), "through the webhook");
    assert!(bot.stop().success(), "{}", bot.logs());
}

/// 200 messages each way, written at once on both sides: every one relayed once, in the order
/// it was written, none echoed back, each archived once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_messages_each_way_arrive_once_each_in_order() {
    const EACH: usize = 200;
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
    } = Bridge::start_with(5, false, "").await;
    let d = fake.defaults().clone();
    let session = matrix::start_session(&moderator, &room, &bot).await;

    let from_discord = async {
        for n in 1..=EACH {
            fake.post(Post::new(d.channel, d.alice, format!("D{n}")))
                .await
                .unwrap();
        }
    };
    let from_matrix = async {
        for n in 1..=EACH {
            moderator.say(&room, &format!("M{n}")).await;
        }
    };
    tokio::join!(from_discord, from_matrix);

    let wanted_on_discord: Vec<String> = (1..=EACH).map(|n| format!("M{n}")).collect();
    let Some(on_discord) = fake
        .wait_for(std::time::Duration::from_secs(120), |f| {
            let copies: Vec<String> = f
                .bot_messages(d.channel)
                .into_iter()
                .filter(|m| {
                    m.webhook
                        .as_ref()
                        .is_some_and(|w| w.username.ends_with("(Matrix)"))
                })
                .map(|m| m.content)
                .collect();
            (copies.len() >= EACH).then_some(copies)
        })
        .await
    else {
        panic!(
            "not all of Matrix's messages reached Discord; log:\n{}",
            bot.logs()
        );
    };
    assert_eq!(on_discord, wanted_on_discord, "once each, in order");

    let wanted_on_matrix: Vec<String> = (1..=EACH)
        .map(|n| format!("Alice (Discord): D{n}"))
        .collect();
    let on_matrix = poll("Discord's messages on Matrix", &bot, || async {
        let copies: Vec<String> = moderator
            .messages(&room)
            .await
            .into_iter()
            .filter(|e| e["sender"] == bot.user_id.as_str())
            .map(|e| body(&e).to_owned())
            .filter(|b| b.starts_with("Alice (Discord): "))
            .collect();
        (copies.len() >= EACH).then_some(copies)
    })
    .await;
    assert_eq!(on_matrix, wanted_on_matrix, "once each, in order");

    // Nothing echoed: no copy of a copy anywhere.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(fake.messages(d.channel).iter().all(|m| m
        .webhook
        .as_ref()
        .is_none_or(|w| !w.username.contains("(Disc"))
        && !m.content.contains("(Discord)")));
    assert!(moderator
        .messages(&room)
        .await
        .iter()
        .filter(|e| e["sender"] == bot.user_id.as_str())
        .all(|e| !body(e).contains("(Matrix)")));

    matrix::stop_session(&moderator, &room, &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    let archived = bot.transcript(&session)["messages"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        archived,
        2 * EACH,
        "each message archived once, copies not at all"
    );
}

/// With `capture_hashtag = "relay"`, a message carrying the chat's hashtag in a Discord channel
/// that is not the chat's joins the session's archive and reaches its Matrix room; nothing is
/// ever posted into that outside channel.
/// Killed once the homeserver has made a copy and before the outbox recorded it: the retry
/// after the restart carries the same transaction id, so Synapse answers with the copy it
/// made and the room shows it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matrix_copy_made_just_before_a_crash_shows_once_after_the_restart() {
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
    } = Bridge::start_with_env(
        5,
        false,
        "",
        &[("HASHCHAT_TEST_HOLD_BEFORE_RECORDING_COPY", "1")],
    )
    .await;
    let d = fake.defaults().clone();
    matrix::start_session(&moderator, &room, &bot).await;
    fake.post(Post::new(d.channel, d.alice, "A1 made before the crash"))
        .await
        .unwrap();
    bot.wait_for_log("held before recording a copy", 1, WAIT)
        .await;
    bot.kill();
    bot_event(&moderator, &room, &bot, "A1 made before the crash").await;

    bot.start();
    fake.post(Post::new(d.channel, d.alice, "A1 after the restart"))
        .await
        .unwrap();
    bot_event(&moderator, &room, &bot, "A1 after the restart").await;
    let copies: Vec<String> = moderator
        .messages(&room)
        .await
        .into_iter()
        .filter(|e| e["sender"] == bot.user_id.as_str())
        .map(|e| body(&e).to_owned())
        .filter(|b| b.contains("A1 made before the crash"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}; log:\n{}", bot.logs());
    assert!(bot.stop().success(), "{}", bot.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hashtag_gathers_a_message_from_outside_the_chat_and_relays_it() {
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
    } = Bridge::start_with(1, false, "capture_hashtag = \"relay\"").await;
    let d = fake.defaults().clone();
    let session = matrix::start_session(&moderator, &room, &bot).await;
    fake.post(Post::new(
        d.second_channel,
        d.bob,
        "A1 from next door #quick",
    ))
    .await
    .unwrap();
    fake.post(Post::new(d.second_channel, d.bob, "no tag, not ours"))
        .await
        .unwrap();
    let copy = bot_event(&moderator, &room, &bot, "from next door").await;
    assert_eq!(body(&copy), "Bob (Discord): A1 from next door #quick");
    matrix::stop_session(&moderator, &room, &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    assert!(
        fake.bot_messages(d.second_channel).is_empty(),
        "the outside channel is never posted to"
    );
    let archived = archived_bodies(&bot, &session);
    assert_eq!(archived, ["A1 from next door #quick"]);
}

/// A channel where the hashtag gathered a message is read back after a restart, like the
/// chat's own: what is tagged there while the bot is down is gathered once it is back, and
/// what was said there before the session is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hashtag_gathers_what_was_said_outside_while_the_bot_was_down() {
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
    } = Bridge::start_with(1, false, "capture_hashtag = \"relay\"").await;
    let d = fake.defaults().clone();
    fake.post(Post::new(
        d.second_channel,
        d.bob,
        "before the session #quick",
    ))
    .await
    .unwrap();
    let session = matrix::start_session(&moderator, &room, &bot).await;
    fake.post(Post::new(d.second_channel, d.bob, "A1 seen live #quick"))
        .await
        .unwrap();
    bot_event(&moderator, &room, &bot, "seen live").await;
    bot.wait_for_log("watching this channel", 1, WAIT).await;

    bot.kill();
    fake.post(Post::new(
        d.second_channel,
        d.bob,
        "A1 said while away #quick",
    ))
    .await
    .unwrap();
    fake.post(Post::new(d.second_channel, d.bob, "untagged, while away"))
        .await
        .unwrap();
    bot.start();
    let copy = bot_event(&moderator, &room, &bot, "said while away").await;
    assert_eq!(body(&copy), "Bob (Discord): A1 said while away #quick");
    matrix::stop_session(&moderator, &room, &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    let archived = archived_bodies(&bot, &session);
    assert_eq!(
        archived,
        ["A1 seen live #quick", "A1 said while away #quick"],
        "once each, and nothing from before the session"
    );
    assert!(fake.bot_messages(d.second_channel).is_empty());
}
