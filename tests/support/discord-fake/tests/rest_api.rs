//! The REST API through serenity 0.12.5's own `Http` client: every response body the fake
//! sends is parsed by serenity's typed methods (a body serenity rejects fails the call), and
//! Discord's rules (nonces, paging, double acknowledgements, 401, 429, 404) hold.

mod common;

use std::time::{Duration, Instant};

use common::{discord_code, http, http_as_discord};
use discord_fake::{FakeDiscord, Post, SlashCommand};
use serenity::all::{
    AutoArchiveDuration, ChannelId, ChannelType, CreateAllowedMentions, CreateAttachment,
    CreateCommand, CreateInteractionResponse, CreateInteractionResponseFollowup,
    CreateInteractionResponseMessage, CreateMessage, CreateThread, CreateWebhook,
    EditInteractionResponse, EditMessage, EditThread, ExecuteWebhook, GetMessages, GuildId,
    HttpBuilder, MessageId, ReactionType, UserId,
};

#[tokio::test]
async fn discovery_user_application_guild_and_member_parse_as_serenity_models() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http(&fake);
    assert_eq!(http.get_gateway().await.unwrap().url, fake.gateway_url());
    let bot_gw = http.get_bot_gateway().await.unwrap();
    assert_eq!(bot_gw.shards, 1);
    assert_eq!(
        http.get_current_user().await.unwrap().id.get(),
        fake.bot_user_id().get()
    );
    let app = http.get_current_application_info().await.unwrap();
    assert_eq!(app.id.get(), fake.application_id().get());
    assert_eq!(app.owner.map(|o| o.id.get()), Some(d.owner.get()));
    let guild = GuildId::new(d.guild.get());
    let g = http.get_guild(guild).await.unwrap();
    assert!(g
        .roles
        .contains_key(&serenity::all::RoleId::new(d.moderator_role.get())));
    assert!(http.get_channels(guild).await.unwrap().len() >= 2);
    assert!(http.get_guild_roles(guild).await.unwrap().len() >= 3);
    let member = http
        .get_member(guild, UserId::new(d.moderator.get()))
        .await
        .unwrap();
    assert_eq!(
        member.roles,
        vec![serenity::all::RoleId::new(d.moderator_role.get())]
    );
    // Permissions are computable from the guild's roles, as a bot does it.
    let perms = g.member_permissions(&member);
    assert!(perms.manage_events());
    let ch = http
        .get_channel(ChannelId::new(d.channel.get()))
        .await
        .unwrap();
    assert_eq!(ch.guild().map(|c| c.kind), Some(ChannelType::Text));
    let e = http.get_member(guild, UserId::new(1)).await.unwrap_err();
    assert_eq!(discord_code(&e), Some((404, 10007)));
}

