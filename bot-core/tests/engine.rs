//! The engine on virtual time: sessions, restarts, commands, attribution.
//!
//! A manual clock drives the scheduler (`World::run_until` jumps from one due time to the
//! next), so an hour-long chat runs in milliseconds and every time is exact.

mod common;
mod engine_support;

use bot_core::engine::Archived;
use bot_core::model::{OutboxPost, PostKind, PostStatus, SessionState};
use bot_core::plan::Step;
use chrono::{Duration, TimeZone, Utc};
use engine_support::*;

async fn upcoming_count(world: &World) -> usize {
    world
        .engine
        .store()
        .upcoming_sessions(10)
        .await
        .unwrap()
        .len()
}

async fn started(world: &World) -> i64 {
    let reply = world.command(MODERATOR, "start interlibnet").await;
    assert!(reply.starts_with("Started"), "{reply}");
    world
        .engine
        .live_session_in(&room())
        .expect("a live session")
}

fn timeline(posts: &[OutboxPost]) -> Vec<(u32, chrono::DateTime<Utc>)> {
    posts.iter().map(|p| (p.step, p.created_at)).collect()
}

#[tokio::test]
async fn an_hour_long_chat_posts_intro_points_and_wrap_up_on_time() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    world.run_until(t0() + Duration::hours(2)).await;

    assert_eq!(world.posts(), full_run(6));
    let posts = world
        .engine
        .store()
        .posts_for_session(session)
        .await
        .unwrap();
    let expected: Vec<_> = std::iter::once((1, t0()))
        .chain((1..=6).map(|n| (n + 1, t0() + minutes(2 + 10 * (i64::from(n) - 1)))))
        .chain(std::iter::once((8, t0() + minutes(62))))
        .collect();
    assert_eq!(timeline(&posts), expected);
    assert!(posts
        .iter()
        .all(|p| p.status == PostStatus::Posted && p.platform_msg_id.is_some()));
    let stored = world
        .engine
        .store()
        .get_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, SessionState::Ended);
    assert_eq!(world.engine.live_session_in(&room()), None);
}

#[tokio::test]
async fn a_scheduled_session_posts_its_reminder_with_rsvps_then_runs() {
    let world = World::new(chat()).await;
    assert!(world
        .command("alice", "join interlibnet")
        .await
        .contains("You're in"));
    let reply = world
        .command(MODERATOR, "schedule interlibnet 2026-12-01 21:00")
        .await;
    assert!(reply.contains("Scheduled"), "{reply}");

    let start = Utc.with_ymd_and_hms(2026, 12, 1, 21, 0, 0).unwrap(); // London is on UTC in December
    world.run_until(start - minutes(1)).await;
    let history = world.loopback.history();
    let reminder = history.iter().find_map(|e| match e {
        bot_core::loopback::LoopbackEvent::Post { content, .. }
            if content.kind == PostKind::Reminder =>
        {
            Some(content.clone())
        }
        _ => None,
    });
    let reminder = reminder.expect("reminder posted before the start");
    assert_eq!(reminder.mentions, vec!["loopback:alice".to_owned()]);
    assert_eq!(world.posts(), vec![PostKind::Reminder]);

    world.run_until(start + Duration::hours(2)).await;
    let mut expected = vec![PostKind::Reminder];
    expected.extend(full_run(6));
    assert_eq!(world.posts(), expected);
}

#[tokio::test]
async fn a_restart_mid_session_posts_missed_steps_once_each_in_order() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    world.run_until(t0() + minutes(13)).await; // intro, Q1 (19:02), Q2 (19:12)
    assert_eq!(world.posts().len(), 3);

    // Down from 19:13 until 19:40: Q3 (19:22) and Q4 (19:32) fell due meanwhile.
    let world = world.restart_at(t0() + minutes(40)).await;
    world.engine.tick().await.unwrap();
    assert_eq!(world.posts(), full_run(6)[..5].to_vec());
    world.run_until(t0() + Duration::hours(2)).await;
    assert_eq!(world.posts(), full_run(6), "no step twice, none missed");
    let steps: Vec<u32> = world
        .engine
        .store()
        .posts_for_session(session)
        .await
        .unwrap()
        .iter()
        .map(|p| p.step)
        .collect();
    assert_eq!(steps, (1..=8).collect::<Vec<_>>());
}

