//! Relaying between the rooms of a session, on the loopback platform with two rooms: each
//! participant message is copied into the other room once, naming its author and origin,
//! through the durable relay outbox.

mod engine_support;

use bot_core::adapter::{Inbound, MessageDeleted, MessageEdited, Reaction};
use bot_core::chat::CaptureHashtag;
use bot_core::engine::Archived;
use bot_core::ids::{Platform, RoomRef};
use bot_core::loopback::{LoopbackAdapter, LoopbackEvent};
use bot_core::model::IncomingMessage;
use bot_core::store::Mark;
use engine_support::*;

const OTHER: &str = "other";

fn two_room_chat() -> bot_core::chat::Chat {
    let mut chat = chat();
    chat.rooms.push(RoomRef::new(Platform::Loopback, OTHER));
    chat
}

/// `(room, author, body, in_reply_to)` of every copy made, in order.
fn relays(world: &World) -> Vec<(String, String, String, Option<String>)> {
    world
        .loopback
        .history()
        .into_iter()
        .filter_map(|e| match e {
            LoopbackEvent::Relay {
                room,
                author,
                body,
                in_reply_to,
                ..
            } => Some((room, author, body, in_reply_to)),
            _ => None,
        })
        .collect()
}

fn copy_id(world: &World, body: &str) -> String {
    world
        .loopback
        .history()
        .into_iter()
        .find_map(|e| match e {
            LoopbackEvent::Relay {
                body: b,
                platform_msg_id,
                ..
            } if b == body => Some(platform_msg_id),
            _ => None,
        })
        .expect("a copy was made")
}

fn said(
    world: &World,
    room: &str,
    who: &str,
    body: &str,
    reply_to: Option<String>,
) -> IncomingMessage {
    world
        .loopback
        .message(room, who, who, body, world.clock_now(), reply_to)
}

/// Ann edits her message `id` to `body`.
fn edit(world: &World, id: &str, body: &str) -> Inbound {
    Inbound::Edited(MessageEdited {
        platform: Platform::Loopback,
        platform_msg_id: id.to_owned(),
        editor_id: Some("ann".to_owned()),
        body: body.to_owned(),
        formatted_body: None,
        edited_at: world.clock_now(),
    })
}

async fn start(world: &World) {
    let reply = world.command(MODERATOR, "start interlibnet").await;
    assert!(reply.starts_with("Started"), "{reply}");
    world.run_until(t0() + minutes(3)).await;
}

#[tokio::test]
async fn a_message_in_one_room_is_copied_once_into_the_other_naming_its_author_and_origin() {
    let world = World::new(two_room_chat()).await;
    start(&world).await;
    let hello = said(&world, ROOM, "ann", "A1 hello from main", None);
    event(&world.engine, Inbound::Message(hello.clone())).await;
    // The platform delivers it again (a reconnect): no second copy.
    event(&world.engine, Inbound::Message(hello)).await;
    world.engine.tick().await.unwrap();
    let back = said(&world, OTHER, "bo", "A1 and from other", None);
    event(&world.engine, Inbound::Message(back)).await;
    world.engine.tick().await.unwrap();
    assert_eq!(
        relays(&world),
        [
            (
                OTHER.to_owned(),
                "ann".to_owned(),
                "A1 hello from main".to_owned(),
                None
            ),
            (
                ROOM.to_owned(),
                "bo".to_owned(),
                "A1 and from other".to_owned(),
                None
            ),
        ]
    );
    assert!(world
        .engine
        .store()
        .pending_relays()
        .await
        .unwrap()
        .is_empty());
    // Each message archived once, where it was written; copies are not archived.
    let session = world.engine.live_session_in(&room()).unwrap();
    let rooms: Vec<String> = world
        .messages(session)
        .await
        .into_iter()
        .map(|m| m.message.room)
        .collect();
    assert_eq!(rooms, [ROOM, OTHER]);
}