#[tokio::test]
async fn bot_messages_replies_edits_reactions_and_enforced_nonces() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http(&fake);
    let channel = ChannelId::new(d.channel.get());
    let human = fake
        .post(Post::new(d.channel, d.alice, "A1 hi"))
        .await
        .unwrap();
    let sent = channel
        .send_message(
            &http,
            CreateMessage::new()
                .content(format!("thanks <@{}>", d.alice))
                .reference_message((channel, MessageId::new(human.id.get())))
                .allowed_mentions(CreateAllowedMentions::new().replied_user(false))
                .nonce(serenity::all::Nonce::String("relay-1".into()))
                .enforce_nonce(true)
                .add_file(CreateAttachment::bytes(b"transcript".to_vec(), "t.md")),
        )
        .await
        .unwrap();
    assert_eq!(
        sent.referenced_message.as_ref().map(|m| m.id.get()),
        Some(human.id.get())
    );
    assert_eq!(sent.attachments[0].filename, "t.md");
    let again = channel
        .send_message(
            &http,
            CreateMessage::new()
                .content("thanks")
                .nonce(serenity::all::Nonce::String("relay-1".into()))
                .enforce_nonce(true),
        )
        .await
        .unwrap();
    assert_eq!(
        again.id, sent.id,
        "same nonce: the first message back, nothing new"
    );
    let stored = fake
        .message(d.channel, discord_fake::MessageId(sent.id.get()))
        .unwrap();
    assert!(
        stored.mentions.is_empty(),
        "allowed_mentions without parse suppresses the ping"
    );
    assert!(stored.allowed_mentions.is_some());

    let edited = channel
        .edit_message(&http, sent.id, EditMessage::new().content("thanks!"))
        .await
        .unwrap();
    assert!(edited.edited_timestamp.is_some());
    // Editing a human's message is Discord's 50005.
    let e = channel
        .edit_message(
            &http,
            MessageId::new(human.id.get()),
            EditMessage::new().content("x"),
        )
        .await
        .unwrap_err();
    assert_eq!(discord_code(&e), Some((403, 50005)));

    let thumbs = ReactionType::Unicode("👍".into());
    http.create_reaction(channel, MessageId::new(human.id.get()), &thumbs)
        .await
        .unwrap();
    let users = http
        .get_reaction_users(channel, MessageId::new(human.id.get()), &thumbs, 10, None)
        .await
        .unwrap();
    assert_eq!(users[0].id.get(), fake.bot_user_id().get());
    http.delete_reaction_me(channel, MessageId::new(human.id.get()), &thumbs)
        .await
        .unwrap();
    assert!(fake
        .message(d.channel, human.id)
        .unwrap()
        .reactions
        .is_empty());

    let m = channel.message(&http, sent.id).await.unwrap();
    assert_eq!(m.content, "thanks!");
    channel.delete_message(&http, sent.id).await.unwrap();
    let e = channel.message(&http, sent.id).await.unwrap_err();
    assert_eq!(discord_code(&e), Some((404, 10008)));
    assert!(fake.unknown_requests().is_empty());
}

#[tokio::test]
async fn history_pages_newest_first_and_ten_thousand_messages_page_quickly() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http(&fake);
    let ids = fake
        .seed_history(d.channel, d.alice, 10_000, |i| format!("m{i}"))
        .unwrap();
    let channel = ChannelId::new(d.channel.get());
    let newest = channel
        .messages(&http, GetMessages::new().limit(100))
        .await
        .unwrap();
    assert_eq!(newest.len(), 100);
    assert_eq!(newest[0].content, "m9999", "newest first");
    let started = Instant::now();
    let mut before = newest.last().unwrap().id;
    let mut total = newest.len();
    loop {
        let page = channel
            .messages(&http, GetMessages::new().before(before).limit(100))
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.windows(2).all(|w| w[0].id > w[1].id));
        total += page.len();
        before = page.last().unwrap().id;
    }
    assert_eq!(total, 10_000);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "paging took {:?}",
        started.elapsed()
    );
    let after = channel
        .messages(
            &http,
            GetMessages::new()
                .after(MessageId::new(ids[10].get()))
                .limit(5),
        )
        .await
        .unwrap();
    let got: Vec<&str> = after.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(got, vec!["m15", "m14", "m13", "m12", "m11"]);
    let around = channel
        .messages(
            &http,
            GetMessages::new()
                .around(MessageId::new(ids[500].get()))
                .limit(5),
        )
        .await
        .unwrap();
    assert!(around.iter().any(|m| m.content == "m500"));
    assert_eq!(around.len(), 5);
}

