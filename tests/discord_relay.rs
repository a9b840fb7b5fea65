//! Relaying between two Discord channels of one chat, end to end: the `hashchat` binary against
//! the fake Discord started in this process. A participant's message in one channel appears in
//! the other through that channel's webhook, as its author (name, origin and avatar), pinging
//! nobody; the webhook is made once and kept across a restart; edits and deletions follow the
//! copy through the webhook's routes, piece by piece for a long one; nothing echoes; a bot
//! without Manage Webhooks falls back to plain messages, asking once; a webhook deleted by hand
//! is made again; another integration's webhook posts are participants'; a copy whose answer
//! was lost is adopted, not posted twice.

#[path = "support/discord.rs"]
mod discord;
mod support;

use std::time::Duration;

use discord::*;
use discord_fake::{permissions, ChannelId, FakeDiscord, Message, Post};
use serde_json::json;

/// Discord refuses `discord` in a webhook's username; the bot writes its `o` in Cyrillic.
const FROM_DISCORD: &str = "(Disc\u{43e}rd)";

/// A chat whose rooms are the fake's two channels, with points half an hour apart (90 s at the
/// bot's speed), so a test has the time it needs while Q1 is up.
fn relay_chat_file(a: ChannelId, b: ChannelId) -> String {
    chat_file("quick", a)
        .replace(
            &format!("rooms = [\"discord:{a}\"]"),
            &format!("rooms = [\"discord:{a}\", \"discord:{b}\"]"),
        )
        .replace("minutes_between_points = 1", "minutes_between_points = 30")
}

/// The bot with the two-channel chat, avatars built on an https CDN (only https avatars are
/// handed to a webhook; this one is the fake's TLS port, so nothing leaves the machine).
async fn relay_bot(fake: &FakeDiscord) -> Bot {
    let mut bot = relay_bot_unstarted(fake);
    bot.start_and_wait(fake).await;
    bot
}

fn relay_bot_unstarted(fake: &FakeDiscord) -> Bot {
    let d = fake.defaults();
    let bot = Bot::new(fake, d.channel);
    bot.set_chat(&relay_chat_file(d.channel, d.second_channel));
    let config = bot.scratch.path("hashchat.toml");
    let text = support::read(&config).replace(
        &format!("cdn_url = \"{}\"", fake.base_url()),
        &format!("cdn_url = \"{}\"", cdn(fake)),
    );
    std::fs::write(&config, text).unwrap();
    bot
}

fn cdn(fake: &FakeDiscord) -> String {
    format!("https://{}", fake.tls_address())
}

/// The first message in `channel` sent through a webhook whose content satisfies `wanted`.
async fn webhook_copy(
    fake: &FakeDiscord,
    channel: ChannelId,
    bot: &Bot,
    what: &str,
    wanted: impl Fn(&Message) -> bool,
) -> Message {
    let found = fake
        .wait_for(WAIT, |f| {
            f.messages(channel)
                .into_iter()
                .find(|m| m.webhook.is_some() && wanted(m))
        })
        .await;
    found.unwrap_or_else(|| panic!("no {what} came through a webhook; log:\n{}", bot.logs()))
}

/// Messages in `channel` whose content contains `text`.
fn containing(fake: &FakeDiscord, channel: ChannelId, text: &str) -> Vec<Message> {
    fake.messages(channel)
        .into_iter()
        .filter(|m| m.content.contains(text))
        .collect()
}

