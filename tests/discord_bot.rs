//! The `hashchat` binary as a Discord bot, end to end against the fake Discord started in this
//! process (`discord-fake`: REST + gateway on 127.0.0.1, which serenity and our gateway runner
//! speak to unmodified): slash commands within the 3-second rule, points on accelerated time,
//! every kind of answer archived under its point, and nothing sent anywhere but the fake.

#[path = "support/discord.rs"]
mod discord;
mod support;

use std::time::Duration;

use discord::*;
use discord_fake::{FakeDiscord, Post, SlashCommand};
use serde_json::json;

/// Starts the bot and waits until it is connected with `/chat` registered.
async fn started_bot(fake: &FakeDiscord) -> Bot {
    started_bot_with(fake, &[]).await
}

/// [`started_bot`] with extra environment (test aids).
async fn started_bot_with(fake: &FakeDiscord, env: &[(&str, &str)]) -> Bot {
    let mut bot = Bot::new(fake, fake.defaults().channel);
    bot.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    bot.start_and_wait(fake).await;
    bot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderators_slash_start_runs_the_session_and_the_transcript_holds_every_answer_under_its_point(
) {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;

    let started = slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    assert!(started.content.starts_with("Started"), "{started:?}");
    assert!(!started.ephemeral, "a confirmation is for the channel");
    assert!(
        started.callback_latency < Duration::from_secs(3),
        "answered within Discord's window: {started:?}"
    );
    let session = session_number(&started.content);

    wait_for_step(&fake, d.channel, "Q1", &bot).await;
    let a1 = fake
        .post(Post::new(
            d.channel,
            d.alice,
            "A1 I came for the books @everyone",
        ))
        .await
        .unwrap();
    let reply = fake
        .post(Post::new(d.channel, d.bob, "same here").reply_to(a1.id))
        .await
        .unwrap();
    let typo = fake
        .post(Post::new(d.channel, d.alice, "A1 shelvse"))
        .await
        .unwrap();
    fake.edit(d.channel, typo.id, "A1 shelves").await.unwrap();
    let gone = fake
        .post(Post::new(d.channel, d.bob, "A1 oops, wrong channel"))
        .await
        .unwrap();
    fake.delete(d.channel, gone.id).await.unwrap();
    fake.react(d.channel, a1.id, d.bob, "👍").await.unwrap();
    fake.react(d.channel, a1.id, d.moderator, "🎉")
        .await
        .unwrap();
    fake.unreact(d.channel, a1.id, d.moderator, "🎉")
        .await
        .unwrap();
    let picture = fake
        .post(
            Post::new(d.channel, d.alice, "my reading corner").attachment(
                "corner.png",
                "image/png",
                PNG,
            ),
        )
        .await
        .unwrap();

    wait_for_step(&fake, d.channel, "Q2", &bot).await;
    let on_screen = fake
        .post(Post::new(
            d.channel,
            d.bob,
            "this answers the point on screen",
        ))
        .await
        .unwrap();

    let stopped = slash(&fake, d.moderator, "/chat stop", &bot).await;
    assert!(!stopped.ephemeral, "{stopped:?}");
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    let labels = step_labels(&fake.bot_messages(d.channel));
    assert_eq!(
        labels,
        ["Intro", "Q1", "Q2", "Wrap-up"],
        "each step once, in order"
    );

    // The image is copied into the media store in the background.
    let media = bot.scratch.path("data/media");
    support::wait_for(WAIT, "the image in the media store", || {
        walk(&media).iter().any(|bytes| bytes == PNG)
    });
    let status = bot.stop();
    assert!(status.success(), "clean exit: {status:?}\n{}", bot.logs());

    let transcript = bot.transcript(&session);
    let (alice, bob) = (d.alice.to_string(), d.bob.to_string());
    assert_eq!(
        archived(&transcript),
        vec![
            (
                alice.clone(),
                "A1 I came for the books @everyone".into(),
                Some(1)
            ),
            (bob.clone(), "same here".into(), Some(1)),
            (alice.clone(), "A1 shelves".into(), Some(1)),
            (alice.clone(), "my reading corner".into(), Some(1)),
            (
                bob.clone(),
                "this answers the point on screen".into(),
                Some(2)
            ),
        ],
        "exactly the answers, under their points: no command, no deleted message"
    );
    assert_eq!(
        message(&transcript, reply.id)["reply_to"],
        a1.id.to_string()
    );
    assert_eq!(
        message(&transcript, typo.id)["edits"][0]["body"],
        "A1 shelvse"
    );
    assert_eq!(
        message(&transcript, a1.id)["reactions"],
        json!([{ "key": "👍", "count": 1 }]),
        "the reaction kept, the one taken back gone"
    );
    let image = &message(&transcript, picture.id)["attachments"][0];
    assert_eq!(image["name"], "corner.png");
    assert_eq!(message(&transcript, on_screen.id)["point"], 2);
    let first = message(&transcript, a1.id);
    assert_eq!(first["platform_label"], "Discord");
    assert_eq!(
        first["permalink"],
        format!(
            "https://discord.com/channels/{}/{}/{}",
            d.guild, d.channel, a1.id
        )
    );
    assert_eq!(
        first["author"]["name"], "Alice",
        "the global name, for want of a nickname"
    );

    // Every post carried its nonce (enforced) and let nobody be pinged by parsing.
    let posts = fake.requests_matching("POST /channels/*/messages");
    assert!(posts.len() >= 4, "{posts:?}");
    for p in &posts {
        let body = p.body.as_ref().expect("a JSON body");
        assert_eq!(body["enforce_nonce"], true, "{body}");
        assert!(
            body["nonce"].as_str().is_some_and(|n| n.len() <= 25),
            "{body}"
        );
        assert_eq!(body["allowed_mentions"]["parse"], json!([]), "{body}");
    }
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
    support::assert_a_clean_log(&bot.logs());
}

/// Every file's bytes under `dir`, recursively.
fn walk(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push(bytes);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_moderators_slash_start_is_refused_privately_and_nothing_starts() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let bot = started_bot(&fake).await;

    let refused = slash(&fake, d.alice, "/chat start chat:quick", &bot).await;
    assert!(
        refused.ephemeral,
        "a refusal is only for the person who asked: {refused:?}"
    );
    assert!(
        refused.content.to_lowercase().contains("moderator"),
        "{refused:?}"
    );
    assert_eq!(refused.callback.kind, 4, "answered at once, not deferred");
    // Nothing started: no intro comes.
    let intro = fake
        .wait_for(Duration::from_secs(4), |f| {
            f.bot_messages(d.channel)
                .into_iter()
                .find(|m| m.content.starts_with("**Intro:**"))
        })
        .await;
    assert!(intro.is_none(), "{intro:?}");
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
}

/// Starts the bot with `env` and waits until `/chat` is registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_is_deferred_within_three_seconds_then_edited_in() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    // Every command takes 2.5 s in the engine: past Discord's 3-second window once the
    // dispatch and the callback are counted.
    let bot = started_bot_with(&fake, &[("HASHCHAT_TEST_COMMAND_DELAY_MS", "2500")]).await;

    let started = slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    assert_eq!(started.callback.kind, 5, "deferred: {started:?}");
    assert!(
        started.callback_latency < Duration::from_secs(3),
        "{started:?}"
    );
    assert!(
        started.content.starts_with("Started"),
        "then followed up: {started:?}"
    );
    assert!(!started.ephemeral, "{started:?}");
    assert!(
        started
            .answered_after
            .is_some_and(|a| a >= Duration::from_millis(2500)),
        "{started:?}"
    );
    let edits = fake.requests_matching("PATCH /webhooks/*/*/messages/@original");
    assert_eq!(
        edits.len(),
        1,
        "the deferred answer edited, not a second callback"
    );
    let callbacks = fake.requests_matching("POST /interactions/*/*/callback");
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");

    // A refusal after a public deferral still reaches only the person who asked.
    let refused = fake
        .invoke(
            d.alice,
            d.channel,
            SlashCommand::parse("/chat stop").unwrap(),
        )
        .await
        .unwrap();
    let followup = fake
        .wait_for_request("POST /webhooks/*/*", WAIT)
        .await
        .expect("an ephemeral follow-up");
    assert_eq!(followup.body.as_ref().unwrap()["flags"], 64, "{followup:?}");
    assert!(
        fake.requests_matching("DELETE /webhooks/*/*/messages/@original")
            .len()
            == 1
    );
    assert_eq!(refused.callback(WAIT).await.unwrap().callback.kind, 5);
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
}

