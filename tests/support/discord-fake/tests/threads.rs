//! Threads started from a message, as a bot that runs each session in a thread of its own uses
//! them, through serenity 0.12.5's typed methods (a body serenity rejects fails the call): the
//! thread has the message's id, a second start is 160004, the active list and the closed thread
//! parse, and a bot without Create Public Threads gets 403 50013.

mod common;

use common::{discord_code, http};
use discord_fake::{permissions, FakeDiscord};
use serenity::all::{ChannelId, CreateMessage, CreateThread, EditThread, GuildId, MessageId};

#[tokio::test]
async fn a_thread_started_from_a_message_has_its_id_once_and_lists_as_active_until_archived() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http(&fake);
    let channel = ChannelId::new(d.channel.get());
    let intro = channel
        .send_message(&http, CreateMessage::new().content("**Intro:** welcome"))
        .await
        .unwrap();
    let thread = channel
        .create_thread_from_message(&http, intro.id, CreateThread::new("Chat · 2 December 2026"))
        .await
        .unwrap();
    assert_eq!(
        thread.id.get(),
        intro.id.get(),
        "a thread has its message's id"
    );
    assert_eq!(thread.parent_id, Some(channel));
    assert_eq!(thread.guild_id.get(), d.guild.get());

    let again = channel
        .create_thread_from_message(&http, intro.id, CreateThread::new("again"))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&again), Some((400, 160004)));

    let said = thread.id.say(&http, "**Q1:** first?").await.unwrap();
    let active = GuildId::new(d.guild.get())
        .get_active_threads(&http)
        .await
        .unwrap();
    assert_eq!(
        active.threads.iter().map(|t| t.id).collect::<Vec<_>>(),
        [thread.id]
    );
    let history = thread
        .id
        .messages(
            &http,
            serenity::all::GetMessages::new().after(MessageId::new(thread.id.get())),
        )
        .await
        .unwrap();
    assert_eq!(history.iter().map(|m| m.id).collect::<Vec<_>>(), [said.id]);

    let closed = thread
        .id
        .edit_thread(&http, EditThread::new().archived(true).locked(true))
        .await
        .unwrap();
    assert!(closed
        .thread_metadata
        .is_some_and(|m| m.archived && m.locked));
    let active = GuildId::new(d.guild.get())
        .get_active_threads(&http)
        .await
        .unwrap();
    assert!(
        active.threads.is_empty(),
        "an archived thread is not active"
    );
}

#[tokio::test]
async fn a_bot_without_create_public_threads_is_refused_with_50013() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http(&fake);
    fake.revoke_bot_permissions(d.guild, permissions::CREATE_PUBLIC_THREADS)
        .unwrap();
    let channel = ChannelId::new(d.channel.get());
    let intro = channel
        .send_message(&http, CreateMessage::new().content("**Intro:** welcome"))
        .await
        .unwrap();
    let refused = channel
        .create_thread_from_message(&http, intro.id, CreateThread::new("Chat"))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&refused), Some((403, 50013)));
    assert!(fake
        .channel(discord_fake::ChannelId(intro.id.get()))
        .is_none());
    // The channel itself still takes messages.
    channel.say(&http, "**Q1:** in the channel").await.unwrap();
}
