//! An unmodified serenity 0.12.5 `Client` against the fake: connect, READY and GUILD_CREATE
//! (cache filled), human messages with and without MESSAGE_CONTENT, nonce-enforced sends,
//! a slash command answered, and resume after an abrupt gateway drop.

use std::sync::Arc;
use std::time::Duration;

use discord_fake::{FakeDiscord, Post, SlashCommand};
use serenity::all::{
    CommandInteraction, CommandOptionType, Context, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage, EventHandler,
    GatewayIntents, GuildId, HttpBuilder, Interaction, Message, Ready, ResumedEvent,
};
use serenity::async_trait;
use serenity::model::id::ChannelId;
use tokio::sync::mpsc;

#[derive(Debug)]
enum Seen {
    Ready(Box<Ready>),
    CacheReady(Vec<GuildId>),
    Message(Box<Message>),
    Command(Box<CommandInteraction>),
    Resumed,
}

struct Handler {
    tx: mpsc::UnboundedSender<Seen>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        let _ = self.tx.send(Seen::Ready(Box::new(ready)));
    }
    async fn cache_ready(&self, _ctx: Context, guilds: Vec<GuildId>) {
        let _ = self.tx.send(Seen::CacheReady(guilds));
    }
    async fn message(&self, _ctx: Context, msg: Message) {
        let _ = self.tx.send(Seen::Message(Box::new(msg)));
    }
    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        if let Interaction::Command(cmd) = interaction {
            let chat = cmd
                .data
                .options()
                .into_iter()
                .find_map(|o| match o.value {
                    serenity::all::ResolvedValue::SubCommand(opts) => opts
                        .into_iter()
                        .find(|o| o.name == "chat")
                        .and_then(|o| match o.value {
                            serenity::all::ResolvedValue::String(s) => Some(s.to_string()),
                            _ => None,
                        }),
                    _ => None,
                })
                .unwrap_or_default();
            let reply = CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new()
                    .content(format!("starting #{chat}"))
                    .ephemeral(true),
            );
            cmd.create_response(&ctx.http, reply)
                .await
                .expect("callback accepted");
            let _ = self.tx.send(Seen::Command(Box::new(cmd)));
        }
    }
    async fn resume(&self, _ctx: Context, _: ResumedEvent) {
        let _ = self.tx.send(Seen::Resumed);
    }
}

struct Bot {
    rx: mpsc::UnboundedReceiver<Seen>,
    pending: Vec<Seen>,
    http: Arc<serenity::http::Http>,
    cache: Arc<serenity::cache::Cache>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds an unmodified serenity client whose Http goes to the fake (proxy + ratelimiter
/// disabled). Never `Client::builder(token, ..)` alone: that would ask discord.com for the
/// gateway.
async fn start_bot(fake: &FakeDiscord, intents: GatewayIntents) -> Bot {
    let http = HttpBuilder::new(fake.token())
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .build();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut client = serenity::client::ClientBuilder::new_with_http(http, intents)
        .event_handler(Handler { tx })
        .await
        .expect("client builds");
    let http = client.http.clone();
    let cache = client.cache.clone();
    let task = tokio::spawn(async move {
        let _ = client.start().await;
    });
    Bot {
        rx,
        pending: vec![],
        http,
        cache,
        task,
    }
}

impl Bot {
    /// The next event `f` accepts. Events it does not accept are kept for later calls:
    /// serenity runs each handler in its own task, so e.g. CacheReady may overtake Ready.
    async fn next<T>(&mut self, mut f: impl FnMut(&Seen) -> Option<T>) -> T {
        if let Some(pos) = self.pending.iter().position(|s| f(s).is_some()) {
            let s = self.pending.remove(pos);
            return f(&s).expect("matched above");
        }
        let rx = &mut self.rx;
        let pending = &mut self.pending;
        tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                let s = rx.recv().await.expect("bot alive");
                if let Some(v) = f(&s) {
                    return v;
                }
                pending.push(s);
            }
        })
        .await
        .expect("event within 15 s")
    }
}