#[tokio::test]
async fn posts_enqueued_while_the_platform_was_unreachable_are_delivered_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::in_dir_with(dir, chat(), t0(), false).await;
    world
        .engine
        .handle(bot_core::loopback::LoopbackAdapter::command(
            ROOM,
            MODERATOR,
            "start interlibnet",
        ))
        .await
        .unwrap();
    world.run_until(t0() + minutes(5)).await;
    let pending = world.engine.store().pending_posts().await.unwrap();
    assert_eq!(pending.len(), 2, "intro and Q1 wait in the outbox");

    let world = world.restart_at(t0() + minutes(6)).await;
    world.engine.tick().await.unwrap();
    assert_eq!(world.posts(), full_run(6)[..2].to_vec());
    let world = world.restart_at(t0() + minutes(7)).await;
    world.engine.tick().await.unwrap();
    assert_eq!(
        world.posts(),
        full_run(6)[..2].to_vec(),
        "nothing posted twice after a second restart"
    );
}

#[tokio::test]
async fn a_reminder_gone_stale_during_downtime_is_dropped_not_posted_late() {
    let world = World::new(chat()).await;
    world
        .command(MODERATOR, "schedule interlibnet 2026-12-01 21:00")
        .await;
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 21, 0, 0).unwrap();
    // Down from before the reminder (20:00) until five minutes after the start.
    let world = world.restart_at(start + minutes(5)).await;
    world.engine.tick().await.unwrap();
    assert_eq!(
        world.posts(),
        vec![PostKind::Intro, PostKind::Point { number: 1 }]
    );
}

#[tokio::test]
async fn a_session_whose_start_passed_long_ago_is_marked_missed() {
    let world = World::new(chat()).await;
    let reply = world.command(MODERATOR, "schedule interlibnet in 2h").await;
    let session: i64 = reply
        .split("session ")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let world = world.restart_at(t0() + Duration::hours(6)).await;
    world.engine.tick().await.unwrap();
    assert!(world.posts().is_empty());
    let stored = world
        .engine
        .store()
        .get_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, SessionState::Missed);
}

#[tokio::test]
async fn pause_holds_the_timetable_and_resume_continues_it() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    world.run_until(t0() + minutes(5)).await; // Q1 at 19:02, Q2 due 19:12
    assert!(world.command(MODERATOR, "pause").await.contains("paused"));
    world.run_until(t0() + minutes(30)).await;
    assert_eq!(world.posts().len(), 2, "nothing posted while paused");
    assert!(world.command(MODERATOR, "resume").await.contains("resumed"));
    // Seven minutes were left of Q1 when the pause began.
    world.run_until(t0() + minutes(36)).await;
    assert_eq!(world.posts().len(), 2);
    world.run_until(t0() + minutes(37)).await;
    assert_eq!(world.posts().len(), 3);
    let posts = world
        .engine
        .store()
        .posts_for_session(session)
        .await
        .unwrap();
    assert_eq!(posts.last().unwrap().created_at, t0() + minutes(37));
}

#[tokio::test]
async fn a_start_killed_between_its_effect_and_its_claim_starts_one_session_and_answers_once() {
    let world = World::new(chat()).await;
    world
        .crash_during_command(
            MODERATOR,
            "start interlibnet",
            "$start",
            |store| async move {
                // The intro is in the outbox: the command has done all it does before its claim.
                match store.active_sessions().await.unwrap().first() {
                    Some(s) => !store.posts_for_session(s.id).await.unwrap().is_empty(),
                    None => false,
                }
            },
        )
        .await;
    let world = world.restart_at(t0()).await;
    // The platform hands the command over again, as Matrix does when its cursor was not saved.
    world
        .engine
        .handle(world.command_event(MODERATOR, "start interlibnet", "$start"))
        .await
        .unwrap();
    world
        .engine
        .handle(world.command_event(MODERATOR, "start interlibnet", "$start"))
        .await
        .unwrap();
    let replies = world.replies();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].starts_with("Started"), "{replies:?}");
    world.run_until(t0() + Duration::hours(2)).await;
    assert_eq!(world.posts(), full_run(6), "one session, each step once");
    let sessions = world.engine.store().list_sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
}

#[tokio::test]
async fn a_stop_killed_between_its_effect_and_its_claim_ends_the_session_and_answers_once() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    world.run_until(t0() + minutes(3)).await;
    let wrap_up = Step::WrapUp.index(&world.chat);
    world
        .crash_during_command(MODERATOR, "stop", "$stop", move |store| async move {
            let posts = store.posts_for_session(session).await.unwrap();
            posts.iter().any(|p| p.step == wrap_up)
        })
        .await;
    let world = world.restart_at(t0() + minutes(4)).await;
    world
        .engine
        .handle(world.command_event(MODERATOR, "stop", "$stop"))
        .await
        .unwrap();
    world.run_until(t0() + Duration::hours(2)).await;
    let replies = world.replies();
    assert_eq!(replies.len(), 2, "start and stop, once each: {replies:?}");
    assert!(replies[1].contains("stopped"), "{replies:?}");
    assert_eq!(
        world.posts(),
        [
            PostKind::Intro,
            PostKind::Point { number: 1 },
            PostKind::WrapUp
        ],
        "the session stopped where it was asked to"
    );
    let stored = world
        .engine
        .store()
        .get_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, SessionState::Ended);
}