/// With serenity's ratelimiter, as in production.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_posts_are_waited_out_and_each_step_shows_once() {
    rate_limited_posts_shown_once(Reach::AsDiscord).await;
}

/// Through a proxy (`api_url`), serenity's ratelimiter off: the bot waits out `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_proxy_rate_limited_posts_are_waited_out_and_each_step_shows_once() {
    rate_limited_posts_shown_once(Reach::ThroughProxy).await;
}

async fn rate_limited_posts_shown_once(reach: Reach) {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = Bot::reaching(&fake, d.channel, reach);
    bot.start_and_wait(&fake).await;

    // The intro and Q1 each meet a 429 first.
    fake.rate_limit(
        "POST /channels/*/messages",
        2,
        Duration::from_millis(1500),
        false,
    );
    let started = slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    assert!(started.content.starts_with("Started"), "{started:?}");
    wait_for_step(&fake, d.channel, "Q2", &bot).await;
    assert_eq!(
        step_labels(&fake.bot_messages(d.channel)),
        ["Intro", "Q1", "Q2"],
        "nothing dropped, nothing twice; log:\n{}",
        bot.logs()
    );
    let statuses: Vec<u16> = fake
        .requests_matching("POST /channels/*/messages")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_session_the_bot_back_fills_what_was_said_meanwhile_in_order_and_posts_each_step_once(
) {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;
    let session = start_until_q1(&fake, &bot).await;
    let before = fake
        .post(Post::new(d.channel, d.alice, "A1 before the crash"))
        .await
        .unwrap();
    // Archived before the kill: the cursor is past it.
    // (The log names a participant's message only when it has been handled.)
    bot.wait_for_log(&before.id.to_string(), 1, WAIT).await;

    bot.kill();
    // While the bot is down: more than one page of history, and Q2 falls due. Bob has a
    // nickname, which the history Discord gives back does not carry.
    fake.set_nickname(d.guild, d.bob, Some("Bobby")).unwrap();
    fake.post(Post::new(d.channel, d.bob, "A1 while away, first"))
        .await
        .unwrap();
    let seeded = fake
        .seed_history(d.channel, d.alice, 150, |i| format!("A1 missed {i}"))
        .unwrap();
    let last = fake
        .post(Post::new(d.channel, d.bob, "A1 while away, last"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;

    bot.restart().await;
    wait_for_step(&fake, d.channel, "Q2", &bot).await;
    let after = fake
        .post(Post::new(d.channel, d.alice, "A2 after the restart"))
        .await
        .unwrap();
    slash(&fake, d.moderator, "/chat stop", &bot).await;
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    assert_eq!(
        step_labels(&fake.bot_messages(d.channel)),
        ["Intro", "Q1", "Q2", "Wrap-up"],
        "each step once, in order; log:\n{}",
        bot.logs()
    );
    let status = bot.stop();
    assert!(status.success(), "{status:?}");

    let transcript = bot.transcript(&session);
    let ids = archived_ids(&transcript);
    let mut expected = vec![before.id.to_string()];
    let first_away = fake
        .messages(d.channel)
        .into_iter()
        .find(|m| m.content == "A1 while away, first")
        .unwrap();
    expected.push(first_away.id.to_string());
    expected.extend(seeded.iter().map(ToString::to_string));
    expected.push(last.id.to_string());
    expected.push(after.id.to_string());
    assert_eq!(
        ids, expected,
        "every message once, in the order it was said"
    );
    assert_eq!(
        message(&transcript, first_away.id)["author"]["name"],
        "Bobby",
        "named by their nickname, looked up once"
    );
    let bob_looked_up = format!("GET /guilds/{}/members/{}", d.guild, d.bob);
    assert_eq!(fake.requests_matching(&bob_looked_up).len(), 1);
    let paged = fake
        .requests_matching("GET /channels/*/messages")
        .into_iter()
        .filter(|r| r.query.contains("after="))
        .count();
    assert!(paged >= 2, "read back in pages of 100");
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
}

/// A participant types `@everyone` where the bot repeats it (an unknown chat's name, quoted in
/// the refusal): the reply shows the text but lets Discord ping nobody, whether the command
/// came as text or as a slash command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_typed_by_a_participant_and_echoed_in_a_reply_pings_nobody() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let bot = started_bot(&fake).await;

    fake.post(Post::new(d.channel, d.alice, "!chat start @everyone"))
        .await
        .unwrap();
    let echoed = fake
        .wait_for(WAIT, |f| {
            f.bot_messages(d.channel)
                .into_iter()
                .find(|m| m.content.contains("@everyone"))
        })
        .await;
    assert!(echoed.is_some(), "no reply; log:\n{}", bot.logs());
    let replies: Vec<_> = fake
        .requests_matching("POST /channels/*/messages")
        .into_iter()
        .filter_map(|r| r.body)
        .filter(|b| {
            b["content"]
                .as_str()
                .is_some_and(|c| c.contains("@everyone"))
        })
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    let mentions = &replies[0]["allowed_mentions"];
    assert_eq!(mentions["parse"], json!([]), "{mentions}");
    assert!(
        mentions["roles"].as_array().is_none_or(|r| r.is_empty()),
        "{mentions}"
    );

    let answered = slash(&fake, d.alice, "/chat start chat:@here", &bot).await;
    assert!(answered.content.contains("@here"), "{answered:?}");
    let callbacks: Vec<_> = fake
        .requests_matching("POST /interactions/*/*/callback")
        .into_iter()
        .filter_map(|r| r.body)
        .collect();
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(
        callbacks[0]["data"]["allowed_mentions"]["parse"],
        json!([]),
        "{}",
        callbacks[0]
    );
}

/// The gateway connection drops mid-session (no close frame): the bot resumes the same session,
/// Discord replays what was said meanwhile, and every message is archived once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_dropped_mid_session_resumes_and_loses_nothing() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;
    let session = start_until_q1(&fake, &bot).await;

    fake.post(Post::new(d.channel, d.alice, "A1 before the drop"))
        .await
        .unwrap();
    fake.drop_gateway();
    for text in ["A1 while reconnecting", "A1 and another"] {
        fake.post(Post::new(d.channel, d.bob, text)).await.unwrap();
    }
    let resumed = fake
        .wait_for(WAIT, |f| (f.gateway_stats().resumes >= 1).then_some(()))
        .await;
    assert!(resumed.is_some(), "never resumed; log:\n{}", bot.logs());
    fake.post(Post::new(d.channel, d.alice, "A1 after the resume"))
        .await
        .unwrap();
    // The gateway hands the bot that message before the stop, and it handles them in order.
    let stopped = slash(&fake, d.moderator, "/chat stop", &bot).await;
    assert!(stopped.content.contains("stopped"), "{stopped:?}");
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());

    let stats = fake.gateway_stats();
    assert_eq!(
        stats.identifies, 1,
        "resumed, not identified again: {stats:?}"
    );
    let bodies: Vec<String> = archived(&bot.transcript(&session))
        .into_iter()
        .map(|m| m.1)
        .collect();
    assert_eq!(
        bodies,
        [
            "A1 before the drop",
            "A1 while reconnecting",
            "A1 and another",
            "A1 after the resume"
        ]
    );
}

