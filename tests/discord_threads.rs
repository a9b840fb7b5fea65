//! The `hashchat` binary as a Discord bot whose chat runs each session in a thread of its own
//! (`[discord] thread_per_session = true`), end to end against the fake Discord started in this
//! process: the intro in the channel with one thread started from it, points and the wrap-up in
//! the thread, answers there archived under their points, the thread archived and locked at the
//! end and linked from the transcript; a SIGKILL mid-session loses nothing said in the thread and
//! doubles no step; a bot that may not start threads carries on in the channel.

#[path = "support/discord.rs"]
mod discord;
mod support;

use std::time::Duration;

use discord::*;
use discord_fake::{permissions, ChannelId, FakeDiscord, Post};
use serde_json::{json, Value};

/// Starts the bot with the thread-per-session chat `quick` in the default channel and waits
/// until `/chat` is registered and it is connected.
async fn started_bot(fake: &FakeDiscord) -> Bot {
    started_bot_reaching(fake, Reach::AsDiscord).await
}

async fn started_bot_reaching(fake: &FakeDiscord, reach: Reach) -> Bot {
    let d = fake.defaults();
    let mut bot = Bot::reaching(fake, d.channel, reach);
    bot.set_chat(&threaded_chat_file("quick", d.channel));
    bot.start_and_wait(fake).await;
    bot
}

/// The session's thread: started from the intro, so it has the intro's id.
async fn session_thread(fake: &FakeDiscord, bot: &Bot) -> ChannelId {
    let d = fake.defaults().clone();
    let intro = wait_for_step(fake, d.channel, "Intro", bot).await;
    let thread = ChannelId(intro.id.0);
    let made = fake
        .wait_for(WAIT, |f| f.channel(thread).filter(|c| c.thread.is_some()))
        .await;
    let made = made
        .unwrap_or_else(|| panic!("no thread was started from the intro; log:\n{}", bot.logs()));
    assert_eq!(made.parent_id, Some(d.channel));
    thread
}

