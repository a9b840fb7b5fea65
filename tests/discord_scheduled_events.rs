//! Discord Scheduled Events end to end: the real `hashchat` binary against the fake Discord,
//! on accelerated time, with `[discord] scheduled_events = true`.

#[path = "support/discord.rs"]
mod discord;
mod support;

use discord::*;
use discord_fake::FakeDiscord;

/// `/chat <line>` from the moderator; the answer's text.
async fn moderator_slash(fake: &FakeDiscord, line: &str, bot: &Bot) -> String {
    slash(fake, fake.defaults().moderator, line, bot)
        .await
        .content
}

/// The bot for `fake`, with `[discord] scheduled_events = true` (the config's last table).
fn bot_with_events(fake: &FakeDiscord) -> Bot {
    let bot = Bot::new(fake, fake.defaults().channel);
    let config = bot.scratch.path("hashchat.toml");
    let mut text = support::read(&config);
    text.push_str("scheduled_events = true\n");
    std::fs::write(&config, text).unwrap();
    bot
}

/// Waits until the guild's only event has `status`.
async fn wait_for_status(
    fake: &FakeDiscord,
    status: u8,
    bot: &Bot,
) -> discord_fake::ScheduledEvent {
    let guild = fake.defaults().guild;
    match fake
        .wait_for(WAIT, |f| {
            f.scheduled_events(guild)
                .into_iter()
                .find(|e| e.status == status)
        })
        .await
    {
        Some(e) => e,
        None => panic!(
            "no event with status {status}: {:?}; log:\n{}",
            fake.scheduled_events(guild),
            bot.logs()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_session_becomes_an_event_and_cancelling_it_cancels_the_event() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = bot_with_events(&fake);
    bot.start_and_wait(&fake).await;

    let answer = moderator_slash(&fake, "/chat schedule chat:quick \"when:in 2h\"", &bot).await;
    assert!(answer.starts_with("Scheduled"), "{answer}");
    let session = session_number(&answer);
    let event = fake
        .wait_for(WAIT, |f| f.scheduled_events(d.guild).into_iter().next())
        .await
        .unwrap_or_else(|| panic!("no event; log:\n{}", bot.logs()));
    assert_eq!(event.name, "A Discord chat");
    assert_eq!(event.entity_type, 3);
    assert_eq!(event.status, 1);
    let location = event.location.clone().unwrap();
    assert!(
        location.starts_with("#general · https://discord.com/channels/"),
        "{location}"
    );
    let start = chrono::DateTime::parse_from_rfc3339(&event.start).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(event.end.as_deref().unwrap()).unwrap();
    assert_eq!(
        end - start,
        chrono::Duration::minutes(4),
        "intro + three points"
    );
    let last = event.description.clone().unwrap_or_default();
    assert!(
        last.lines()
            .last()
            .unwrap()
            .starts_with("hashchat session "),
        "{last}"
    );

    let answer = moderator_slash(&fake, &format!("/chat cancel session:{session}"), &bot).await;
    assert!(answer.contains("ancelled"), "{answer}");
    let cancelled = fake
        .wait_for(WAIT, |f| {
            f.scheduled_events(d.guild)
                .into_iter()
                .find(|e| e.id == event.id && e.status == 4)
        })
        .await;
    assert!(cancelled.is_some(), "not cancelled; log:\n{}", bot.logs());
    assert_eq!(
        fake.scheduled_events(d.guild).len(),
        1,
        "one event, never a second"
    );
    assert_eq!(
        fake.requests_matching("POST /guilds/*/scheduled-events")
            .len(),
        1
    );
    assert!(bot.stop().success());
}

/// The event follows its session: active when the intro is posted, completed after the
/// wrap-up, and never a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_goes_active_at_the_intro_and_completed_after_the_wrap_up() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = bot_with_events(&fake);
    bot.start_and_wait(&fake).await;

    let answer = moderator_slash(&fake, "/chat schedule chat:quick \"when:in 2m\"", &bot).await;
    assert!(answer.starts_with("Scheduled"), "{answer}");
    let scheduled = wait_for_status(&fake, 1, &bot).await;
    // Two minutes are six seconds here: then the intro, three points and the wrap-up.
    wait_for_step(&fake, d.channel, "Intro", &bot).await;
    let active = wait_for_status(&fake, 2, &bot).await;
    assert_eq!(active.id, scheduled.id);
    wait_for_step(&fake, d.channel, "Wrap-up", &bot).await;
    let completed = wait_for_status(&fake, 3, &bot).await;
    assert_eq!(completed.id, scheduled.id);
    assert_eq!(fake.scheduled_events(d.guild).len(), 1);
    assert!(bot.stop().success(), "{}", bot.logs());
}

/// Killed between Discord creating the event and the bot recording it: after the restart the
/// bot adopts its own event (found by the session's uid in it) rather than make a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_created_just_before_a_crash_is_adopted_after_the_restart_not_made_again() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = bot_with_events(&fake);
    bot.env = vec![(
        "HASHCHAT_TEST_HOLD_AFTER_EVENT_CREATE".to_owned(),
        "1".to_owned(),
    )];
    bot.start_and_wait(&fake).await;
    let answer = moderator_slash(&fake, "/chat schedule chat:quick \"when:in 2h\"", &bot).await;
    assert!(answer.starts_with("Scheduled"), "{answer}");
    bot.wait_for_log("held after creating a scheduled event", 1, WAIT)
        .await;
    bot.kill();
    assert_eq!(
        fake.scheduled_events(d.guild).len(),
        1,
        "created, not recorded"
    );

    bot.env.clear();
    bot.start_and_wait(&fake).await;
    bot.wait_for_log("adopting a scheduled event made before a crash", 1, WAIT)
        .await;
    let session = session_number(&answer);
    let answer = moderator_slash(&fake, &format!("/chat cancel session:{session}"), &bot).await;
    assert!(answer.contains("ancelled"), "{answer}");
    wait_for_status(&fake, 4, &bot).await;
    assert_eq!(
        fake.scheduled_events(d.guild).len(),
        1,
        "the adopted event was cancelled; no second was made"
    );
    assert_eq!(
        fake.requests_matching("POST /guilds/*/scheduled-events")
            .len(),
        1
    );
    assert!(bot.stop().success(), "{}", bot.logs());
}