/// Discord ends the session (Invalid Session, not resumable) and is unreachable for a while:
/// the bot identifies anew, and what was said while no events reached it is read back from
/// the channel's history, in order, before anything newer; nothing is archived twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_discord_will_not_resume_is_identified_anew_and_the_gap_is_back_filled() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;
    let session = start_until_q1(&fake, &bot).await;
    let before = fake
        .post(Post::new(d.channel, d.alice, "A1 before the gap"))
        .await
        .unwrap();
    bot.wait_for_log(&before.id.to_string(), 1, WAIT).await;

    // From here until the next Identify no event is delivered, and a Resume fails.
    fake.invalidate_session(false);
    fake.refuse_gateway(None);
    let mut missed = Vec::new();
    for text in ["A1 in the gap", "A1 also in the gap"] {
        missed.push(fake.post(Post::new(d.channel, d.bob, text)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    fake.restore_gateway();
    let identified = fake
        .wait_for(WAIT, |f| (f.gateway_stats().identifies >= 2).then_some(()))
        .await;
    assert!(
        identified.is_some(),
        "never identified again; log:\n{}",
        bot.logs()
    );
    let after = fake
        .post(Post::new(d.channel, d.alice, "A1 after the gap"))
        .await
        .unwrap();
    bot.wait_for_log(&after.id.to_string(), 1, WAIT).await;
    let stopped = slash(&fake, d.moderator, "/chat stop", &bot).await;
    assert!(stopped.content.contains("stopped"), "{stopped:?}");
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());

    let ids = archived_ids(&bot.transcript(&session));
    let expected: Vec<String> = std::iter::once(&before)
        .chain(&missed)
        .chain(std::iter::once(&after))
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(
        ids,
        expected,
        "each message once, in order; log:\n{}",
        bot.logs()
    );
    let backfilled = fake
        .requests_matching("GET /channels/*/messages")
        .into_iter()
        .filter(|r| r.query.contains(&format!("after={}", before.id)))
        .count();
    assert!(
        backfilled >= 1,
        "the gap was read from the history after the last archived message"
    );
}

/// Discord is wholly unreachable (REST answers 502, the gateway refuses connections) while
/// two points and the wrap-up fall due: they wait, then go out once each, in order, and what
/// people said meanwhile is archived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_due_while_discord_is_unreachable_wait_and_go_out_once_in_order() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;
    let session = start_until_q1(&fake, &bot).await;

    fake.set_rest_down(true);
    fake.refuse_gateway(None);
    let meanwhile = fake
        .post(Post::new(d.channel, d.alice, "A1 while Discord is away"))
        .await
        .unwrap();
    // Q2, Q3 and the wrap-up fall due, a minute apart (three seconds here).
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        step_labels(&fake.bot_messages(d.channel)),
        ["Intro", "Q1"],
        "nothing could be posted meanwhile"
    );
    assert!(
        bot.logs().contains("the post waits"),
        "the outage is a wait, not a failure; log:\n{}",
        bot.logs()
    );
    fake.set_rest_down(false);
    fake.restore_gateway();

    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    assert_eq!(
        step_labels(&fake.bot_messages(d.channel)),
        ["Intro", "Q1", "Q2", "Q3", "Wrap-up"],
        "each step once, in order; log:\n{}",
        bot.logs()
    );
    bot.wait_for_log(&meanwhile.id.to_string(), 1, WAIT).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    let bodies: Vec<String> = archived(&bot.transcript(&session))
        .into_iter()
        .map(|m| m.1)
        .collect();
    assert_eq!(bodies, ["A1 while Discord is away"]);
}