#[tokio::test]
async fn a_next_killed_before_its_claim_moves_on_once_and_answers_once() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    world.run_until(t0() + minutes(3)).await;
    world
        .crash_during_command(MODERATOR, "next", "$next", move |store| async move {
            let posts = store.posts_for_session(session).await.unwrap();
            posts
                .iter()
                .any(|p| p.step == Step::Point(2).index(&chat()))
        })
        .await;
    let world = world.restart_at(t0() + minutes(4)).await;
    let next = world.command_event(MODERATOR, "next", "$next");
    world.engine.handle(next.clone()).await.unwrap();
    world.engine.handle(next).await.unwrap();
    let replies = world.replies();
    assert_eq!(replies[1..], ["Moved on (Q2 of 6 is up)."]);
    world.run_until(t0() + minutes(5)).await;
    assert_eq!(
        world.posts(),
        [
            PostKind::Intro,
            PostKind::Point { number: 1 },
            PostKind::Point { number: 2 }
        ]
    );
}

#[tokio::test]
async fn next_moves_on_at_once_and_stop_posts_the_wrap_up() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    world.run_until(t0() + minutes(3)).await;
    assert!(world.command(MODERATOR, "next").await.contains("Q2"));
    assert_eq!(world.posts().last(), Some(&PostKind::Point { number: 2 }));
    // The timetable now counts from the skip: Q3 ten minutes after it.
    world.run_until(t0() + minutes(12)).await;
    assert_eq!(world.posts().len(), 3);
    world.run_until(t0() + minutes(13)).await;
    assert_eq!(world.posts().last(), Some(&PostKind::Point { number: 3 }));

    assert!(world.command(MODERATOR, "stop").await.contains("stopped"));
    assert_eq!(world.posts().last(), Some(&PostKind::WrapUp));
    let stored = world
        .engine
        .store()
        .get_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, SessionState::Ended);
    let wrap_up = world
        .engine
        .store()
        .posts_for_session(session)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(wrap_up.step, Step::WrapUp.index(&world.chat));
    world.run_until(t0() + Duration::hours(3)).await;
    assert_eq!(
        world.posts().last(),
        Some(&PostKind::WrapUp),
        "nothing after the wrap-up"
    );
}

#[tokio::test]
async fn moderator_commands_are_refused_to_everyone_else_and_change_nothing() {
    let world = World::new(chat()).await;
    for command in ["start interlibnet", "schedule interlibnet in 1h"] {
        let reply = world.command("visitor", command).await;
        assert!(reply.contains("Only moderators"), "{command}: {reply}");
    }
    assert!(
        world
            .engine
            .store()
            .list_sessions()
            .await
            .unwrap()
            .is_empty(),
        "nothing was created"
    );
    assert!(world.posts().is_empty());

    let session = started(&world).await;
    for command in ["stop", "pause", "resume", "next"] {
        let reply = world.command("visitor", command).await;
        assert!(reply.contains("Only moderators"), "{command}: {reply}");
    }
    assert_eq!(world.posts(), vec![PostKind::Intro]);
    let stored = world
        .engine
        .store()
        .get_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, SessionState::Running);

    world.command(MODERATOR, "stop").await;
    world.command(MODERATOR, "schedule interlibnet in 1h").await;
    let upcoming = world.engine.store().upcoming_sessions(10).await.unwrap();
    let reply = world
        .command("visitor", &format!("cancel {}", upcoming[0].id))
        .await;
    assert!(reply.contains("Only moderators"), "{reply}");
    assert_eq!(upcoming_count(&world).await, 1);
}

#[tokio::test]
async fn bad_commands_get_a_one_line_answer() {
    let world = World::new(chat()).await;
    for text in [
        "",
        "strat interlibnet",
        "start",
        "start no-such-chat",
        "stop now please",
        "cancel x",
        "\u{202e}\u{0000}",
    ] {
        let reply = world.command(MODERATOR, text).await;
        assert!(
            !reply.is_empty() && !reply.contains('\n'),
            "{text:?} → {reply:?}"
        );
    }
    assert!(world.posts().is_empty());
}