#[tokio::test]
async fn commands_and_interaction_responses_follow_discords_rules() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http(&fake);
    let guild = GuildId::new(d.guild.get());
    let cmds = http
        .create_guild_commands(
            guild,
            &vec![CreateCommand::new("chat").description("chats")],
        )
        .await
        .unwrap();
    assert_eq!(cmds[0].name, "chat");
    http.create_global_commands(&vec![CreateCommand::new("help").description("help")])
        .await
        .unwrap();
    assert_eq!(http.get_guild_commands(guild).await.unwrap().len(), 1);
    assert_eq!(http.get_global_commands().await.unwrap().len(), 1);
    // Re-registering the same names keeps the ids.
    let again = http
        .create_guild_commands(
            guild,
            &vec![CreateCommand::new("chat").description("chats")],
        )
        .await
        .unwrap();
    assert_eq!(again[0].id, cmds[0].id);

    // Deferred, then the original edited: the user sees the edit.
    let h = fake
        .invoke(d.alice, d.channel, SlashCommand::new("chat"))
        .await
        .unwrap();
    let id = serenity::all::InteractionId::new(h.id.get());
    let defer =
        CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(true));
    http.create_interaction_response(id, &h.token, &defer, vec![])
        .await
        .unwrap();
    let e = http
        .create_interaction_response(id, &h.token, &defer, vec![])
        .await
        .unwrap_err();
    assert_eq!(
        discord_code(&e),
        Some((400, 40060)),
        "a second callback is refused"
    );
    let cb = h.callback(Duration::from_secs(1)).await.unwrap();
    assert_eq!(cb.callback.kind, 5);
    assert!(cb.answered_after.is_none());
    let orig = http
        .edit_original_interaction_response(
            &h.token,
            &EditInteractionResponse::new().content("done"),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(orig.content, "done");
    let seen = h.answered(Duration::from_secs(1)).await.unwrap();
    assert_eq!(seen.content, "done");
    assert!(seen.ephemeral);
    assert!(
        fake.bot_messages(d.channel).is_empty(),
        "ephemeral answers are not in the channel"
    );
    let got = http
        .get_original_interaction_response(&h.token)
        .await
        .unwrap();
    assert_eq!(got.content, "done");
    let fu = http
        .create_followup_message(
            &h.token,
            &CreateInteractionResponseFollowup::new().content("more"),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fu.content, "more");

    // Too late: Discord forgets an interaction after three seconds.
    let fake2 = FakeDiscord::start_with(discord_fake::Config {
        interaction_deadline: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .unwrap();
    let http2 = self::http(&fake2);
    let d2 = fake2.defaults().clone();
    http2
        .create_guild_commands(
            GuildId::new(d2.guild.get()),
            &vec![CreateCommand::new("chat").description("c")],
        )
        .await
        .unwrap();
    let late = fake2
        .invoke(d2.alice, d2.channel, SlashCommand::new("chat"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let msg =
        CreateInteractionResponse::Message(CreateInteractionResponseMessage::new().content("hi"));
    let e = http2
        .create_interaction_response(
            serenity::all::InteractionId::new(late.id.get()),
            &late.token,
            &msg,
            vec![],
        )
        .await
        .unwrap_err();
    assert_eq!(discord_code(&e), Some((404, 10062)));
}

#[tokio::test]
async fn threads_webhooks_and_scheduled_events_parse_as_serenity_models() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http(&fake);
    let channel = ChannelId::new(d.channel.get());
    let t = channel
        .create_thread(
            &http,
            CreateThread::new("#interlibnet")
                .kind(ChannelType::PublicThread)
                .auto_archive_duration(AutoArchiveDuration::OneDay),
        )
        .await
        .unwrap();
    assert_eq!(t.parent_id, Some(channel));
    t.id.say(&http, "in the thread").await.unwrap();
    let t2 =
        t.id.edit_thread(&http, EditThread::new().archived(true).locked(true))
            .await
            .unwrap();
    assert!(t2.thread_metadata.is_some_and(|m| m.archived && m.locked));
    let e = t.id.say(&http, "closed").await.unwrap_err();
    assert_eq!(discord_code(&e), Some((400, 50083)));

    let hook = channel
        .create_webhook(&http, CreateWebhook::new("hashchat relay"))
        .await
        .unwrap();
    let relayed = hook
        .execute(
            &http,
            true,
            ExecuteWebhook::new()
                .content("from Matrix")
                .username("alice (Matrix)"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(relayed.author.name, "alice (Matrix)");
    assert_eq!(relayed.webhook_id, Some(hook.id));

    let events = GuildId::new(d.guild.get())
        .scheduled_events(&http, false)
        .await
        .unwrap();
    assert!(events.is_empty());
}

/// Discord's webhook rules: Manage Webhooks to make, list or delete one; names and usernames
/// without `discord`/`clyde`; no webhook in a thread (but an execute into one with
/// `thread_id`, found again only with it); a webhook message on the gateway with its
/// `webhook_id` and the making application's id; an execute never replies.
#[tokio::test]
async fn webhooks_follow_discords_rules_and_their_messages_parse_as_serenity_models() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http(&fake);
    let channel = ChannelId::new(d.channel.get());
    let e = channel
        .create_webhook(&http, CreateWebhook::new("my discord hook"))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&e), Some((400, 50035)));
    let hook = channel
        .create_webhook(&http, CreateWebhook::new("hashchat"))
        .await
        .unwrap();
    assert_eq!(
        hook.application_id.map(|a| a.get()),
        Some(fake.application_id().get())
    );
    assert_eq!(channel.webhooks(&http).await.unwrap().len(), 1);
    let token = fake.webhooks(d.channel)[0].token.clone();

    let e = hook
        .execute(
            &http,
            true,
            ExecuteWebhook::new().content("x").username("Ann (Discord)"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        discord_code(&e),
        Some((400, 50035)),
        "no `discord` in a username"
    );
    let parent = channel.say(&http, "parent").await.unwrap();
    let mut body = serde_json::json!({
        "content": "@everyone through the hook",
        "username": "Ann (Matrix)",
        "allowed_mentions": {"parse": []},
        "message_reference": {"message_id": parent.id.to_string()},
    });
    let sent = http
        .execute_webhook(hook.id, None, &token, true, vec![], &body)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent.webhook_id, Some(hook.id));
    assert_eq!(
        sent.application_id.map(|a| a.get()),
        Some(fake.application_id().get())
    );
    assert!(!sent.mention_everyone);
    assert!(
        sent.referenced_message.is_none() && sent.message_reference.is_none(),
        "a webhook cannot reply"
    );
    body["allowed_mentions"] = serde_json::Value::Null;
    let pinging = http
        .execute_webhook(hook.id, None, &token, true, vec![], &body)
        .await
        .unwrap()
        .unwrap();
    assert!(
        pinging.mention_everyone,
        "without allowed_mentions a webhook pings"
    );

    // In a thread: posted with thread_id, found again only with it.
    let thread = channel
        .create_thread(
            &http,
            CreateThread::new("t").kind(ChannelType::PublicThread),
        )
        .await
        .unwrap();
    let e = thread
        .id
        .create_webhook(&http, CreateWebhook::new("hashchat"))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&e), Some((400, 50024)));
    let in_thread = http
        .execute_webhook(
            hook.id,
            Some(thread.id),
            &token,
            true,
            vec![],
            &serde_json::json!({"content": "in the thread"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(in_thread.channel_id, thread.id);
    let e = http
        .get_webhook_message(hook.id, None, &token, in_thread.id)
        .await
        .unwrap_err();
    assert_eq!(discord_code(&e), Some((404, 10008)));
    http.get_webhook_message(hook.id, Some(thread.id), &token, in_thread.id)
        .await
        .unwrap();
    http.delete_webhook_message(hook.id, Some(thread.id), &token, in_thread.id)
        .await
        .unwrap();

    // Without Manage Webhooks: 403 50013 to list, make or delete; its token still posts.
    fake.revoke_bot_permissions(d.guild, discord_fake::permissions::MANAGE_WEBHOOKS)
        .unwrap();
    let e = channel.webhooks(&http).await.unwrap_err();
    assert_eq!(discord_code(&e), Some((403, 50013)));
    let e = channel
        .create_webhook(&http, CreateWebhook::new("hashchat"))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&e), Some((403, 50013)));
    let e = http.delete_webhook(hook.id, None).await.unwrap_err();
    assert_eq!(discord_code(&e), Some((403, 50013)));
    http.execute_webhook(
        hook.id,
        None,
        &token,
        true,
        vec![],
        &serde_json::json!({"content": "still"}),
    )
    .await
    .unwrap();

    // A person's webhook: no application; deleted by hand, its token is unknown.
    let theirs = fake.create_webhook_as(d.alice, d.channel, "Feed").unwrap();
    let posted = fake
        .execute_webhook(theirs.id, "Librarian", "news")
        .unwrap();
    assert_eq!(posted.application_id, None);
    fake.delete_webhook(hook_id(&hook)).unwrap();
    let e = http
        .execute_webhook(
            hook.id,
            None,
            &token,
            true,
            vec![],
            &serde_json::json!({"content": "gone"}),
        )
        .await
        .unwrap_err();
    assert_eq!(discord_code(&e), Some((404, 10015)));
}

fn hook_id(hook: &serenity::all::Webhook) -> discord_fake::WebhookId {
    discord_fake::WebhookId(hook.id.get())
}

#[tokio::test]
async fn wrong_token_is_401_unknown_routes_are_404_and_recorded_and_429s_are_injected() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let bad = HttpBuilder::new("not-the-token")
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .build();
    let e = bad.get_current_user().await.unwrap_err();
    assert_eq!(discord_code(&e).map(|c| c.0), Some(401));

    let http = http(&fake);
    let e = http
        .get_guild_preview(GuildId::new(d.guild.get()))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&e), Some((404, 0)));
    let unknown = fake.unknown_requests();
    assert_eq!(unknown.len(), 1);
    assert!(unknown[0].path.ends_with("/preview"));

    fake.rate_limit(
        "POST /channels/*/messages",
        1,
        Duration::from_millis(1500),
        false,
    );
    let channel = ChannelId::new(d.channel.get());
    let e = channel.say(&http, "first try").await.unwrap_err();
    assert_eq!(discord_code(&e).map(|c| c.0), Some(429));
    channel.say(&http, "second try").await.unwrap();
    assert_eq!(fake.bot_messages(d.channel).len(), 1);
    let statuses: Vec<u16> = fake
        .requests_matching("POST /channels/*/messages")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![429, 200]);
}