/// The bot's answer to the text command `message` in the default channel: its reply to it.
async fn text_reply(fake: &FakeDiscord, message: &discord_fake::Message, bot: &Bot) -> String {
    let d = fake.defaults();
    match fake
        .wait_for(WAIT, |f| {
            f.bot_messages(d.channel)
                .into_iter()
                .find(|m| m.reply_to == Some(message.id))
        })
        .await
    {
        Some(reply) => reply.content,
        None => panic!("no reply to {:?}; log:\n{}", message.content, bot.logs()),
    }
}

/// `!chat …` typed in the channel works as `/chat …` does: a moderator starts and stops a
/// session, a participant is refused, and each answer is a reply to its command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_commands_start_and_stop_a_session_and_refuse_a_participant() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;

    let start = fake
        .post(Post::new(d.channel, d.moderator, "!chat start quick"))
        .await
        .unwrap();
    let started = text_reply(&fake, &start, &bot).await;
    assert!(started.starts_with("Started"), "{started}");
    let session = session_number(&started);
    wait_for_step(&fake, d.channel, "Q1", &bot).await;

    let refused = fake
        .post(Post::new(d.channel, d.alice, "!chat stop"))
        .await
        .unwrap();
    let refusal = text_reply(&fake, &refused, &bot).await;
    assert!(refusal.contains("moderator"), "{refusal}");
    let answer = fake
        .post(Post::new(d.channel, d.alice, "A1 typed, not slashed"))
        .await
        .unwrap();
    bot.wait_for_log(&answer.id.to_string(), 1, WAIT).await;

    let stop = fake
        .post(Post::new(d.channel, d.moderator, "!chat stop"))
        .await
        .unwrap();
    let stopped = text_reply(&fake, &stop, &bot).await;
    assert!(stopped.contains("stopped"), "{stopped}");
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    assert_eq!(
        archived(&bot.transcript(&session)),
        [(
            d.alice.to_string(),
            "A1 typed, not slashed".to_owned(),
            Some(1)
        )],
        "the answer archived under Q1; no command is archived"
    );
}