#[tokio::test]
async fn answers_are_filed_under_the_point_they_answer() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    let (before_q1, _) = world.say("ann", "hello all", None).await;
    world.run_until(t0() + minutes(3)).await; // Q1 on screen
    let (plain, _) = world.say("ann", "we post event photos", None).await;
    world.run_until(t0() + minutes(13)).await; // Q2 on screen
    let (tagged, _) = world
        .say("bob", "A1: late answer to the first point", None)
        .await;
    let (paren, _) = world.say("bob", "A2) on time", None).await;
    let (reply_to_plain, _) = world.say("cy", "so do we!", Some(plain.clone())).await;
    let q1_post = world.post_id(PostKind::Point { number: 1 });
    let (reply_to_point, _) = world
        .say("cy", "replying to the question itself", Some(q1_post))
        .await;
    let (no_such_point, _) = world.say("dee", "A9: there is no ninth point", None).await;
    let (prefix_beats_reply, _) = world
        .say("dee", "A2 tagged reply", Some(plain.clone()))
        .await;

    let points: std::collections::HashMap<String, Option<u32>> = world
        .messages(session)
        .await
        .into_iter()
        .map(|m| (m.message.platform_msg_id, m.point))
        .collect();
    assert_eq!(points[&before_q1], None);
    assert_eq!(points[&plain], Some(1));
    assert_eq!(points[&tagged], Some(1));
    assert_eq!(points[&paren], Some(2));
    assert_eq!(points[&reply_to_plain], Some(1));
    assert_eq!(points[&reply_to_point], Some(1));
    assert_eq!(points[&no_such_point], Some(2));
    assert_eq!(points[&prefix_beats_reply], Some(2));
}

#[tokio::test]
async fn nothing_is_archived_outside_a_running_session_and_duplicates_are_stored_once() {
    let world = World::new(chat()).await;
    let (_, archived) = world.say("ann", "anyone here?", None).await;
    assert_eq!(archived, Archived::NoSession);
    let session = started(&world).await;

    let message = world.loopback.message(
        ROOM,
        "ann",
        "Ann",
        "A1 twice delivered",
        world.clock_now(),
        None,
    );
    let first = world.engine.archive_message(message.clone()).await.unwrap();
    let second = world.engine.archive_message(message).await.unwrap();
    assert!(matches!(first, Archived::Stored { .. }));
    assert_eq!(second, Archived::Duplicate { session });
    assert_eq!(
        world.engine.store().message_count(session).await.unwrap(),
        1
    );

    world.command(MODERATOR, "stop").await;
    let (_, after) = world.say("ann", "is it over?", None).await;
    assert_eq!(after, Archived::NoSession);
}

#[tokio::test]
async fn a_message_read_after_its_session_ended_is_archived_into_it() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    world.run_until(world.clock_now() + minutes(7)).await;
    let sent = world.clock_now();
    world.run_until(sent + minutes(1)).await;
    world.command(MODERATOR, "stop").await;

    // Sent while the session ran, read only now (the bot was down, or the homeserver was).
    let late = world
        .loopback
        .message(ROOM, "ann", "Ann", "said in time, read late", sent, None);
    let archived = world.engine.archive_message(late).await.unwrap();
    let on_screen = world.engine.store().point_at(session, sent).await.unwrap();
    assert!(on_screen.is_some());
    assert_eq!(
        archived,
        Archived::Stored {
            session,
            point: on_screen
        }
    );

    let after = world.loopback.message(
        ROOM,
        "ann",
        "Ann",
        "said after",
        world.clock_now() + minutes(1),
        None,
    );
    assert_eq!(
        world.engine.archive_message(after).await.unwrap(),
        Archived::NoSession
    );
}