/// Successful requests matching `pattern`.
fn succeeded(fake: &FakeDiscord, pattern: &str) -> usize {
    fake.requests_matching(pattern)
        .iter()
        .filter(|r| r.status < 300)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_appears_in_the_other_channel_through_its_webhook_as_its_author_pinging_nobody_and_never_echoes(
) {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = relay_bot(&fake).await;
    let session = start_until_q1(&fake, &bot).await;
    wait_for_step(&fake, d.second_channel, "Q1", &bot).await;

    let original = fake
        .post(Post::new(
            d.channel,
            d.alice,
            "A1 from general, @everyone *really*",
        ))
        .await
        .unwrap();
    let copy = webhook_copy(&fake, d.second_channel, &bot, "copy", |m| {
        m.content.contains("A1 from general")
    })
    .await;
    let author = copy.webhook.clone().unwrap();
    assert_eq!(author.username, format!("Alice {FROM_DISCORD}"));
    let avatar = author.avatar_url.expect("the author's avatar");
    assert!(
        avatar.starts_with(&format!("{}/avatars/{}/", cdn(&fake), d.alice)),
        "{avatar}"
    );
    // The words as written (their markdown kept), no name prefix, and nobody pinged.
    assert_eq!(copy.content, "A1 from general, @everyone *really*");
    assert!(!copy.mention_everyone, "@everyone pinged everyone");
    assert!(copy.mentions.is_empty() && copy.mention_roles.is_empty());
    let hooks = fake.webhooks(d.second_channel);
    assert_eq!(hooks.len(), 1, "one webhook: {hooks:?}");
    assert_eq!(author.webhook_id, hooks[0].id);
    let execute = fake
        .requests_matching(&format!("POST /webhooks/{}/*", hooks[0].id))
        .into_iter()
        .find_map(|r| r.body)
        .expect("the execute");
    assert_eq!(execute["allowed_mentions"], json!({ "parse": [] }));
    assert!(
        fake.requests_matching(&format!("POST /webhooks/{}/*", hooks[0].id))
            .iter()
            .all(|r| r.query.contains("wait=true")),
        "every execute waits for its message"
    );

    // More messages, both ways: one webhook per channel, made once.
    for i in 2..=4 {
        fake.post(Post::new(
            d.channel,
            d.bob,
            format!("A1 more from general {i}"),
        ))
        .await
        .unwrap();
    }
    let reply = fake
        .post(Post::new(d.second_channel, d.bob, "A1 from chat-room").reply_to(copy.id))
        .await
        .unwrap();
    webhook_copy(&fake, d.second_channel, &bot, "fourth copy", |m| {
        m.content.contains("general 4")
    })
    .await;
    let back = webhook_copy(&fake, d.channel, &bot, "copy the other way", |m| {
        m.content.contains("A1 from chat-room")
    })
    .await;
    assert_eq!(
        back.webhook.unwrap().username,
        format!("Bob {FROM_DISCORD}")
    );
    // A reply: the parent here is the original, quoted (a webhook cannot reply).
    assert!(
        back.content.starts_with("> ↪ **Alice**: A1 from general"),
        "{}",
        back.content
    );
    assert!(back.content.contains(&format!(
        "https://discord.com/channels/{}/{}/{}",
        d.guild, d.channel, original.id
    )));
    assert!(
        back.content.ends_with("\nA1 from chat-room"),
        "{}",
        back.content
    );
    assert_eq!(fake.webhooks(d.second_channel).len(), 1);
    assert_eq!(fake.webhooks(d.channel).len(), 1);
    for channel in [d.channel, d.second_channel] {
        assert_eq!(
            succeeded(&fake, &format!("POST /channels/{channel}/webhooks")),
            1,
            "made once in {channel}"
        );
    }

    // Nothing echoes: each message once in the other channel, never back where it was said.
    bot.wait_for_log(&back.id.to_string(), 1, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let through_webhooks = |channel| -> Vec<Message> {
        fake.messages(channel)
            .into_iter()
            // Not the answers to slash commands (their webhook is the application's).
            .filter(|m| {
                m.webhook
                    .as_ref()
                    .is_some_and(|w| w.webhook_id.get() != fake.application_id().get())
            })
            .collect()
    };
    let into_second = through_webhooks(d.second_channel);
    assert_eq!(into_second.len(), 4, "{into_second:#?}");
    assert!(into_second
        .iter()
        .all(|m| m.content.contains("from general")));
    let into_first = through_webhooks(d.channel);
    assert_eq!(into_first.len(), 1, "{into_first:#?}");
    assert_eq!(into_first[0].id, back.id);
    assert_eq!(
        containing(&fake, d.second_channel, "A1 from chat-room").len(),
        1
    );
    assert!(
        fake.bot_messages(d.second_channel)
            .iter()
            .filter(|m| m.webhook.is_none())
            .all(|m| m.content.starts_with("**Intro:**") || m.content.starts_with("**Q1:**")),
        "no plain copies"
    );

    slash(&fake, d.moderator, "/chat stop", &bot).await;
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    let transcript = bot.transcript(&session);
    let mut bodies: Vec<String> = archived(&transcript).into_iter().map(|a| a.1).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        [
            "A1 from chat-room",
            "A1 from general, @everyone *really*",
            "A1 more from general 2",
            "A1 more from general 3",
            "A1 more from general 4",
        ],
        "each original archived once, the copies not at all"
    );
    assert_eq!(archived_ids(&transcript).len(), 5);
    assert!(!archived_ids(&transcript).contains(&copy.id.to_string()));
    assert_eq!(reply.channel_id, d.second_channel);
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
    assert!(
        !bot.logs()
            .contains(&fake.webhooks(d.second_channel)[0].token),
        "a webhook token was logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_is_made_once_and_kept_across_a_restart() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = relay_bot(&fake).await;
    start_until_q1(&fake, &bot).await;
    fake.post(Post::new(d.channel, d.alice, "A1 before the restart"))
        .await
        .unwrap();
    let before = webhook_copy(&fake, d.second_channel, &bot, "copy", |m| {
        m.content.contains("before the restart")
    })
    .await;

    bot.kill();
    bot.restart().await;
    let listed = fake.requests_matching("GET /channels/*/webhooks").len();
    fake.post(Post::new(d.channel, d.alice, "A1 after the restart"))
        .await
        .unwrap();
    let after = webhook_copy(
        &fake,
        d.second_channel,
        &bot,
        "copy after the restart",
        |m| m.content.contains("after the restart"),
    )
    .await;
    assert_eq!(
        after.webhook.unwrap().webhook_id,
        before.webhook.unwrap().webhook_id,
        "the same webhook"
    );
    assert_eq!(fake.webhooks(d.second_channel).len(), 1);
    assert_eq!(
        succeeded(
            &fake,
            &format!("POST /channels/{}/webhooks", d.second_channel)
        ),
        1
    );
    assert_eq!(
        fake.requests_matching("GET /channels/*/webhooks").len(),
        listed,
        "the stored webhook is used as it is, without asking Discord"
    );
    assert_eq!(
        containing(&fake, d.second_channel, "before the restart").len(),
        1
    );
    assert_eq!(
        containing(&fake, d.channel, "after the restart").len(),
        1,
        "no echo"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletions_follow_a_webhook_copy_through_the_webhooks_routes_piece_by_piece() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let bot = relay_bot(&fake).await;
    start_until_q1(&fake, &bot).await;

    let typo = fake
        .post(Post::new(d.channel, d.alice, "A1 Discrod typo"))
        .await
        .unwrap();
    let copy = webhook_copy(&fake, d.second_channel, &bot, "copy", |m| {
        m.content.contains("typo")
    })
    .await;
    let hook = fake.webhooks(d.second_channel)[0].clone();
    fake.edit(d.channel, typo.id, "A1 Discord, fixed")
        .await
        .unwrap();
    let edited = fake
        .wait_for(WAIT, |f| {
            f.message(d.second_channel, copy.id)
                .filter(|m| m.content == "A1 Discord, fixed")
        })
        .await;
    assert!(
        edited.is_some(),
        "the copy was not edited; log:\n{}",
        bot.logs()
    );
    assert_eq!(
        succeeded(
            &fake,
            &format!("PATCH /webhooks/{}/*/messages/{}", hook.id, copy.id)
        ),
        1,
        "edited through the webhook"
    );
    fake.delete(d.channel, typo.id).await.unwrap();
    let gone = fake
        .wait_for(WAIT, |f| {
            f.message(d.second_channel, copy.id).is_none().then_some(())
        })
        .await;
    assert!(
        gone.is_some(),
        "the copy was not deleted; log:\n{}",
        bot.logs()
    );
    assert_eq!(
        succeeded(
            &fake,
            &format!("DELETE /webhooks/{}/*/messages/{}", hook.id, copy.id)
        ),
        1
    );

    // A long message is copied in pieces; its edits reach every piece, adding or removing some.
    let long = format!("A1 long {}", "word ".repeat(700));
    let original = fake
        .post(Post::new(d.channel, d.bob, long.clone()))
        .await
        .unwrap();
    let pieces = fake
        .wait_for(WAIT, |f| {
            let p: Vec<Message> = f
                .messages(d.second_channel)
                .into_iter()
                .filter(|m| m.webhook.is_some())
                .collect();
            (p.len() == 2).then_some(p)
        })
        .await
        .unwrap_or_else(|| panic!("no two pieces; log:\n{}", bot.logs()));
    assert!(pieces.iter().all(|p| p.content.chars().count() <= 2000));
    let longer = format!("A1 longer {}", "text ".repeat(1000));
    fake.edit(d.channel, original.id, &longer).await.unwrap();
    let grown = fake
        .wait_for(WAIT, |f| {
            let p: Vec<Message> = f
                .messages(d.second_channel)
                .into_iter()
                .filter(|m| m.webhook.is_some())
                .collect();
            (p.len() == 3 && p[0].content.starts_with("A1 longer")).then_some(p)
        })
        .await
        .unwrap_or_else(|| panic!("the edit did not reach three pieces; log:\n{}", bot.logs()));
    assert_eq!(grown[0].id, pieces[0].id, "the pieces edited in place");
    assert_eq!(grown[1].id, pieces[1].id);
    let joined: String = grown
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        joined.split_whitespace().count(),
        longer.split_whitespace().count()
    );
    fake.edit(d.channel, original.id, "A1 short now")
        .await
        .unwrap();
    let shrunk = fake
        .wait_for(WAIT, |f| {
            let p: Vec<Message> = f
                .messages(d.second_channel)
                .into_iter()
                .filter(|m| m.webhook.is_some())
                .collect();
            (p.len() == 1 && p[0].content == "A1 short now").then_some(p)
        })
        .await;
    assert!(
        shrunk.is_some_and(|p| p[0].id == pieces[0].id),
        "the first piece edited, the others deleted; log:\n{}",
        bot.logs()
    );
    fake.delete(d.channel, original.id).await.unwrap();
    let none_left = fake
        .wait_for(WAIT, |f| {
            f.messages(d.second_channel)
                .iter()
                .all(|m| m.webhook.is_none())
                .then_some(())
        })
        .await;
    assert!(none_left.is_some(), "log:\n{}", bot.logs());
    assert!(
        fake.requests_matching("PATCH /channels/*/messages/*")
            .is_empty(),
        "a webhook's message is never edited through the bot's route"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_manage_webhooks_copies_are_plain_messages_naming_their_author_and_discord_is_asked_once(
) {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    fake.revoke_bot_permissions(d.guild, permissions::MANAGE_WEBHOOKS)
        .unwrap();
    let bot = relay_bot(&fake).await;
    start_until_q1(&fake, &bot).await;
    for i in 1..=3 {
        fake.post(Post::new(
            d.channel,
            d.alice,
            format!("A1 plain {i} @everyone"),
        ))
        .await
        .unwrap();
    }
    let copies = fake
        .wait_for(WAIT, |f| {
            let c: Vec<Message> = f
                .bot_messages(d.second_channel)
                .into_iter()
                .filter(|m| m.content.contains("A1 plain"))
                .collect();
            (c.len() == 3).then_some(c)
        })
        .await
        .unwrap_or_else(|| panic!("no plain copies; log:\n{}", bot.logs()));
    for copy in &copies {
        assert!(copy.webhook.is_none());
        assert!(
            copy.content.starts_with("**Alice** *(Discord)*: A1 plain"),
            "{}",
            copy.content
        );
        assert!(!copy.mention_everyone);
    }
    assert_eq!(
        fake.requests_matching(&format!("* /channels/{}/webhooks", d.second_channel))
            .len(),
        1,
        "asked once, refused, remembered"
    );
    assert!(fake.webhooks(d.second_channel).is_empty());
    assert_eq!(
        bot.logs()
            .matches("cannot relay through a webhook here")
            .count(),
        1,
        "warned once; log:\n{}",
        bot.logs()
    );
    // The plain copy's edits follow as before.
    let original = containing(&fake, d.channel, "A1 plain 1")[0].clone();
    fake.edit(d.channel, original.id, "A1 plain 1, edited")
        .await
        .unwrap();
    let edited = fake
        .wait_for(WAIT, |f| {
            f.message(d.second_channel, copies[0].id)
                .filter(|m| m.content.ends_with("A1 plain 1, edited"))
        })
        .await;
    assert!(edited.is_some(), "log:\n{}", bot.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_deleted_by_hand_is_made_again() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let bot = relay_bot(&fake).await;
    start_until_q1(&fake, &bot).await;
    fake.post(Post::new(d.channel, d.alice, "A1 first"))
        .await
        .unwrap();
    let first = webhook_copy(&fake, d.second_channel, &bot, "copy", |m| {
        m.content == "A1 first"
    })
    .await;
    let old = first.webhook.unwrap().webhook_id;
    fake.delete_webhook(old).unwrap();

    fake.post(Post::new(d.channel, d.alice, "A1 second"))
        .await
        .unwrap();
    let second = webhook_copy(&fake, d.second_channel, &bot, "copy", |m| {
        m.content == "A1 second"
    })
    .await;
    let new = second.webhook.unwrap().webhook_id;
    assert_ne!(new, old);
    assert_eq!(fake.webhooks(d.second_channel).len(), 1);
    assert_eq!(fake.webhooks(d.second_channel)[0].id, new);
    assert_eq!(containing(&fake, d.second_channel, "A1 second").len(), 1);
    assert!(
        fake.message(d.second_channel, first.id).is_some(),
        "the old copy stays"
    );
    // The old webhook's copy is still ours: its edit goes nowhere, and nothing echoes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(containing(&fake, d.channel, "A1 second").len(), 1);
    assert_eq!(containing(&fake, d.channel, "A1 first").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_integrations_webhook_posts_are_a_participants_and_are_relayed() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = relay_bot(&fake).await;
    let session = start_until_q1(&fake, &bot).await;
    let feed = fake
        .create_webhook_as(d.moderator, d.channel, "Library feed")
        .unwrap();
    let posted = fake
        .execute_webhook(feed.id, "Librarian", "A1 from the feed")
        .unwrap();
    let copy = webhook_copy(&fake, d.second_channel, &bot, "copy", |m| {
        m.content == "A1 from the feed"
    })
    .await;
    assert_eq!(
        copy.webhook.unwrap().username,
        format!("Librarian {FROM_DISCORD}")
    );
    bot.wait_for_log(&copy.id.to_string(), 1, WAIT).await;
    slash(&fake, d.moderator, "/chat stop", &bot).await;
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    assert_eq!(
        archived_ids(&bot.transcript(&session)),
        [posted.id.to_string()],
        "the feed's post archived; our copy not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_whose_answer_was_lost_is_adopted_not_posted_twice() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let bot = relay_bot(&fake).await;
    start_until_q1(&fake, &bot).await;
    fake.post(Post::new(d.channel, d.alice, "A1 warm-up"))
        .await
        .unwrap();
    webhook_copy(&fake, d.second_channel, &bot, "copy", |m| {
        m.content == "A1 warm-up"
    })
    .await;

    // Discord posts the copy, and its answer never reaches the bot.
    fake.lose_answers("POST /webhooks/*/*", 1);
    fake.post(Post::new(d.channel, d.alice, "A1 said once"))
        .await
        .unwrap();
    let looked = fake
        .wait_for(WAIT, |f| {
            f.requests_matching(&format!("GET /channels/{}/messages", d.second_channel))
                .into_iter()
                .find(|r| r.query.contains("after="))
        })
        .await;
    assert!(
        looked.is_some(),
        "the retry never read the channel back; log:\n{}",
        bot.logs()
    );
    // The retry found it; later copies still go out.
    fake.post(Post::new(d.channel, d.alice, "A1 after that"))
        .await
        .unwrap();
    webhook_copy(&fake, d.second_channel, &bot, "later copy", |m| {
        m.content == "A1 after that"
    })
    .await;
    assert_eq!(
        containing(&fake, d.second_channel, "A1 said once").len(),
        1,
        "posted twice; log:\n{}",
        bot.logs()
    );
    let executes = fake
        .requests_matching("POST /webhooks/*/*")
        .into_iter()
        .filter(|r| {
            r.body
                .as_ref()
                .is_some_and(|b| b["content"] == "A1 said once")
        })
        .count();
    assert_eq!(executes, 1, "executed once, then adopted");
    assert!(bot.logs().contains("adopting it"), "{}", bot.logs());
}

/// Killed once Discord has made a copy and before the outbox recorded it: after the restart
/// the retry finds that copy and posts no second, through a webhook (whose execute has no
/// nonce) and as a plain message (whose nonce Discord enforces).
async fn a_copy_made_just_before_a_crash_shows_once_after_the_restart(webhooks: bool) {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    if !webhooks {
        fake.revoke_bot_permissions(d.guild, permissions::MANAGE_WEBHOOKS)
            .unwrap();
    }
    let mut bot = relay_bot_unstarted(&fake);
    bot.env = vec![(
        "HASHCHAT_TEST_HOLD_BEFORE_RECORDING_COPY".to_owned(),
        "1".to_owned(),
    )];
    bot.start_and_wait(&fake).await;
    start_until_q1(&fake, &bot).await;
    fake.post(Post::new(d.channel, d.alice, "A1 made before the crash"))
        .await
        .unwrap();
    bot.wait_for_log("held before recording a copy", 1, WAIT)
        .await;
    bot.kill();
    assert_eq!(
        containing(&fake, d.second_channel, "A1 made before the crash").len(),
        1,
        "made, not recorded"
    );

    bot.env.clear();
    bot.restart().await;
    fake.post(Post::new(d.channel, d.alice, "A1 after the restart"))
        .await
        .unwrap();
    let later = fake
        .wait_for(WAIT, |f| {
            f.messages(d.second_channel)
                .into_iter()
                .find(|m| m.content.contains("A1 after the restart"))
        })
        .await;
    assert!(later.is_some(), "no later copy; log:\n{}", bot.logs());
    let copies = containing(&fake, d.second_channel, "A1 made before the crash");
    assert_eq!(copies.len(), 1, "posted again; log:\n{}", bot.logs());
    assert_eq!(copies[0].webhook.is_some(), webhooks);
    assert!(bot.stop().success(), "{}", bot.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_copy_made_just_before_a_crash_shows_once_after_the_restart() {
    a_copy_made_just_before_a_crash_shows_once_after_the_restart(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_copy_made_just_before_a_crash_shows_once_after_the_restart() {
    a_copy_made_just_before_a_crash_shows_once_after_the_restart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_session_thread_copies_go_into_the_other_channels_thread_through_its_webhook() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = Bot::new(&fake, d.channel);
    bot.set_chat(&format!(
        "{}\n[discord]\nthread_per_session = true\n",
        relay_chat_file(d.channel, d.second_channel)
    ));
    bot.start_and_wait(&fake).await;
    slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    // Each channel's thread is started from its intro, so it has the intro's id.
    let (fake_ref, bot_ref) = (&fake, &bot);
    let thread_of = |channel| async move {
        let intro = wait_for_step(fake_ref, channel, "Intro", bot_ref).await;
        let thread = ChannelId(intro.id.0);
        wait_for_step(fake_ref, thread, "Q1", bot_ref).await;
        thread
    };
    let (first, second) = (
        thread_of(d.channel).await,
        thread_of(d.second_channel).await,
    );

    let original = fake
        .post(Post::new(first, d.alice, "A1 in the thread"))
        .await
        .unwrap();
    let copy = webhook_copy(&fake, second, &bot, "copy in the thread", |m| {
        m.content == "A1 in the thread"
    })
    .await;
    let hook = fake.webhooks(d.second_channel);
    assert_eq!(
        hook.len(),
        1,
        "the webhook is the channel's, not the thread's"
    );
    assert_eq!(copy.webhook.unwrap().webhook_id, hook[0].id);
    assert!(containing(&fake, d.second_channel, "A1 in the thread").is_empty());
    fake.edit(first, original.id, "A1 in the thread, edited")
        .await
        .unwrap();
    let edited = fake
        .wait_for(WAIT, |f| {
            f.message(second, copy.id)
                .filter(|m| m.content == "A1 in the thread, edited")
        })
        .await;
    assert!(edited.is_some(), "log:\n{}", bot.logs());
    let patch = fake
        .requests_matching(&format!(
            "PATCH /webhooks/{}/*/messages/{}",
            hook[0].id, copy.id
        ))
        .pop()
        .expect("edited through the webhook");
    assert!(
        patch.query.contains(&format!("thread_id={second}")),
        "{}",
        patch.query
    );
    assert!(
        fake.messages(first)
            .iter()
            .filter(|m| m.webhook.is_some())
            .all(|m| m.interaction.is_some()),
        "no echo"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_manage_webhooks_an_attachment_is_uploaded_with_the_plain_copy() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    fake.revoke_bot_permissions(d.guild, permissions::MANAGE_WEBHOOKS)
        .unwrap();
    let bot = relay_bot(&fake).await;
    start_until_q1(&fake, &bot).await;
    fake.post(Post::new(d.channel, d.alice, "A1 our shelf").attachment(
        "shelf.png",
        "image/png",
        PNG,
    ))
    .await
    .unwrap();
    let copy = fake
        .wait_for(WAIT, |f| {
            f.bot_messages(d.second_channel)
                .into_iter()
                .find(|m| m.content.contains("A1 our shelf"))
        })
        .await
        .unwrap_or_else(|| panic!("no plain copy; log:\n{}", bot.logs()));
    assert!(copy.webhook.is_none());
    assert_eq!(copy.attachments.len(), 1, "{copy:?}");
    assert_eq!(copy.attachments[0].filename, "shelf.png");
    let served = reqwest::get(copy.attachments[0].url.as_str())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&served[..], PNG, "the same bytes");
}