/// Without `scheduled_events` nothing is sent to Discord's event routes, though a session is
/// scheduled (the same schedule makes an event within a second when it is set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_setting_no_event_is_made() {
    let fake = FakeDiscord::start().await.unwrap();
    let mut bot = Bot::new(&fake, fake.defaults().channel);
    bot.start_and_wait(&fake).await;
    let answer = moderator_slash(&fake, "/chat schedule chat:quick \"when:in 2h\"", &bot).await;
    assert!(answer.starts_with("Scheduled"), "{answer}");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        fake.requests_matching("* /guilds/*/scheduled-events/**")
            .is_empty(),
        "{:?}",
        fake.requests_matching("* /guilds/*/scheduled-events/**")
    );
    assert!(bot.stop().success(), "{}", bot.logs());
}

/// A recurring chat (`[schedule]`) whose file is edited while the bot is down: a new title edits
/// the same event; a new start time cancels the old occurrence's event and makes one for the new
/// occurrence (the session itself is replaced: people were told nothing about it yet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_recurring_chat_edits_its_event_and_a_new_time_replaces_it() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = bot_with_events(&fake);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).date_naive();
    let recurring = |title: &str, at: &str| {
        chat_file("quick", d.channel).replace(
            "title = \"A Discord chat\"",
            &format!("title = \"{title}\""),
        ) + &format!("\n[schedule]\nstart = \"{tomorrow} {at}\"\nevery = \"week\"\n")
    };
    bot.set_chat(&recurring("Weekly chat", "19:00"));
    bot.start_and_wait(&fake).await;
    let first = wait_for_status(&fake, 1, &bot).await;
    assert_eq!(first.name, "Weekly chat");
    assert!(first.start.contains("T19:00:00"), "{first:?}");
    assert!(bot.stop().success(), "{}", bot.logs());

    bot.set_chat(&recurring("Weekly library chat", "19:00"));
    bot.start_and_wait(&fake).await;
    let renamed = fake
        .wait_for(WAIT, |f| {
            f.scheduled_events(d.guild)
                .into_iter()
                .find(|e| e.name == "Weekly library chat")
        })
        .await;
    let Some(renamed) = renamed else {
        panic!(
            "never renamed: {:?}; log:\n{}",
            fake.scheduled_events(d.guild),
            bot.logs()
        );
    };
    assert_eq!(renamed.id, first.id, "the same event, edited");
    assert_eq!(
        fake.requests_matching("PATCH /guilds/*/scheduled-events/*")
            .len(),
        1
    );
    assert!(bot.stop().success(), "{}", bot.logs());

    bot.set_chat(&recurring("Weekly library chat", "20:00"));
    bot.start_and_wait(&fake).await;
    let moved = fake
        .wait_for(WAIT, |f| {
            let events = f.scheduled_events(d.guild);
            let old_cancelled = events.iter().any(|e| e.id == first.id && e.status == 4);
            let new = events
                .into_iter()
                .find(|e| e.id != first.id && e.status == 1)?;
            old_cancelled.then_some(new)
        })
        .await;
    let Some(moved) = moved else {
        panic!(
            "the old event not cancelled or no new one: {:?}; log:\n{}",
            fake.scheduled_events(d.guild),
            bot.logs()
        );
    };
    assert!(moved.start.contains("T20:00:00"), "{moved:?}");
    assert_eq!(fake.scheduled_events(d.guild).len(), 2);
    assert!(bot.stop().success(), "{}", bot.logs());
}

/// Without Manage Events the bot says so once, and scheduling still works in hashchat: the
/// session is scheduled, nothing is retried in a loop, and the answer is the usual one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_manage_events_the_bot_warns_once_and_schedules_anyway() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    fake.revoke_bot_permissions(
        d.guild,
        discord_fake::permissions::MANAGE_EVENTS | discord_fake::permissions::CREATE_EVENTS,
    )
    .unwrap();
    let mut bot = bot_with_events(&fake);
    bot.start_and_wait(&fake).await;
    for when in ["in 2h", "in 3h"] {
        let answer = moderator_slash(
            &fake,
            &format!("/chat schedule chat:quick \"when:{when}\""),
            &bot,
        )
        .await;
        assert!(answer.starts_with("Scheduled"), "{answer}");
    }
    bot.wait_for_log("lacks the Manage Events permission", 1, WAIT)
        .await;
    // Both sessions were announced to the reconciler; the second is not tried (the guild is
    // left alone for an hour after a 403).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        bot.logs()
            .matches("lacks the Manage Events permission")
            .count(),
        1,
        "{}",
        bot.logs()
    );
    let tries = fake.requests_matching("POST /guilds/*/scheduled-events");
    assert_eq!(tries.len(), 1, "{tries:?}");
    assert_eq!(tries[0].status, 403);
    assert!(fake.scheduled_events(d.guild).is_empty());
    let upcoming = moderator_slash(&fake, "/chat upcoming", &bot).await;
    assert!(upcoming.contains("A Discord chat"), "{upcoming}");
    assert!(bot.stop().success(), "{}", bot.logs());
}