#[tokio::test]
async fn serenity_with_its_ratelimiter_on_reaches_the_fake_as_discord_com_and_waits_out_429s() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http_as_discord(&fake);
    assert!(http.ratelimiter.is_some());
    let me = http.get_current_user().await.unwrap();
    assert_eq!(me.id.get(), fake.bot_user_id().get());

    // serenity's ratelimiter, not the caller, waits out the 429s and sends again.
    fake.rate_limit(
        "POST /channels/*/messages",
        2,
        Duration::from_millis(300),
        false,
    );
    let channel = ChannelId::new(d.channel.get());
    let started = Instant::now();
    let sent = channel.say(&http, "after two 429s").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(sent.content, "after two 429s");
    let statuses: Vec<u16> = fake
        .requests_matching("POST /channels/*/messages")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![429, 429, 200]);
    assert_eq!(fake.bot_messages(d.channel).len(), 1);
    assert!(fake.requests().iter().all(|r| r.host == "discord.com"));

    // A refusal still comes back as Discord's error.
    let e = http
        .get_guild_preview(GuildId::new(d.guild.get()))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&e), Some((404, 0)));
}

#[tokio::test]
async fn scheduled_events_keep_discords_rules_and_parse_as_serenity_models() {
    use serenity::all::{
        CreateScheduledEvent, EditScheduledEvent, ScheduledEventStatus, ScheduledEventType,
        Timestamp,
    };
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let http = http(&fake);
    let guild = GuildId::new(d.guild.get());
    let at = |minutes: i64| {
        Timestamp::from_unix_timestamp(chrono::Utc::now().timestamp() + minutes * 60).unwrap()
    };
    let external = |name: &str, start, end| {
        CreateScheduledEvent::new(ScheduledEventType::External, name, start)
            .end_time(end)
            .location("#general · https://discord.com/channels/1/2")
    };

    let past = guild
        .create_scheduled_event(&http, external("late", at(-5), at(30)))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&past), Some((400, 50035)), "{past:?}");
    let backwards = guild
        .create_scheduled_event(&http, external("backwards", at(60), at(30)))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&backwards), Some((400, 50035)));
    let wordy = guild
        .create_scheduled_event(
            &http,
            external("wordy", at(60), at(90)).description("é".repeat(1001)),
        )
        .await
        .unwrap_err();
    assert_eq!(discord_code(&wordy), Some((400, 50035)));
    let far = guild
        .create_scheduled_event(
            &http,
            CreateScheduledEvent::new(ScheduledEventType::External, "far", at(60))
                .end_time(at(90))
                .location("x".repeat(101)),
        )
        .await
        .unwrap_err();
    assert_eq!(discord_code(&far), Some((400, 50035)));
    assert!(
        fake.scheduled_events(d.guild).is_empty(),
        "nothing refused was kept"
    );

    // A thousand characters (not bytes) is within the limit.
    let made = guild
        .create_scheduled_event(
            &http,
            external("#interlibnet", at(60), at(120)).description("é".repeat(1000)),
        )
        .await
        .unwrap();
    assert_eq!(made.kind, ScheduledEventType::External);
    assert_eq!(made.status, ScheduledEventStatus::Scheduled);
    assert_eq!(
        made.creator_id.map(|u| u.get()),
        Some(fake.bot_user_id().get())
    );
    assert_eq!(
        made.metadata.as_ref().and_then(|m| m.location.as_deref()),
        Some("#general · https://discord.com/channels/1/2")
    );
    assert_eq!(made.end_time, Some(at(120)));
    let renamed = guild
        .edit_scheduled_event(&http, made.id, EditScheduledEvent::new().name("renamed"))
        .await
        .unwrap();
    assert_eq!(renamed.name, "renamed");
    assert_eq!(renamed.start_time, at(60), "untouched fields stay");
    let listed = guild.scheduled_events(&http, false).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.id).collect::<Vec<_>>(), [made.id]);
    let got = guild.scheduled_event(&http, made.id, false).await.unwrap();
    assert_eq!(got.name, "renamed");

    let skip = guild
        .edit_scheduled_event(
            &http,
            made.id,
            EditScheduledEvent::new().status(ScheduledEventStatus::Completed),
        )
        .await
        .unwrap_err();
    assert_eq!(
        discord_code(&skip),
        Some((400, 50035)),
        "scheduled → completed"
    );
    for status in [
        ScheduledEventStatus::Active,
        ScheduledEventStatus::Completed,
    ] {
        let moved = guild
            .edit_scheduled_event(&http, made.id, EditScheduledEvent::new().status(status))
            .await
            .unwrap();
        assert_eq!(moved.status, status);
    }
    for edit in [
        EditScheduledEvent::new().status(ScheduledEventStatus::Canceled),
        EditScheduledEvent::new().name("after the end"),
    ] {
        let e = guild
            .edit_scheduled_event(&http, made.id, edit)
            .await
            .unwrap_err();
        assert_eq!(
            discord_code(&e),
            Some((400, 50035)),
            "a completed event is final"
        );
    }

    let second = guild
        .create_scheduled_event(&http, external("second", at(60), at(120)))
        .await
        .unwrap();
    let cancelled = guild
        .edit_scheduled_event(
            &http,
            second.id,
            EditScheduledEvent::new().status(ScheduledEventStatus::Canceled),
        )
        .await
        .unwrap();
    assert_eq!(cancelled.status, ScheduledEventStatus::Canceled);
    guild
        .delete_scheduled_event(&http, second.id)
        .await
        .unwrap();
    let gone = guild
        .scheduled_event(&http, second.id, false)
        .await
        .unwrap_err();
    assert_eq!(discord_code(&gone), Some((404, 10070)));

    // Without Manage Events, and without Create Events (which @everyone has by default), the
    // bot may not make one.
    use discord_fake::permissions::{CREATE_EVENTS, EVERYONE_DEFAULT};
    let everyone = discord_fake::RoleId(d.guild.get());
    for role in [fake.bot_role(d.guild).expect("the bot's role"), everyone] {
        fake.set_role_permissions(d.guild, role, EVERYONE_DEFAULT & !CREATE_EVENTS)
            .unwrap();
    }
    let refused = guild
        .create_scheduled_event(&http, external("refused", at(60), at(120)))
        .await
        .unwrap_err();
    assert_eq!(discord_code(&refused), Some((403, 50013)));
}