#[tokio::test]
async fn a_reply_to_a_copy_is_relayed_as_a_reply_to_the_original() {
    let world = World::new(two_room_chat()).await;
    start(&world).await;
    let question = said(&world, ROOM, "ann", "what do you think?", None);
    let question_id = question.platform_msg_id.clone();
    event(&world.engine, Inbound::Message(question)).await;
    world.engine.tick().await.unwrap();
    let copy = copy_id(&world, "what do you think?");
    // In the other room, Bo answers the copy; back in main the answer replies to Ann's own
    // message. Ann then answers in main: in other, that replies to Bo's message itself.
    let answer = said(&world, OTHER, "bo", "I agree", Some(copy));
    let answer_id = answer.platform_msg_id.clone();
    event(&world.engine, Inbound::Message(answer)).await;
    world.engine.tick().await.unwrap();
    let answer_copy = copy_id(&world, "I agree");
    let thanks = said(&world, ROOM, "ann", "thanks", Some(answer_copy));
    event(&world.engine, Inbound::Message(thanks)).await;
    world.engine.tick().await.unwrap();
    let replies: Vec<Option<String>> = relays(&world).into_iter().map(|r| r.3).collect();
    assert_eq!(replies, [None, Some(question_id), Some(answer_id)]);
}

/// `who` reacts with `key` in `room` to the message `target`, as reaction `id`.
fn reacted(world: &World, room: &str, who: &str, id: &str, target: &str, key: &str) -> Inbound {
    Inbound::Reacted(Reaction {
        platform: Platform::Loopback,
        platform_reaction_id: id.to_owned(),
        target_msg_id: target.to_owned(),
        room: room.to_owned(),
        author_id: who.to_owned(),
        author_name: who.to_owned(),
        platform_label: None,
        key: key.to_owned(),
        at: world.clock_now(),
    })
}

#[tokio::test]
async fn a_reaction_is_told_to_the_other_room_as_a_reply_counted_on_the_original_and_taken_back_with_it(
) {
    let world = World::new(two_room_chat()).await;
    start(&world).await;
    let hello = said(&world, ROOM, "ann", "A1 hello", None);
    let hello_id = hello.platform_msg_id.clone();
    event(&world.engine, Inbound::Message(hello)).await;
    world.engine.tick().await.unwrap();
    let copy = copy_id(&world, "A1 hello");
    // Bo reacts to the copy in the other room, Cy to the original in main.
    event(
        &world.engine,
        reacted(&world, OTHER, "bo", "r-bo", &copy, "👍"),
    )
    .await;
    event(
        &world.engine,
        reacted(&world, ROOM, "cy", "r-cy", &hello_id, "🎉"),
    )
    .await;
    world.engine.tick().await.unwrap();
    // Two rooms, two lanes: in no set order between them.
    let mut lines: Vec<_> = relays(&world).into_iter().skip(1).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            (
                ROOM.to_owned(),
                "bo".to_owned(),
                "reacted 👍".to_owned(),
                Some(hello_id.clone())
            ),
            (
                OTHER.to_owned(),
                "cy".to_owned(),
                "reacted 🎉".to_owned(),
                Some(copy.clone())
            ),
        ]
    );
    // Both count on Ann's message in the archive, the copy's reaction included.
    let session = world.engine.live_session_in(&room()).unwrap();
    let store = world.engine.store();
    let ann = store
        .find_message(Platform::Loopback, &hello_id)
        .await
        .unwrap()
        .unwrap();
    let counted: Vec<(String, u32)> = store
        .session_reactions(session)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(r.message_id, ann.id);
            (r.key, r.count)
        })
        .collect();
    assert_eq!(counted, [("🎉".to_owned(), 1), ("👍".to_owned(), 1)]);

    // Bo takes it back: the line in main goes, and the archive forgets it.
    let line = copy_id(&world, "reacted 👍");
    event(
        &world.engine,
        Inbound::Deleted(MessageDeleted {
            platform: Platform::Loopback,
            platform_msg_id: "r-bo".to_owned(),
            deleted_at: world.clock_now(),
        }),
    )
    .await;
    world.engine.tick().await.unwrap();
    assert!(world
        .loopback
        .history()
        .contains(&LoopbackEvent::RelayDelete {
            room: ROOM.to_owned(),
            copy: line
        }));
    let keys: Vec<String> = store
        .session_reactions(session)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["🎉"]);
}