/// A moderator (by their role's Manage Events) types `!chat stop` while the bot is down: read
/// back after the restart, without the member Discord's history leaves out, it is still
/// known as a moderator's and carried out once, answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderators_text_command_sent_while_the_bot_was_down_is_carried_out_after_the_restart() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;
    start_until_q1(&fake, &bot).await;
    bot.kill();
    let stop = fake
        .post(Post::new(d.channel, d.moderator, "!chat stop"))
        .await
        .unwrap();
    bot.start();
    let stopped = text_reply(&fake, &stop, &bot).await;
    assert!(
        stopped.contains("stopped"),
        "{stopped}; log:\n{}",
        bot.logs()
    );
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    let replies = fake
        .bot_messages(d.channel)
        .into_iter()
        .filter(|m| m.reply_to == Some(stop.id))
        .count();
    assert_eq!(replies, 1, "answered once; log:\n{}", bot.logs());
    let steps = step_labels(&fake.bot_messages(d.channel));
    assert_eq!(steps.first().map(String::as_str), Some("Intro"));
    assert_eq!(steps.last().map(String::as_str), Some("Wrap-up"));
    assert_eq!(steps.iter().filter(|s| *s == "Wrap-up").count(), 1);
}

/// An admin gives a role Manage Events while the bot runs: its members may moderate at once,
/// by text command as by slash command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_given_manage_events_while_the_bot_runs_moderates_at_once() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;
    let helpers = fake.create_role(d.guild, "Helpers", 0).unwrap();
    fake.add_member(d.guild, d.alice, &[helpers]).unwrap();
    let refused = fake
        .post(Post::new(d.channel, d.alice, "!chat start quick"))
        .await
        .unwrap();
    let refusal = text_reply(&fake, &refused, &bot).await;
    assert!(refusal.contains("moderator"), "{refusal}");

    fake.set_role_permissions(d.guild, helpers, discord_fake::permissions::MANAGE_EVENTS)
        .unwrap();
    let start = fake
        .post(Post::new(d.channel, d.alice, "!chat start quick"))
        .await
        .unwrap();
    let started = text_reply(&fake, &start, &bot).await;
    assert!(
        started.starts_with("Started"),
        "{started}; log:\n{}",
        bot.logs()
    );
    wait_for_step(&fake, d.channel, "Q1", &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
}