#[tokio::test]
async fn edits_and_deletions_reach_the_archive() {
    use bot_core::adapter::{Inbound, MessageDeleted, MessageEdited};
    use bot_core::ids::Platform;
    let world = World::new(chat()).await;
    let session = started(&world).await;
    let (edited, _) = world.say("ann", "A1 frist", None).await;
    let (deleted, _) = world.say("bob", "oops", None).await;
    event(
        &world.engine,
        Inbound::Edited(MessageEdited {
            platform: Platform::Loopback,
            platform_msg_id: edited.clone(),
            editor_id: None,
            body: "A1 first".into(),
            formatted_body: None,
            edited_at: world.clock_now() + minutes(1),
        }),
    )
    .await;
    event(
        &world.engine,
        Inbound::Deleted(MessageDeleted {
            platform: Platform::Loopback,
            platform_msg_id: deleted.clone(),
            deleted_at: world.clock_now() + minutes(1),
        }),
    )
    .await;
    let messages = world.messages(session).await;
    let edited = messages
        .iter()
        .find(|m| m.message.platform_msg_id == edited)
        .unwrap();
    assert_eq!(edited.message.body, "A1 first");
    assert_eq!(edited.edits[0].body, "A1 frist");
    let deleted = messages
        .iter()
        .find(|m| m.message.platform_msg_id == deleted)
        .unwrap();
    assert!(deleted.deleted_at.is_some());
    assert_eq!(
        world.engine.store().message_count(session).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn cancelling_a_scheduled_session_keeps_it_from_running() {
    let world = World::new(chat()).await;
    world
        .command(MODERATOR, "schedule interlibnet in 90m")
        .await;
    let upcoming = world.engine.store().upcoming_sessions(10).await.unwrap();
    let reply = world
        .command(MODERATOR, &format!("cancel {}", upcoming[0].id))
        .await;
    assert!(reply.starts_with("Cancelled"), "{reply}");
    world.run_until(t0() + Duration::hours(4)).await;
    assert!(world.posts().is_empty());
    assert!(world
        .command(MODERATOR, "upcoming")
        .await
        .contains("Nothing is scheduled"));
}

fn weekly_at(chat: &mut bot_core::chat::Chat, hour: u32) {
    chat.schedule = Some(bot_core::chat::Schedule {
        first: chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap(),
        repeat: Some(bot_core::chat::Repeat::Weeks(1)),
        until: None,
    });
}

#[tokio::test]
async fn a_recurring_chat_keeps_exactly_one_occurrence_ahead() {
    let mut recurring = chat();
    weekly_at(&mut recurring, 21);
    let world = World::new(recurring).await;
    let upcoming = world.engine.store().upcoming_sessions(10).await.unwrap();
    assert_eq!(upcoming.len(), 1);
    assert_eq!(
        upcoming[0].scheduled_start,
        Utc.with_ymd_and_hms(2026, 12, 1, 21, 0, 0).unwrap()
    );

    world
        .run_until(Utc.with_ymd_and_hms(2026, 12, 1, 21, 30, 0).unwrap())
        .await;
    let upcoming = world.engine.store().upcoming_sessions(10).await.unwrap();
    assert_eq!(
        upcoming.len(),
        1,
        "the next week's occurrence, once this one began"
    );
    assert_eq!(
        upcoming[0].scheduled_start,
        Utc.with_ymd_and_hms(2026, 12, 8, 21, 0, 0).unwrap()
    );

    // A restart finds it and adds nothing.
    let world = world
        .restart_at(Utc.with_ymd_and_hms(2026, 12, 1, 21, 31, 0).unwrap())
        .await;
    assert_eq!(upcoming_count(&world).await, 1);
}

#[tokio::test]
async fn an_edited_start_time_replaces_the_planned_occurrence_instead_of_adding_one() {
    let mut recurring = chat();
    weekly_at(&mut recurring, 21);
    let world = World::new(recurring).await;
    let World { dir, .. } = world;

    let mut edited = chat();
    weekly_at(&mut edited, 20);
    let world = World::in_dir(dir, edited, t0()).await;
    let upcoming = world.engine.store().upcoming_sessions(10).await.unwrap();
    assert_eq!(upcoming.len(), 1, "{upcoming:?}");
    assert_eq!(
        upcoming[0].scheduled_start,
        Utc.with_ymd_and_hms(2026, 12, 1, 20, 0, 0).unwrap()
    );
}

/// Messages people really send, and some meant to break things: each must be archived exactly.
fn awkward_bodies() -> Vec<String> {
    vec![
        "<script>alert('x')</script> A1".into(),
        "A1 \u{202e}reversed\u{202c} and zero\u{200b}width".into(),
        "A1 emoji 🦀📚 and ümlauts".into(),
        "{{ template }} {% tag %} ${shell} @everyone".into(),
        "A1 ".to_owned() + &"long ".repeat(20_000),
        "line one\nline two\r\nline three".into(),
        "'; DROP TABLE messages; --".into(),
    ]
}

async fn awkward_messages_are_archived_exactly(world: World) {
    let session = started(&world).await;
    world.run_until(t0() + minutes(3)).await;
    for body in awkward_bodies() {
        world.say("ann", &body, None).await;
    }
    let (nul, _) = world.say("ann", "A1 nul\0inside", None).await;
    let messages = world.messages(session).await;
    let bodies: Vec<&str> = messages.iter().map(|m| m.message.body.as_str()).collect();
    for body in awkward_bodies() {
        assert!(
            bodies.contains(&body.as_str()),
            "lost or changed: {:.40}",
            body
        );
    }
    let nul = messages
        .iter()
        .find(|m| m.message.platform_msg_id == nul)
        .expect("the NUL message is kept");
    assert_eq!(nul.message.body, "A1 nul\u{FFFD}inside");
    assert!(messages.iter().all(|m| m.point == Some(1)));
}

#[tokio::test]
async fn awkward_messages_are_archived_exactly_on_sqlite() {
    awkward_messages_are_archived_exactly(World::new(chat()).await).await;
}

#[tokio::test]
async fn awkward_messages_are_archived_exactly_on_postgresql() {
    common::run_postgres(|store| async move {
        let world = World::on_store(tempfile::tempdir().unwrap(), store, chat(), t0(), true).await;
        awkward_messages_are_archived_exactly(world).await;
    })
    .await;
}

#[tokio::test]
async fn a_missed_occurrence_puts_the_next_one_on_the_calendar() {
    let mut recurring = chat();
    weekly_at(&mut recurring, 21);
    let world = World::new(recurring).await;
    let first = world.engine.store().upcoming_sessions(10).await.unwrap()[0].id;
    // Down from before the reminder until the small hours.
    let world = world
        .restart_at(Utc.with_ymd_and_hms(2026, 12, 2, 3, 0, 0).unwrap())
        .await;
    world.engine.tick().await.unwrap();
    assert!(world.posts().is_empty());
    let missed = world
        .engine
        .store()
        .get_session(first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(missed.state, SessionState::Missed);
    let upcoming = world.engine.store().upcoming_sessions(10).await.unwrap();
    assert_eq!(upcoming.len(), 1);
    assert_eq!(
        upcoming[0].scheduled_start,
        Utc.with_ymd_and_hms(2026, 12, 8, 21, 0, 0).unwrap()
    );
}

#[tokio::test]
async fn moderators_curate_the_transcript_and_everyone_else_is_refused() {
    use bot_core::loopback::LoopbackAdapter;
    use bot_core::store::Mark;
    let world = World::new(chat()).await;
    let session = started(&world).await;
    world.run_until(t0() + minutes(3)).await; // Q1 on screen
    let (answer, _) = world.say("ann", "A1 we post photos", None).await;
    let (rude, _) = world.say("bob", "something rude", None).await;

    assert!(world
        .command("visitor", "note sneaky")
        .await
        .contains("Only moderators"));
    assert!(world
        .command(MODERATOR, "note Thanks for the photos thread")
        .await
        .contains("under Q1"));
    world
        .engine
        .handle(LoopbackAdapter::command_replying(
            ROOM,
            MODERATOR,
            "note see the consent guide",
            &answer,
        ))
        .await
        .unwrap();

    assert!(world
        .command("visitor", &format!("hide {rude}"))
        .await
        .contains("Only moderators"));
    world
        .engine
        .handle(LoopbackAdapter::command_replying(
            ROOM, MODERATOR, "hide", &rude,
        ))
        .await
        .unwrap();
    assert!(world
        .command(MODERATOR, &format!("highlight {answer}"))
        .await
        .contains("Highlighted"));
    assert!(world
        .command(MODERATOR, &format!("highlight {answer}"))
        .await
        .contains("already"));
    assert!(world
        .command(MODERATOR, "hide")
        .await
        .contains("Which message?"));
    assert!(world
        .command(MODERATOR, "hide no-such-message")
        .await
        .contains("not in any transcript"));

    let store = world.engine.store();
    let notes = store.notes(session).await.unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].point, Some(1));
    assert_eq!(notes[0].after_message, None);
    assert_eq!(notes[1].after_message, Some(format!("loopback:{answer}")));
    assert_eq!(notes[1].by.to_string(), "loopback:mod");
    let hidden = store.marked(Mark::Hidden, session).await.unwrap();
    assert_eq!(
        hidden
            .iter()
            .map(|m| m.platform_msg_id.as_str())
            .collect::<Vec<_>>(),
        vec![rude.as_str()]
    );
    let highlighted = store.marked(Mark::Highlight, session).await.unwrap();
    assert_eq!(highlighted[0].platform_msg_id, answer);

    // After the session, curation goes on: unhide works on the latest session in the room.
    world.command(MODERATOR, "stop").await;
    assert!(world
        .command(MODERATOR, &format!("unhide {rude}"))
        .await
        .contains("back in"));
    assert!(store
        .marked(Mark::Hidden, session)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn anyone_can_opt_out_and_back_in() {
    let world = World::new(chat()).await;
    assert!(world.command("ann", "optout").await.starts_with("Done"));
    assert!(world.command("ann", "optout").await.contains("already"));
    let out = world.engine.store().opted_out().await.unwrap();
    assert_eq!(
        out.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["loopback:ann"]
    );
    assert!(world.command("ann", "optin").await.starts_with("Done"));
    assert!(world.engine.store().opted_out().await.unwrap().is_empty());
}

#[tokio::test]
async fn only_moderators_purge_and_purging_erases_opted_out_words() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    let (said, _) = world.say("ann", "A1 something I regret", None).await;
    world.command("ann", "optout").await;
    assert!(world
        .command("visitor", "purge")
        .await
        .contains("Only moderators"));
    assert!(world
        .command(MODERATOR, "purge")
        .await
        .contains("Purged 1 message"));
    let stored = world.messages(session).await;
    let purged = stored
        .iter()
        .find(|m| m.message.platform_msg_id == said)
        .unwrap();
    assert_eq!(purged.message.body, bot_core::transcript::WITHHELD);
}

#[tokio::test]
async fn two_moderators_starting_at_once_start_one_session() {
    use bot_core::loopback::LoopbackAdapter;
    let world = World::new(chat()).await;
    let (a, b) = tokio::join!(
        world.engine.handle(LoopbackAdapter::command(
            ROOM,
            MODERATOR,
            "start interlibnet"
        )),
        world.engine.handle(LoopbackAdapter::command(
            ROOM,
            MODERATOR,
            "start interlibnet"
        )),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(world.engine.store().list_sessions().await.unwrap().len(), 1);
    assert_eq!(world.posts(), vec![PostKind::Intro], "one intro");
}

#[tokio::test]
async fn a_platform_moderator_elsewhere_has_no_say_over_this_chat() {
    use bot_core::adapter::{CommandInvocation, Inbound};
    use bot_core::ids::{Platform, RoomRef, UserRef};
    let world = World::new(chat()).await;
    let invocation = |room: &str| {
        Inbound::Command(CommandInvocation {
            room: RoomRef::new(Platform::Loopback, room),
            user: UserRef::new(Platform::Loopback, "room-admin"),
            display_name: "Room admin".into(),
            platform_moderator: true,
            text: "start interlibnet".into(),
            platform_msg_id: None,
            reply_to: None,
        })
    };
    world.engine.handle(invocation("elsewhere")).await.unwrap();
    assert!(
        world
            .engine
            .store()
            .list_sessions()
            .await
            .unwrap()
            .is_empty(),
        "refused outside the chat's rooms"
    );
    world.engine.handle(invocation(ROOM)).await.unwrap();
    assert_eq!(
        world.posts(),
        vec![PostKind::Intro],
        "accepted in the chat's own room"
    );
}

#[tokio::test]
async fn next_while_paused_moves_on_and_runs_again() {
    let world = World::new(chat()).await;
    let session = started(&world).await;
    world.run_until(t0() + minutes(3)).await;
    world.command(MODERATOR, "pause").await;
    let reply = world.command(MODERATOR, "next").await;
    assert!(reply.contains("runs again"), "{reply}");
    let stored = world
        .engine
        .store()
        .get_session(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, SessionState::Running);
    assert_eq!(stored.current_point, Some(2));
}

/// What the engine announced on `session_changes` since the last call, each id with its
/// session's state in the store when read here (after the command: this shows which sessions
/// and states were announced, not that each was stored before its announcement), repeats of
/// the same pair folded.
async fn announced(
    world: &World,
    changes: &mut tokio::sync::broadcast::Receiver<i64>,
) -> Vec<(i64, SessionState)> {
    let mut seen = Vec::new();
    while let Ok(id) = changes.try_recv() {
        let session = world.engine.store().get_session(id).await.unwrap().unwrap();
        if seen.last() != Some(&(id, session.state)) {
            seen.push((id, session.state));
        }
    }
    seen
}

#[tokio::test]
async fn every_session_change_is_announced() {
    let world = World::new(chat()).await;
    let mut changes = world.engine.session_changes();

    let reply = world.command(MODERATOR, "schedule interlibnet in 3h").await;
    assert!(reply.starts_with("Scheduled"), "{reply}");
    let planned = world.engine.store().upcoming_sessions(1).await.unwrap()[0].id;
    assert_eq!(
        announced(&world, &mut changes).await,
        [(planned, SessionState::Scheduled)]
    );

    let reply = world.command(MODERATOR, &format!("cancel {planned}")).await;
    assert!(reply.contains("ancelled"), "{reply}");
    assert_eq!(
        announced(&world, &mut changes).await,
        [(planned, SessionState::Cancelled)]
    );

    let running = started(&world).await;
    let seen = announced(&world, &mut changes).await;
    assert_eq!(
        seen.last(),
        Some(&(running, SessionState::Running)),
        "{seen:?}"
    );
    assert!(world.command(MODERATOR, "pause").await.contains("aused"));
    assert_eq!(
        announced(&world, &mut changes).await,
        [(running, SessionState::Paused)]
    );
    assert!(world.command(MODERATOR, "stop").await.contains("stopped"));
    assert_eq!(
        announced(&world, &mut changes).await.last(),
        Some(&(running, SessionState::Ended))
    );
    assert!(
        announced(&world, &mut changes).await.is_empty(),
        "nothing else"
    );
}

/// The point on screen is what the room was shown: while the platform is away, the points the
/// scheduler emits meanwhile have reached nobody there, so an answer written then is filed
/// under the last point that did.
#[tokio::test]
async fn a_point_still_waiting_for_its_platform_is_not_on_screen_in_that_room() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::in_dir(dir, chat(), t0()).await;
    started(&world).await;
    world.run_until(t0() + minutes(3)).await;
    assert_eq!(
        world.posts(),
        full_run(6)[..2].to_vec(),
        "intro and Q1 shown"
    );

    // The platform goes away; Q2 falls due and waits in the outbox.
    let world = world.restart_without_platform_at(t0() + minutes(13)).await;
    world.engine.tick().await.unwrap();
    let (_, during) = world.say("ann", "what I think", None).await;
    let Archived::Stored { point, .. } = during else {
        panic!("{during:?}")
    };
    assert_eq!(point, Some(1), "Q2 was never shown here");

    // Back: Q2 goes out, and from then on it is on screen.
    let world = world.restart_at(t0() + minutes(14)).await;
    world.engine.tick().await.unwrap();
    world.clock.advance(minutes(1));
    let (_, after) = world.say("bo", "and what I think", None).await;
    let Archived::Stored { point, .. } = after else {
        panic!("{after:?}")
    };
    assert_eq!(point, Some(2));
}

#[tokio::test]
async fn counts_the_bot_writes_agree_in_number() {
    let mut one_minute = chat();
    one_minute.intro_minutes = 1;
    let world = World::new(one_minute).await;
    let reply = world.command(MODERATOR, "start interlibnet").await;
    assert!(
        reply.ends_with("session 1: intro now, Q1 in 1 minute."),
        "{reply}"
    );
    let asked = world.command(MODERATOR, "transcript 1").await;
    assert!(asked.contains(": 0 messages archived."), "{asked}");
    let world = World::new(chat()).await;
    let reply = world.command(MODERATOR, "start interlibnet").await;
    assert!(reply.ends_with("Q1 in 2 minutes."), "{reply}");
}

/// The text of the first post of `kind` made on the loopback platform.
fn posted(world: &World, kind: PostKind) -> String {
    world
        .loopback
        .history()
        .into_iter()
        .find_map(|e| match e {
            bot_core::loopback::LoopbackEvent::Post { content, .. } if content.kind == kind => {
                Some(content.text)
            }
            _ => None,
        })
        .expect("the post was made")
}

#[tokio::test]
async fn with_a_public_archive_the_bot_links_to_it_for_chats_it_shows() {
    use bot_core::engine::EngineSettings;
    let settings = || EngineSettings {
        public_url: Some("https://chats.example.org".into()),
        ..EngineSettings::default()
    };
    let mut scheduled = chat();
    scheduled.schedule = None;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hashchat.db").display());
    let store = bot_core::store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let world = World::on_store_with(dir, store, scheduled, t0(), true, settings()).await;
    let reply = world
        .command(MODERATOR, "schedule interlibnet in 2 hours")
        .await;
    assert!(reply.contains("session 1"), "{reply}");
    world.run_until(t0() + Duration::hours(1)).await;
    let reminder = posted(&world, PostKind::Reminder);
    assert!(
        reminder.ends_with(" Earlier sessions: https://chats.example.org/?chat=interlibnet"),
        "{reminder}"
    );
    world.run_until(t0() + Duration::hours(4)).await;
    let uid = world
        .engine
        .store()
        .get_session(1)
        .await
        .unwrap()
        .unwrap()
        .uid;
    let page = format!("https://chats.example.org/s/{uid}");
    let wrap_up = posted(&world, PostKind::WrapUp);
    assert!(
        wrap_up.ends_with(&format!(" The transcript: {page}")),
        "{wrap_up}"
    );
    let answer = world.command("ann", "transcript 1").await;
    assert!(answer.ends_with(&format!("Read it at {page}")), "{answer}");

    // A private chat's sessions are not linked: the archive does not show them.
    let mut private = chat();
    private.visibility = bot_core::chat::Visibility::Private;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hashchat.db").display());
    let store = bot_core::store::Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let world = World::on_store_with(dir, store, private, t0(), true, settings()).await;
    started(&world).await;
    let answer = world.command(MODERATOR, "transcript").await;
    assert!(!answer.contains("https://"), "{answer}");
    assert!(answer.contains("hashchat transcript 1"), "{answer}");
}