#[tokio::test]
async fn copies_wait_in_the_outbox_while_the_platform_is_away_and_go_out_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::in_dir_with(dir, two_room_chat(), t0(), false).await;
    world
        .engine
        .handle(LoopbackAdapter::command(
            ROOM,
            MODERATOR,
            "start interlibnet",
        ))
        .await
        .unwrap();
    world.run_until(t0() + minutes(3)).await;
    for n in 1..=3 {
        let m = said(&world, ROOM, "ann", &format!("A1 number {n}"), None);
        event(&world.engine, Inbound::Message(m)).await;
    }
    world.engine.tick().await.unwrap();
    assert_eq!(
        world.engine.store().pending_relays().await.unwrap().len(),
        3
    );

    let world = world.restart_at(t0() + minutes(4)).await;
    world.engine.tick().await.unwrap();
    let bodies: Vec<String> = relays(&world).into_iter().map(|r| r.2).collect();
    assert_eq!(bodies, ["A1 number 1", "A1 number 2", "A1 number 3"]);
    let world = world.restart_at(t0() + minutes(5)).await;
    world.engine.tick().await.unwrap();
    assert_eq!(
        relays(&world).len(),
        3,
        "nothing relayed twice after another restart"
    );
}

#[tokio::test]
async fn nothing_is_relayed_outside_a_running_session_or_into_a_chat_with_one_room() {
    let world = World::new(two_room_chat()).await;
    let early = said(&world, ROOM, "ann", "anyone here?", None);
    event(&world.engine, Inbound::Message(early)).await;
    world.engine.tick().await.unwrap();
    assert!(relays(&world).is_empty());

    let single = World::new(chat()).await;
    start(&single).await;
    let alone = said(&single, ROOM, "ann", "A1 alone", None);
    event(&single.engine, Inbound::Message(alone)).await;
    single.engine.tick().await.unwrap();
    assert!(relays(&single).is_empty());
    assert!(single
        .engine
        .store()
        .pending_relays()
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_edit_follows_the_copy_and_a_deletion_deletes_it_or_cancels_it_before_it_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::in_dir(dir, two_room_chat(), t0()).await;
    start(&world).await;
    let first = said(&world, ROOM, "ann", "A1 frist", None);
    let first_id = first.platform_msg_id.clone();
    event(&world.engine, Inbound::Message(first)).await;
    world.engine.tick().await.unwrap();
    let copy = copy_id(&world, "A1 frist");
    event(&world.engine, edit(&world, &first_id, "A1 first")).await;
    // The same edit delivered again changes nothing more.
    event(&world.engine, edit(&world, &first_id, "A1 first")).await;
    world.engine.tick().await.unwrap();
    event(
        &world.engine,
        Inbound::Deleted(MessageDeleted {
            platform: Platform::Loopback,
            platform_msg_id: first_id,
            deleted_at: world.clock_now(),
        }),
    )
    .await;
    world.engine.tick().await.unwrap();
    let changes: Vec<LoopbackEvent> = world
        .loopback
        .history()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                LoopbackEvent::RelayEdit { .. } | LoopbackEvent::RelayDelete { .. }
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            LoopbackEvent::RelayEdit {
                room: OTHER.to_owned(),
                copy: copy.clone(),
                body: "A1 first".to_owned()
            },
            LoopbackEvent::RelayDelete {
                room: OTHER.to_owned(),
                copy
            },
        ]
    );

    // Written, edited and deleted while the other room's platform was away: its copy is never
    // made.
    let world = world.restart_without_platform_at(t0() + minutes(4)).await;
    let gone = said(&world, ROOM, "ann", "A1 oops", None);
    let gone_id = gone.platform_msg_id.clone();
    event(&world.engine, Inbound::Message(gone)).await;
    event(&world.engine, edit(&world, &gone_id, "A1 oops, wrong chat")).await;
    event(
        &world.engine,
        Inbound::Deleted(MessageDeleted {
            platform: Platform::Loopback,
            platform_msg_id: gone_id,
            deleted_at: world.clock_now(),
        }),
    )
    .await;
    let world = world.restart_at(t0() + minutes(5)).await;
    world.engine.tick().await.unwrap();
    assert!(
        !relays(&world).iter().any(|r| r.2.contains("oops")),
        "{:?}",
        relays(&world)
    );
}