/// Typing a chat's or a session's option offers what exists, as Discord's autocomplete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_and_session_options_are_autocompleted_from_what_exists() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = Bot::new(&fake, d.channel);
    bot.scratch
        .write("chats/other.toml", &chat_file("other", d.second_channel));
    bot.start_and_wait(&fake).await;

    let offered = |reply: discord_fake::InteractionReply| -> Vec<String> {
        assert_eq!(reply.callback.kind, 8, "an autocomplete result: {reply:?}");
        reply
            .choices
            .iter()
            .map(|c| {
                c["value"]
                    .as_str()
                    .map_or_else(|| c["value"].to_string(), str::to_owned)
            })
            .collect()
    };
    let typing = fake
        .autocomplete(
            d.alice,
            d.channel,
            SlashCommand::parse("/chat start chat:qu").unwrap(),
            "chat",
        )
        .await
        .unwrap();
    let chats = offered(typing.callback(WAIT).await.expect("choices"));
    assert_eq!(chats, ["quick"]);

    let started = slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    let session = session_number(&started.content);
    let typing = fake
        .autocomplete(
            d.alice,
            d.channel,
            SlashCommand::parse("/chat transcript session:").unwrap(),
            "session",
        )
        .await
        .unwrap();
    let sessions = offered(typing.callback(WAIT).await.expect("choices"));
    assert!(sessions.contains(&session), "{sessions:?} lacks {session}");
}