/// Waits until `thread` is archived and locked.
async fn wait_closed(fake: &FakeDiscord, thread: ChannelId, bot: &Bot) {
    let closed = fake
        .wait_for(WAIT, |f| {
            f.channel(thread)
                .and_then(|c| c.thread)
                .filter(|t| t.archived && t.locked)
        })
        .await;
    assert!(
        closed.is_some(),
        "the thread was not archived and locked; log:\n{}",
        bot.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_runs_in_one_thread_started_from_its_intro_which_ends_archived_locked_and_linked()
{
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;

    let started = slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    assert!(started.content.starts_with("Started"), "{started:?}");
    let session = session_number(&started.content);
    let thread = session_thread(&fake, &bot).await;
    let name = fake.channel(thread).unwrap().name;
    assert!(
        name.starts_with("A Discord chat · ") && name.chars().count() <= 100,
        "named after the chat and its date: {name}"
    );

    let q1 = wait_for_step(&fake, thread, "Q1", &bot).await;
    let a1 = fake
        .post(Post::new(thread, d.alice, "A1 I came for the books"))
        .await
        .unwrap();
    let reply = fake
        .post(Post::new(thread, d.bob, "me too").reply_to(q1.id))
        .await
        .unwrap();
    // A text command typed in the thread is answered there, as a reply to it.
    let typed = fake
        .post(Post::new(thread, d.alice, "!chat stop"))
        .await
        .unwrap();
    let refusal = fake
        .wait_for(WAIT, |f| {
            f.bot_messages(thread)
                .into_iter()
                .find(|m| m.reply_to == Some(typed.id))
        })
        .await;
    assert!(
        refusal.is_some_and(|r| r.content.contains("moderator")),
        "no refusal in the thread; log:\n{}",
        bot.logs()
    );
    wait_for_step(&fake, thread, "Q2", &bot).await;
    let on_screen = fake
        .post(Post::new(thread, d.bob, "this answers the point on screen"))
        .await
        .unwrap();
    // Archived before the session ends (the log names a message once it is handled).
    bot.wait_for_log(&on_screen.id.to_string(), 1, WAIT).await;

    slash(&fake, d.moderator, "/chat stop", &bot).await;
    wait_for_step(&fake, thread, "Wrap-up", &bot).await;
    wait_closed(&fake, thread, &bot).await;

    assert_eq!(
        step_labels(&fake.bot_messages(d.channel)),
        ["Intro"],
        "only the intro in the channel; log:\n{}",
        bot.logs()
    );
    assert_eq!(
        step_labels(&fake.bot_messages(thread)),
        ["Q1", "Q2", "Wrap-up"],
        "the points and the wrap-up in the thread, once each"
    );
    assert_eq!(
        fake.requests_matching("POST /channels/*/messages/*/threads")
            .iter()
            .filter(|r| r.status < 300)
            .count(),
        1,
        "one thread"
    );
    let closing: Vec<Value> = fake
        .requests_matching(&format!("PATCH /channels/{thread}"))
        .into_iter()
        .filter_map(|r| r.body)
        .collect();
    assert_eq!(closing, [json!({ "archived": true, "locked": true })]);
    let status = bot.stop();
    assert!(status.success(), "{status:?}");

    let transcript = bot.transcript(&session);
    let link = format!("https://discord.com/channels/{}/{thread}", d.guild);
    assert_eq!(
        transcript["session"]["link"],
        json!({ "label": "Discord thread", "url": link })
    );
    assert_eq!(message(&transcript, a1.id)["point"], 1);
    assert_eq!(message(&transcript, reply.id)["point"], 1, "a reply to Q1");
    assert_eq!(message(&transcript, on_screen.id)["point"], 2);
    assert_eq!(
        message(&transcript, a1.id)["permalink"],
        format!(
            "https://discord.com/channels/{}/{thread}/{}",
            d.guild, a1.id
        )
        .as_str(),
        "a message in the thread keeps its jump link"
    );
    assert_eq!(
        message(&transcript, a1.id)["room"],
        d.channel.to_string().as_str(),
        "archived as the chat channel's"
    );
    let html = bot.export(&session, "html");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    assert!(html.contains("Discord thread"));
    let markdown = bot.export(&session, "md");
    assert!(
        markdown.contains(&format!("**Where:** [Discord thread](<{link}>)")),
        "{markdown}"
    );
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_session_the_bot_back_fills_the_thread_in_order_and_shows_each_step_once() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;
    let started = slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    let session = session_number(&started.content);
    let thread = session_thread(&fake, &bot).await;
    wait_for_step(&fake, thread, "Q1", &bot).await;
    let before = fake
        .post(Post::new(thread, d.alice, "A1 before the crash"))
        .await
        .unwrap();
    bot.wait_for_log(&before.id.to_string(), 1, WAIT).await;

    bot.kill();
    // While the bot is down: more than a page in the thread, a word in the channel, and Q2
    // falls due.
    let first_away = fake
        .post(Post::new(thread, d.bob, "A1 while away, first"))
        .await
        .unwrap();
    let seeded = fake
        .seed_history(thread, d.alice, 120, |i| format!("A1 missed {i}"))
        .unwrap();
    let in_channel = fake
        .post(Post::new(d.channel, d.bob, "A1 said in the channel"))
        .await
        .unwrap();
    let last = fake
        .post(Post::new(thread, d.bob, "A1 while away, last"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;

    bot.restart().await;
    wait_for_step(&fake, thread, "Q2", &bot).await;
    let after = fake
        .post(Post::new(thread, d.alice, "A2 after the restart"))
        .await
        .unwrap();
    bot.wait_for_log(&after.id.to_string(), 1, WAIT).await;
    slash(&fake, d.moderator, "/chat stop", &bot).await;
    wait_for_step(&fake, thread, "Wrap-up", &bot).await;
    wait_closed(&fake, thread, &bot).await;
    assert_eq!(
        step_labels(&fake.bot_messages(d.channel)),
        ["Intro"],
        "log:\n{}",
        bot.logs()
    );
    assert_eq!(
        step_labels(&fake.bot_messages(thread)),
        ["Q1", "Q2", "Wrap-up"],
        "each step once, in the thread; log:\n{}",
        bot.logs()
    );
    assert_eq!(
        fake.requests_matching("POST /channels/*/messages/*/threads")
            .iter()
            .filter(|r| r.status < 300)
            .count(),
        1,
        "one thread"
    );
    let status = bot.stop();
    assert!(status.success(), "{status:?}");

    let transcript = bot.transcript(&session);
    let in_thread: Vec<String> = archived_ids(&transcript)
        .into_iter()
        .filter(|id| *id != in_channel.id.to_string())
        .collect();
    let mut expected = vec![before.id.to_string(), first_away.id.to_string()];
    expected.extend(seeded.iter().map(ToString::to_string));
    expected.push(last.id.to_string());
    expected.push(after.id.to_string());
    assert_eq!(
        in_thread, expected,
        "everything said in the thread once, in the order it was said"
    );
    assert_eq!(message(&transcript, in_channel.id)["point"], 1);
    let paged = fake
        .requests_matching(&format!("GET /channels/{thread}/messages"))
        .into_iter()
        .filter(|r| r.query.contains("after="))
        .count();
    assert!(paged >= 2, "the thread read back in pages of 100");
    assert!(
        !fake
            .requests_matching(&format!("GET /guilds/{}/threads/active", d.guild))
            .is_empty(),
        "the guild's active threads were asked for"
    );
    assert_eq!(
        transcript["session"]["link"]["url"],
        format!("https://discord.com/channels/{}/{thread}", d.guild).as_str()
    );
}

/// The session ends while the bot is away: restarted, it posts the overdue steps and closes
/// the thread before Discord's gateway lets it in (refused here until then). What was said in
/// the thread before the wrap-up is still read back: a closed thread is not in the guild's
/// active list, but its session's record names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_closed_while_the_bot_could_not_read_it_is_still_read_back() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = started_bot(&fake).await;
    let started = slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    let session = session_number(&started.content);
    let thread = session_thread(&fake, &bot).await;
    wait_for_step(&fake, thread, "Q1", &bot).await;
    let before = fake
        .post(Post::new(thread, d.alice, "A1 before the crash"))
        .await
        .unwrap();
    bot.wait_for_log(&before.id.to_string(), 1, WAIT).await;

    bot.kill();
    let away = fake
        .post(Post::new(thread, d.bob, "A1 while the bot is away"))
        .await
        .unwrap();
    fake.refuse_gateway(None);
    // Q2, Q3 and the wrap-up fall due, three seconds apart.
    tokio::time::sleep(Duration::from_secs(10)).await;
    bot.start();
    wait_for_step(&fake, thread, "Wrap-up", &bot).await;
    wait_closed(&fake, thread, &bot).await;
    fake.restore_gateway();
    assert!(fake.wait_connected(WAIT).await, "{}", bot.logs());
    bot.wait_for_log(&away.id.to_string(), 1, WAIT).await;
    assert!(bot.stop().success(), "{}", bot.logs());

    assert_eq!(
        archived_ids(&bot.transcript(&session)),
        [before.id.to_string(), away.id.to_string()],
        "log:\n{}",
        bot.logs()
    );
}

/// Starting the thread fails for a while after the intro went out (429s past what one call
/// waits out, through a proxy: serenity's own ratelimiter would wait them all out): the post
/// is tried again, and the retry starts the thread from the intro already there instead of
/// posting the intro a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_that_fails_to_start_is_started_again_from_the_same_intro() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let bot = started_bot_reaching(&fake, Reach::ThroughProxy).await;
    fake.rate_limit(
        "POST /channels/*/messages/*/threads",
        6,
        Duration::ZERO,
        false,
    );
    slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    let thread = session_thread(&fake, &bot).await;
    wait_for_step(&fake, thread, "Q1", &bot).await;
    assert!(
        bot.logs().contains("post failed"),
        "the first try failed; log:\n{}",
        bot.logs()
    );
    let intros = fake
        .requests_matching(&format!("POST /channels/{}/messages", d.channel))
        .into_iter()
        .filter(|r| {
            r.body.as_ref().is_some_and(|b| {
                b["content"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("**Intro:**"))
            })
        })
        .count();
    assert_eq!(intros, 1, "the intro sent once; log:\n{}", bot.logs());
    assert_eq!(step_labels(&fake.bot_messages(d.channel)), ["Intro"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_may_not_start_threads_runs_the_session_in_the_channel_and_warns_once() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    fake.revoke_bot_permissions(d.guild, permissions::CREATE_PUBLIC_THREADS)
        .unwrap();
    let mut bot = started_bot(&fake).await;
    let started = slash(&fake, d.moderator, "/chat start chat:quick", &bot).await;
    let session = session_number(&started.content);
    wait_for_step(&fake, d.channel, "Q1", &bot).await;
    let a1 = fake
        .post(Post::new(d.channel, d.alice, "A1 in the channel"))
        .await
        .unwrap();
    wait_for_step(&fake, d.channel, "Q2", &bot).await;
    slash(&fake, d.moderator, "/chat stop", &bot).await;
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    assert_eq!(
        step_labels(&fake.bot_messages(d.channel)),
        ["Intro", "Q1", "Q2", "Wrap-up"],
        "every step in the channel, once; log:\n{}",
        bot.logs()
    );
    let refused = fake.requests_matching("POST /channels/*/messages/*/threads");
    assert_eq!(
        refused.iter().map(|r| r.status).collect::<Vec<_>>(),
        [403],
        "asked once, refused"
    );
    let status = bot.stop();
    assert!(status.success(), "{status:?}");
    let logs = bot.logs();
    assert_eq!(
        logs.matches("cannot start a thread for the session")
            .count(),
        1,
        "{logs}"
    );
    let transcript = bot.transcript(&session);
    assert_eq!(message(&transcript, a1.id)["point"], 1);
    assert!(
        transcript["session"].get("link").is_none(),
        "no thread, no link: {transcript:#}"
    );
}
