//! Events that race the bot's own posts: the platform shows a post (a point, a copy) before it
//! answers the bot, so people can answer or react to it before the store knows its id and time.
//! The adapter here makes the post at once and holds its answer until the test lets it go.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bot_core::adapter::{
    Adapter, AdapterError, Inbound, Post, Reaction, RelayPost, RelayedCopy, Reply,
};
use bot_core::engine::Archived;
use bot_core::ids::{Platform, RoomRef};
use bot_core::loopback::{LoopbackAdapter, LoopbackEvent};
use engine_support::*;
use tokio::sync::{broadcast, watch};

const OTHER: &str = "other";

/// The loopback platform, whose answers to posts and copies wait while `held` is true.
struct Held {
    platform: Arc<LoopbackAdapter>,
    held: watch::Receiver<bool>,
}

impl Held {
    async fn answer<T>(&self, made: Result<T, AdapterError>) -> Result<T, AdapterError> {
        let mut held = self.held.clone();
        held.wait_for(|held| !held)
            .await
            .expect("the test holds the gate");
        made
    }
}

#[async_trait]
impl Adapter for Held {
    fn platform(&self) -> Platform {
        Platform::Loopback
    }
    async fn post(&self, post: &Post) -> Result<String, AdapterError> {
        let made = self.platform.post(post).await;
        self.answer(made).await
    }
    async fn reply(&self, reply: &Reply) -> Result<(), AdapterError> {
        self.platform.reply(reply).await
    }
    async fn relay(&self, relay: &RelayPost) -> Result<String, AdapterError> {
        let made = self.platform.relay(relay).await;
        self.answer(made).await
    }
    async fn edit_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        self.platform.edit_relay(copy).await
    }
    async fn delete_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        self.platform.delete_relay(copy).await
    }
}

/// A two-room session under way, its platform's answers now held until the sender says.
async fn held_world() -> (World, watch::Sender<bool>) {
    let mut chat = chat();
    chat.rooms.push(RoomRef::new(Platform::Loopback, OTHER));
    let world = World::new(chat).await;
    let reply = world.command(MODERATOR, "start interlibnet").await;
    assert!(reply.starts_with("Started"), "{reply}");
    world.run_until(t0() + minutes(3)).await;
    let (gate, held) = watch::channel(true);
    world.engine.register_adapter(Arc::new(Held {
        platform: world.loopback.clone(),
        held,
    }));
    (world, gate)
}

/// The next event the platform shows that `pick` accepts.
async fn shown<T>(
    events: &mut broadcast::Receiver<LoopbackEvent>,
    pick: impl Fn(LoopbackEvent) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            if let Some(found) = pick(events.recv().await.expect("the platform is up")) {
                return found;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the platform showed it")
}

/// Hands `event` to the engine in a task of its own, and checks it is still being handled a
/// moment later (waiting for the post on its way).
async fn handled_meanwhile(world: &World, event: Inbound) -> tokio::task::JoinHandle<()> {
    let engine = world.engine.clone();
    let handling = tokio::spawn(async move { engine.handle(event).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !handling.is_finished(),
        "the event waits for the post on its way to its room"
    );
    handling
}

#[tokio::test]
async fn an_answer_to_a_point_the_bot_has_not_yet_heard_back_about_is_filed_under_that_point() {
    let (world, gate) = held_world().await;
    let mut events = world.loopback.subscribe();
    let q2 = world.engine.next_due().expect("Q2 is due later");
    world.clock.set(q2);
    let stepping = tokio::spawn({
        let engine = world.engine.clone();
        async move { engine.tick().await.unwrap() }
    });
    // Q2 is on screen in main; Ann answers it without a prefix before the bot hears back.
    shown(&mut events, |e| match e {
        LoopbackEvent::Post { room, content, .. } if room == ROOM => {
            content.text.contains("Point 2?").then_some(())
        }
        _ => None,
    })
    .await;
    let answer = world
        .loopback
        .message(ROOM, "ann", "Ann", "it depends", world.clock_now(), None);
    let answer_id = answer.platform_msg_id.clone();
    let handling = handled_meanwhile(&world, Inbound::Message(answer)).await;
    gate.send_replace(false);
    handling.await.unwrap();
    stepping.await.unwrap();
    let stored = world
        .engine
        .store()
        .find_message(Platform::Loopback, &answer_id)
        .await
        .unwrap()
        .expect("the answer is archived");
    assert_eq!(stored.point, Some(2));
}

#[tokio::test]
async fn a_reaction_and_a_reply_to_a_copy_not_yet_recorded_are_traced_to_the_original() {
    let (world, gate) = held_world().await;
    let mut events = world.loopback.subscribe();
    let hello = world
        .loopback
        .message(ROOM, "ann", "Ann", "A1 hello", world.clock_now(), None);
    let hello_id = hello.platform_msg_id.clone();
    event(&world.engine, Inbound::Message(hello)).await;
    let relaying = tokio::spawn({
        let engine = world.engine.clone();
        async move { engine.tick().await.unwrap() }
    });
    let copy = shown(&mut events, |e| match e {
        LoopbackEvent::Relay {
            room,
            platform_msg_id,
            ..
        } if room == OTHER => Some(platform_msg_id),
        _ => None,
    })
    .await;
    // In the other room Bo reacts to the copy and replies to it, before the bot hears back.
    let reaction = Inbound::Reacted(Reaction {
        platform: Platform::Loopback,
        platform_reaction_id: "r-bo".to_owned(),
        target_msg_id: copy.clone(),
        room: OTHER.to_owned(),
        author_id: "bo".to_owned(),
        author_name: "Bo".to_owned(),
        platform_label: None,
        key: "👍".to_owned(),
        at: world.clock_now(),
    });
    let reacting = handled_meanwhile(&world, reaction).await;
    let reply = world
        .loopback
        .message(OTHER, "bo", "Bo", "so true", world.clock_now(), Some(copy));
    let reply_id = reply.platform_msg_id.clone();
    let replying = tokio::spawn({
        let engine = world.engine.clone();
        async move { engine.archive_message(reply).await.unwrap() }
    });
    gate.send_replace(false);
    relaying.await.unwrap();
    reacting.await.unwrap();
    let Archived::Stored { point, .. } = replying.await.unwrap() else {
        panic!("the reply is archived");
    };
    assert_eq!(point, Some(1), "the reply answers Ann's A1");

    let store = world.engine.store();
    let ann = store
        .find_message(Platform::Loopback, &hello_id)
        .await
        .unwrap()
        .unwrap();
    let session = ann.session_id;
    let counted: Vec<(i64, String)> = store
        .session_reactions(session)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.message_id, r.key))
        .collect();
    assert_eq!(counted, [(ann.id, "👍".to_owned())]);
    // The reaction's line answers Ann's own message in main.
    world.engine.tick().await.unwrap();
    let line = world.loopback.history().into_iter().find_map(|e| match e {
        LoopbackEvent::Relay {
            room,
            body,
            in_reply_to,
            ..
        } if room == ROOM && body == "reacted 👍" => Some(in_reply_to),
        _ => None,
    });
    assert_eq!(line, Some(Some(hello_id)));
    assert!(store
        .find_message(Platform::Loopback, &reply_id)
        .await
        .unwrap()
        .is_some());
}