fn chat_command() -> CreateCommand {
    CreateCommand::new("chat")
        .description("Run a hashtag chat")
        .add_option(
            CreateCommandOption::new(CommandOptionType::SubCommand, "start", "Start a chat")
                .add_sub_option(
                    CreateCommandOption::new(CommandOptionType::String, "chat", "Which chat")
                        .required(true),
                ),
        )
}

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serenity_client_connects_fills_cache_sees_content_sends_once_and_answers_commands() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let intents = GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
        | GatewayIntents::GUILD_MEMBERS;
    let mut bot = start_bot(&fake, intents).await;

    let ready = bot
        .next(|s| match s {
            Seen::Ready(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!(ready.user.id.get(), fake.bot_user_id().get());
    assert_eq!(ready.application.id.get(), fake.application_id().get());
    let guilds = bot
        .next(|s| match s {
            Seen::CacheReady(g) => Some(g.clone()),
            _ => None,
        })
        .await;
    assert_eq!(guilds, vec![GuildId::new(d.guild.get())]);
    {
        let g = bot
            .cache
            .guild(GuildId::new(d.guild.get()))
            .expect("guild cached");
        assert!(g.channels.contains_key(&ChannelId::new(d.channel.get())));
        assert!(g
            .members
            .contains_key(&serenity::all::UserId::new(d.alice.get())));
        assert!(g
            .roles
            .contains_key(&serenity::all::RoleId::new(d.moderator_role.get())));
    }
    assert_eq!(fake.session_intents(), Some(intents.bits()));

    // A human's message arrives with its content, author and member.
    fake.post(Post::new(d.channel, d.alice, "hello #interlibnet"))
        .await
        .unwrap();
    let msg = bot
        .next(|s| match s {
            Seen::Message(m) => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(msg.content, "hello #interlibnet");
    assert_eq!(msg.author.id.get(), d.alice.get());
    assert!(msg.member.is_some(), "guild messages carry the member");
    assert_eq!(msg.guild_id.map(|g| g.get()), Some(d.guild.get()));

    // Sending twice with the same enforced nonce creates one message.
    let channel = ChannelId::new(d.channel.get());
    let send = || {
        CreateMessage::new()
            .content("Q1 What do libraries share?")
            .nonce(serenity::all::Nonce::String("step-1-1".into()))
            .enforce_nonce(true)
    };
    let first = channel.send_message(&bot.http, send()).await.unwrap();
    let second = channel.send_message(&bot.http, send()).await.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(fake.bot_messages(d.channel).len(), 1);

    // A slash command: register, invoke as the moderator, await the ephemeral answer.
    bot.http
        .create_guild_commands(GuildId::new(d.guild.get()), &vec![chat_command()])
        .await
        .unwrap();
    let handle = fake
        .invoke(
            d.moderator,
            d.channel,
            SlashCommand::parse("/chat start chat:interlibnet").unwrap(),
        )
        .await
        .unwrap();
    let reply = handle.answered(WAIT).await.expect("bot answered");
    assert_eq!(reply.callback.kind, 4);
    assert!(reply.ephemeral);
    assert_eq!(reply.content, "starting #interlibnet");
    assert!(reply.callback_latency < Duration::from_secs(3));
    let cmd = bot
        .next(|s| match s {
            Seen::Command(c) => Some(c.clone()),
            _ => None,
        })
        .await;
    assert_eq!(cmd.user.id.get(), d.moderator.get());
    assert!(cmd
        .member
        .as_ref()
        .and_then(|m| m.permissions)
        .is_some_and(|p| p.manage_events()));
    assert!(
        fake.unknown_requests().is_empty(),
        "{:?}",
        fake.unknown_requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_message_content_intent_serenity_sees_empty_content() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let mut bot = start_bot(
        &fake,
        GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES,
    )
    .await;
    bot.next(|s| matches!(s, Seen::CacheReady(_)).then_some(()))
        .await;
    fake.post(Post::new(d.channel, d.alice, "secret words"))
        .await
        .unwrap();
    let msg = bot
        .next(|s| match s {
            Seen::Message(m) => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(msg.content, "");
    assert_eq!(msg.author.id.get(), d.alice.get());
    // A message that mentions the bot keeps its content, as on Discord.
    let mention = format!("<@{}> help", fake.bot_user_id());
    fake.post(Post::new(d.channel, d.alice, mention.clone()))
        .await
        .unwrap();
    let msg = bot
        .next(|s| match s {
            Seen::Message(m) => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(msg.content, mention);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_abrupt_gateway_drop_serenity_resumes_and_gets_missed_events() {
    let fake = FakeDiscord::start().await.unwrap();
    let d = fake.defaults().clone();
    let intents =
        GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT;
    let mut bot = start_bot(&fake, intents).await;
    bot.next(|s| matches!(s, Seen::CacheReady(_)).then_some(()))
        .await;

    // Dropped, and held before Hello until both posts are made, so they are certainly
    // dispatched while the bot is away (a plain drop lets serenity reconnect before the first
    // post, at times; refusing the reconnect makes serenity back off for long).
    fake.hold_gateway();
    fake.post(Post::new(d.channel, d.alice, "missed one"))
        .await
        .unwrap();
    fake.post(Post::new(d.channel, d.bob, "missed two"))
        .await
        .unwrap();
    fake.release_gateway();

    // Discord replays the missed dispatches, then sends RESUMED.
    let mut got = vec![];
    let mut resumed = false;
    while got.len() < 2 || !resumed {
        match bot
            .next(|s| match s {
                Seen::Message(m) => Some(Some(m.content.clone())),
                Seen::Resumed => Some(None),
                _ => None,
            })
            .await
        {
            Some(c) => got.push(c),
            None => resumed = true,
        }
    }
    got.sort();
    assert_eq!(got, vec!["missed one", "missed two"]);
    let stats = fake.gateway_stats();
    assert_eq!(stats.identifies, 1, "resumed, not re-identified");
    assert_eq!(stats.resumes, 1);
    assert!(stats.replayed >= 2);
}