#[tokio::test]
async fn hiding_a_message_through_its_copy_hides_the_original_and_deletes_the_copies() {
    let world = World::new(two_room_chat()).await;
    start(&world).await;
    let rude = said(&world, ROOM, "ann", "A1 something rude", None);
    let rude_id = rude.platform_msg_id.clone();
    event(&world.engine, Inbound::Message(rude)).await;
    world.engine.tick().await.unwrap();
    let copy = copy_id(&world, "A1 something rude");

    // The moderator sees the copy in the other room and hides it there.
    event(
        &world.engine,
        LoopbackAdapter::command_replying(OTHER, MODERATOR, "hide", &copy),
    )
    .await;
    world.engine.tick().await.unwrap();
    let history = world.loopback.history();
    assert!(
        history.contains(&LoopbackEvent::RelayDelete {
            room: OTHER.to_owned(),
            copy
        }),
        "{history:?}"
    );
    let session = world.engine.live_session_in(&room()).unwrap();
    let hidden = world
        .engine
        .store()
        .marked(Mark::Hidden, session)
        .await
        .unwrap();
    let hidden: Vec<&str> = hidden.iter().map(|m| m.platform_msg_id.as_str()).collect();
    assert_eq!(hidden, [rude_id.as_str()], "the original is hidden");
}

#[tokio::test]
async fn unhiding_a_message_while_the_session_runs_makes_its_copy_again_under_a_new_key() {
    let world = World::new(two_room_chat()).await;
    start(&world).await;
    let said_once = said(&world, ROOM, "ann", "A1 taken for rude", None);
    let id = said_once.platform_msg_id.clone();
    event(&world.engine, Inbound::Message(said_once)).await;
    world.engine.tick().await.unwrap();
    let first = copy_id(&world, "A1 taken for rude");
    let hide = world.command(MODERATOR, &format!("hide {id}")).await;
    assert!(hide.contains("left out"), "{hide}");
    world.engine.tick().await.unwrap();

    let unhide = world.command(MODERATOR, &format!("unhide {id}")).await;
    assert!(
        unhide.contains("and in the session's other rooms"),
        "{unhide}"
    );
    world.engine.tick().await.unwrap();
    let made: Vec<(String, String)> = world
        .loopback
        .history()
        .into_iter()
        .filter_map(|e| match e {
            LoopbackEvent::Relay {
                platform_msg_id,
                idempotency_key,
                body,
                ..
            } if body == "A1 taken for rude" => Some((platform_msg_id, idempotency_key)),
            _ => None,
        })
        .collect();
    assert_eq!(made.len(), 2, "made again: {made:?}");
    assert_eq!(made[0].0, first);
    assert_ne!(made[1].0, first, "a new copy, not the deleted one");
    assert_ne!(made[1].1, made[0].1, "under a new key");
    // The new copy is known as one: a reply to it is a reply to the original.
    let original = world
        .engine
        .store()
        .original_of_copy(Platform::Loopback, &made[1].0)
        .await
        .unwrap()
        .expect("the new copy is recorded");
    assert_eq!(original.origin_msg_id, id);

    // Hidden again, the new copy goes; after the session, unhide leaves the rooms alone.
    world.command(MODERATOR, &format!("hide {id}")).await;
    world.engine.tick().await.unwrap();
    let history = world.loopback.history();
    assert!(
        history.contains(&LoopbackEvent::RelayDelete {
            room: OTHER.to_owned(),
            copy: made[1].0.clone()
        }),
        "{history:?}"
    );
    let stop = world.command(MODERATOR, "stop").await;
    assert!(stop.contains("topped"), "{stop}");
    let unhide = world.command(MODERATOR, &format!("unhide {id}")).await;
    assert!(unhide.contains("back in session"), "{unhide}");
    assert!(!unhide.contains("other rooms"), "{unhide}");
    world.engine.tick().await.unwrap();
    let copies = relays(&world)
        .into_iter()
        .filter(|r| r.2 == "A1 taken for rude")
        .count();
    assert_eq!(copies, 2, "no copy after the session ended");
}

