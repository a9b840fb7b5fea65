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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_session_becomes_an_event_and_cancelling_it_cancels_the_event() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = Bot::new(&fake, d.channel);
    let config = bot.scratch.path("hashchat.toml");
    let mut text = support::read(&config);
    text.push_str("scheduled_events = true\n");
    std::fs::write(&config, text).unwrap();
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