#[tokio::test]
async fn someone_who_opted_out_of_the_archive_is_still_relayed_live() {
    let world = World::new(two_room_chat()).await;
    start(&world).await;
    let reply = world.command("ann", "optout").await;
    assert!(!reply.is_empty());
    let said_it = said(&world, ROOM, "ann", "A1 not for the record", None);
    event(&world.engine, Inbound::Message(said_it)).await;
    world.engine.tick().await.unwrap();
    assert_eq!(
        relays(&world),
        [(
            OTHER.to_owned(),
            "ann".to_owned(),
            "A1 not for the record".to_owned(),
            None
        )]
    );
}

/// A room the bot is in that no chat names.
const ELSEWHERE: &str = "elsewhere";

async fn gathered(capture: CaptureHashtag) -> (World, Archived) {
    let mut chat = two_room_chat();
    chat.capture_hashtag = capture;
    let world = World::new(chat).await;
    let before = said(
        &world,
        ELSEWHERE,
        "cy",
        "before the chat #interlibnet",
        None,
    );
    let early = world.engine.archive_message(before).await.unwrap();
    assert_eq!(early, Archived::NoSession, "no session runs yet");
    start(&world).await;
    let unrelated = said(&world, ELSEWHERE, "cy", "nothing to do with it", None);
    let unrelated = world.engine.archive_message(unrelated).await.unwrap();
    assert_eq!(unrelated, Archived::NoSession);
    let tagged = said(&world, ELSEWHERE, "cy", "A1 from afar #InterLibNet", None);
    let archived = world.engine.archive_message(tagged.clone()).await.unwrap();
    world.engine.handle(Inbound::Message(tagged)).await.unwrap();
    world.engine.tick().await.unwrap();
    (world, archived)
}

#[tokio::test]
async fn the_hashtag_gathers_a_message_from_elsewhere_into_the_archive() {
    let (world, archived) = gathered(CaptureHashtag::Archive).await;
    let Archived::Stored { point, .. } = archived else {
        panic!("{archived:?}")
    };
    assert_eq!(point, Some(1));
    assert!(relays(&world).is_empty(), "archived, not relayed");
}

#[tokio::test]
async fn with_capture_relay_the_gathered_message_reaches_every_room_of_the_session() {
    let (world, _) = gathered(CaptureHashtag::Relay).await;
    // Rooms are delivered side by side: in no particular order.
    let mut rooms: Vec<String> = relays(&world).into_iter().map(|r| r.0).collect();
    rooms.sort();
    assert_eq!(rooms, [ROOM, OTHER]);
}

#[tokio::test]
async fn with_capture_off_the_hashtag_gathers_nothing() {
    let (world, archived) = gathered(CaptureHashtag::Off).await;
    assert_eq!(archived, Archived::NoSession);
    assert!(relays(&world).is_empty());
}
