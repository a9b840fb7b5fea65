//! The store test suite. Every behaviour is written once, as an `async fn(Store)`, and run
//! against both SQLite and PostgreSQL by `store_tests!` (see `common`).

mod common;

use std::collections::HashSet;

use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::model::{
    ArchivedMessage, Attachment, ChatSnapshot, CommandKey, IncomingMessage, NewPost, NewSession,
    PostContent, PostKind, PostStatus, SessionId, SessionOrigin, SessionState, SessionUpdate,
    StepEmission,
};
use bot_core::store::{Backend, CommandClaim, Store, StoreError};
use chrono::{DateTime, Duration, TimeZone, Utc};

store_tests!(
    migrations_run_twice_are_harmless,
    a_copy_changed_while_it_was_being_made_is_marked_to_catch_up,
    session_round_trips_every_field,
    recurrence_sessions_are_created_once,
    active_and_upcoming_sessions_are_selected_and_ordered,
    emit_step_enqueues_and_advances_together,
    emit_step_guard_refuses_a_repeat_or_stale_step,
    emit_step_is_all_or_nothing,
    a_batch_of_steps_commits_together_and_skips_refused_ones,
    racing_emitters_emit_a_step_once,
    outbox_moves_from_pending_to_posted_and_counts_failures,
    posts_are_found_by_platform_id,
    point_at_follows_the_timeline,
    ingest_is_idempotent_across_and_within_batches,
    a_big_batch_crosses_chunk_boundaries,
    edits_keep_history_in_order,
    deletions_are_kept_and_not_counted,
    rsvps_are_added_once_and_listed_in_order,
    list_sessions_counts_messages_newest_first,
    archive_pages_are_filtered_counted_and_paged_by_the_database,
    session_leases_are_held_once_renewed_and_taken_over_with_the_next_fence,
    instances_beat_stop_and_are_forgotten_a_week_after_they_went,
    concurrent_lease_claims_never_give_one_session_to_two_instances,
    corrupt_rows_are_reported_not_panicked_on,
    curation_is_kept_with_who_and_when,
    purging_erases_only_opted_out_words_in_that_chat,
    sessions_get_a_unique_uid_and_are_found_by_it,
    where_a_session_took_place_is_recorded_by_uid_and_replaced,
    the_chat_snapshot_is_kept_with_its_step_once,
    search_finds_words_and_respects_curation,
    search_never_fails_on_hostile_queries,
    search_finds_rare_words_older_than_the_newest_messages,
    sync_cursors_are_kept_per_account_and_replaced,
    sync_cursors_are_listed_by_exact_prefix_and_deleted,
    a_command_is_claimed_once_with_its_reply_until_it_is_answered,
    what_a_command_changed_is_recorded_with_the_change,
    the_session_running_in_a_room_at_an_instant_is_found,
    reactions_are_kept_on_archived_messages_and_taken_back,
    media_sources_are_kept_once_per_link,
    unhiding_brings_back_every_copy_hiding_took_away,
    session_numbers_are_consecutive_whatever_was_asked_twice,
    the_point_on_screen_uses_the_platforms_own_time_where_it_has_one,
    local_room_events_are_numbered_without_gaps_and_kept_once_per_key,
    concurrent_local_appends_get_distinct_consecutive_numbers,
    a_local_name_is_held_while_its_holder_is_seen,
    local_accounts_are_found_by_token_hash_and_can_be_blocked,
);

// ---- fixtures ----------------------------------------------------------------------------

fn t(h: u32, m: u32, s: u32, ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, h, m, s).unwrap() + Duration::milliseconds(ms)
}

fn rooms() -> Vec<RoomRef> {
    vec![
        RoomRef::new(Platform::Matrix, "!zeta:example.org"),
        RoomRef::new(Platform::Discord, "123456789012345678"),
        RoomRef::new(Platform::Web, "lobby"),
    ]
}

fn new_session(slug: &str, origin: SessionOrigin, start: DateTime<Utc>) -> NewSession {
    NewSession {
        chat_slug: slug.to_owned(),
        origin,
        state: SessionState::Scheduled,
        scheduled_start: start,
        next_step: 0,
        next_due_at: Some(start - Duration::minutes(30)),
        rooms: rooms(),
        command: None,
    }
}

async fn session(store: &Store, slug: &str) -> SessionId {
    store
        .create_session(&new_session(slug, SessionOrigin::Command, t(18, 0, 0, 0)))
        .await
        .unwrap()
}

fn content(kind: PostKind, text: &str) -> PostContent {
    PostContent {
        kind,
        hashtag: "#interlibnet".to_owned(),
        text: text.to_owned(),
        mentions: vec!["@alice:example.org".to_owned()],
    }
}

fn posts(kind: PostKind, text: &str) -> Vec<NewPost> {
    rooms()
        .into_iter()
        .map(|room| NewPost {
            room,
            content: content(kind, text),
        })
        .collect()
}

fn msg(
    session_id: SessionId,
    platform: Platform,
    id: &str,
    sent_at: DateTime<Utc>,
) -> ArchivedMessage {
    ArchivedMessage {
        session_id,
        point: Some(1),
        message: IncomingMessage {
            platform,
            room: "!zeta:example.org".to_owned(),
            platform_msg_id: id.to_owned(),
            author_id: "@alice:example.org".to_owned(),
            author_name: "Alice".to_owned(),
            avatar_url: Some("mxc://example.org/alice".to_owned()),
            body: format!("A1: answer {id}"),
            formatted_body: Some(format!("<b>A1</b>: answer {id}")),
            sent_at,
            reply_to: None,
            attachments: Vec::new(),
            platform_label: Some("Matrix".to_owned()),
            permalink: Some(format!("https://matrix.to/#/%21zeta%3Aexample.org/{id}")),
        },
    }
}

fn attachment(n: usize) -> Attachment {
    Attachment {
        url: format!("https://cdn.example.org/{n}.png"),
        name: format!("{n}.png"),
        content_type: Some("image/png".to_owned()),
        size_bytes: Some(1000 + n as i64),
    }
}

fn running_update(next_step: u32, point: Option<u32>, due: DateTime<Utc>) -> SessionUpdate {
    SessionUpdate {
        state: SessionState::Running,
        next_step,
        next_due_at: Some(due),
        paused_remaining_ms: None,
        current_point: point,
        started_at: Some(t(18, 0, 0, 0)),
        ended_at: None,
        command: None,
    }
}

// ---- sessions ----------------------------------------------------------------------------

async fn migrations_run_twice_are_harmless(store: Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let id = session(&store, "twice").await;
    assert!(store.get_session(id).await.unwrap().is_some());
}

async fn session_round_trips_every_field(store: Store) {
    let start = t(18, 0, 0, 123);
    let new = new_session("interlibnet", SessionOrigin::Recurrence, start);
    let id = store.create_session(&new).await.unwrap();
    let s = store.get_session(id).await.unwrap().expect("stored");
    assert_eq!(s.id, id);
    assert_eq!(s.chat_slug, "interlibnet");
    assert_eq!(s.state, SessionState::Scheduled);
    assert_eq!(s.origin, SessionOrigin::Recurrence);
    assert_eq!(s.scheduled_start, start);
    assert_eq!(s.next_step, 0);
    assert_eq!(s.next_due_at, Some(start - Duration::minutes(30)));
    assert_eq!(s.rooms, rooms(), "rooms keep their order");
    assert_eq!(
        (
            s.started_at,
            s.ended_at,
            s.paused_remaining_ms,
            s.current_point
        ),
        (None, None, None, None)
    );

    let update = SessionUpdate {
        state: SessionState::Paused,
        next_step: 4,
        next_due_at: None,
        paused_remaining_ms: Some(61_234),
        current_point: Some(3),
        started_at: Some(t(18, 0, 1, 7)),
        ended_at: Some(t(19, 2, 3, 999)),
        command: None,
    };
    assert!(store.update_session(id, &update).await.unwrap());
    let s = store.get_session(id).await.unwrap().unwrap();
    assert_eq!(SessionUpdate::from_session(&s), update);
    assert_eq!(s.rooms, rooms());

    assert_eq!(store.get_session(id + 1000).await.unwrap(), None);
    assert!(!store.update_session(id + 1000, &update).await.unwrap());
}

async fn recurrence_sessions_are_created_once(store: Store) {
    let start = t(18, 0, 0, 0);
    let first = store
        .create_session(&new_session("a", SessionOrigin::Recurrence, start))
        .await
        .unwrap();
    // Even if the stored one moved on, the same occurrence is the same session.
    let mut u = SessionUpdate::from_session(&store.get_session(first).await.unwrap().unwrap());
    u.state = SessionState::Announced;
    store.update_session(first, &u).await.unwrap();
    let again = store
        .create_session(&new_session("a", SessionOrigin::Recurrence, start))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(
        store.get_session(first).await.unwrap().unwrap().state,
        SessionState::Announced
    );
    assert_eq!(
        store.get_session(first).await.unwrap().unwrap().rooms,
        rooms()
    );

    let other_time = store
        .create_session(&new_session(
            "a",
            SessionOrigin::Recurrence,
            start + Duration::days(7),
        ))
        .await
        .unwrap();
    let other_chat = store
        .create_session(&new_session("b", SessionOrigin::Recurrence, start))
        .await
        .unwrap();
    let by_command_1 = store
        .create_session(&new_session("a", SessionOrigin::Command, start))
        .await
        .unwrap();
    let by_command_2 = store
        .create_session(&new_session("a", SessionOrigin::Command, start))
        .await
        .unwrap();
    let ids: HashSet<_> = [first, other_time, other_chat, by_command_1, by_command_2].into();
    assert_eq!(ids.len(), 5);
    assert_eq!(store.active_sessions().await.unwrap().len(), 5);
}

async fn active_and_upcoming_sessions_are_selected_and_ordered(store: Store) {
    let mut ids = Vec::new();
    // Created in an order different from their start times.
    for (i, (state, hour)) in [
        (SessionState::Running, 10),
        (SessionState::Scheduled, 20),
        (SessionState::Ended, 9),
        (SessionState::Announced, 15),
        (SessionState::Paused, 11),
        (SessionState::Cancelled, 12),
        (SessionState::Missed, 8),
        (SessionState::Scheduled, 14),
    ]
    .into_iter()
    .enumerate()
    {
        let mut new = new_session(&format!("c{i}"), SessionOrigin::Command, t(hour, 0, 0, 0));
        new.state = state;
        ids.push(store.create_session(&new).await.unwrap());
    }
    let active: Vec<_> = store
        .active_sessions()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(active, vec![ids[0], ids[1], ids[3], ids[4], ids[7]]);
    let upcoming: Vec<_> = store
        .upcoming_sessions(10)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(upcoming, vec![ids[7], ids[3], ids[1]]);
    let first_two = store.upcoming_sessions(2).await.unwrap();
    assert_eq!(first_two.len(), 2);
    assert_eq!(first_two[0].rooms, rooms());
}

// ---- steps and the outbox ----------------------------------------------------------------

async fn emit_step_enqueues_and_advances_together(store: Store) {
    let id = session(&store, "emit").await;
    let now = t(18, 0, 0, 5);
    // The reminder (step 0) is done.
    store
        .update_session(id, &running_update(1, None, now))
        .await
        .unwrap();
    let update = running_update(2, None, now + Duration::minutes(5));
    let emitted = store
        .emit_step(
            id,
            1,
            &update,
            Some(None),
            &posts(PostKind::Intro, "Welcome"),
            now,
        )
        .await
        .unwrap();
    assert!(emitted);
    let s = store.get_session(id).await.unwrap().unwrap();
    assert_eq!(SessionUpdate::from_session(&s), update);

    let posted = store.posts_for_session(id).await.unwrap();
    assert_eq!(posted.len(), 3);
    for (post, room) in posted.iter().zip(rooms()) {
        assert_eq!(post.session_id, id);
        assert_eq!(post.step, 1);
        assert_eq!(post.room, room, "posts keep the order they were given");
        assert_eq!(post.status, PostStatus::Pending);
        assert_eq!(post.attempts, 0);
        assert_eq!(post.content, content(PostKind::Intro, "Welcome"));
        assert_eq!(post.created_at, now);
        assert_eq!((post.platform_msg_id.clone(), post.posted_at), (None, None));
    }
    assert_eq!(store.pending_posts().await.unwrap(), posted);
    assert_eq!(store.timeline(id).await.unwrap(), vec![(1, None, now)]);

    // A step without a timeline entry and without posts still advances.
    let update3 = running_update(3, Some(1), now + Duration::minutes(10));
    assert!(store
        .emit_step(id, 2, &update3, None, &[], now)
        .await
        .unwrap());
    assert_eq!(store.get_session(id).await.unwrap().unwrap().next_step, 3);
    assert_eq!(store.timeline(id).await.unwrap().len(), 1);
}

async fn emit_step_guard_refuses_a_repeat_or_stale_step(store: Store) {
    let id = session(&store, "guard").await;
    let now = t(18, 10, 0, 0);
    let update = running_update(3, Some(1), now + Duration::minutes(5));
    let q1 = posts(PostKind::Point { number: 1 }, "Q1");
    assert!(store
        .emit_step(id, 2, &running_update(2, None, now), None, &[], now)
        .await
        .is_ok());
    // next_step is 0: emitting 2 was refused above.
    assert_eq!(store.get_session(id).await.unwrap().unwrap().next_step, 0);

    store
        .update_session(id, &running_update(2, None, now))
        .await
        .unwrap();
    assert!(store
        .emit_step(id, 2, &update, Some(Some(1)), &q1, now)
        .await
        .unwrap());
    let before = store.posts_for_session(id).await.unwrap();

    // The same step again (a retry after an unknown outcome, or a second instance): refused.
    let other = running_update(9, Some(7), now + Duration::hours(1));
    let later = now + Duration::seconds(30);
    let q_other = posts(PostKind::Point { number: 7 }, "something else");
    assert!(!store
        .emit_step(id, 2, &other, Some(Some(7)), &q_other, later)
        .await
        .unwrap());
    assert_eq!(store.posts_for_session(id).await.unwrap(), before);
    assert_eq!(store.timeline(id).await.unwrap(), vec![(2, Some(1), now)]);
    assert_eq!(
        SessionUpdate::from_session(&store.get_session(id).await.unwrap().unwrap()),
        update
    );
    // A step from the future, and a session that does not exist: refused too.
    assert!(!store
        .emit_step(id, 5, &other, None, &q_other, later)
        .await
        .unwrap());
    assert!(!store
        .emit_step(id + 999, 3, &other, None, &q_other, later)
        .await
        .unwrap());
    assert_eq!(store.posts_for_session(id).await.unwrap(), before);
}

async fn a_batch_of_steps_commits_together_and_skips_refused_ones(store: Store) {
    let now = t(18, 10, 0, 0);
    let ids = [
        session(&store, "batch-a").await,
        session(&store, "batch-b").await,
        session(&store, "batch-c").await,
    ];
    // b has already moved on to step 2: its emission of step 0 is refused.
    store
        .update_session(ids[1], &running_update(2, None, now))
        .await
        .unwrap();
    let emissions: Vec<StepEmission> = ids
        .iter()
        .map(|&id| StepEmission {
            session_id: id,
            expected_next_step: 0,
            update: running_update(1, None, now + Duration::minutes(2)),
            timeline_point: Some(None),
            posts: posts(PostKind::Intro, "hello"),
            snapshot: Some(snapshot("first")),
        })
        .collect();
    let applied = store.emit_steps(&emissions, now).await.unwrap();
    assert_eq!(applied, vec![true, false, true]);
    for (id, expect_posts) in [(ids[0], true), (ids[1], false), (ids[2], true)] {
        let stored = store.posts_for_session(id).await.unwrap();
        assert_eq!(!stored.is_empty(), expect_posts, "session {id}");
        let next = store.get_session(id).await.unwrap().unwrap().next_step;
        assert_eq!(next, if expect_posts { 1 } else { 2 });
    }
    assert!(store.emit_steps(&[], now).await.unwrap().is_empty());
    // A refused step keeps no snapshot; the others keep theirs.
    assert!(store.session_snapshot(ids[1]).await.unwrap().is_none());
    assert_eq!(
        store.session_snapshot(ids[0]).await.unwrap(),
        Some(snapshot("first"))
    );
}

fn snapshot(title: &str) -> ChatSnapshot {
    ChatSnapshot {
        slug: "snap".into(),
        title: title.into(),
        hashtag: "#snap".into(),
        description: "d".into(),
        time_zone: "Europe/London".into(),
        intro: "hi".into(),
        wrap_up: "bye".into(),
        points: vec!["Q one?".into(), "Q two, \"quoted\" ☃".into()],
    }
}

async fn sessions_get_a_unique_uid_and_are_found_by_it(store: Store) {
    let a = session(&store, "uid-a").await;
    let b = session(&store, "uid-b").await;
    let a = store.get_session(a).await.unwrap().unwrap();
    let b = store.get_session(b).await.unwrap().unwrap();
    assert_eq!(a.uid.len(), 32, "{}", a.uid);
    assert!(a
        .uid
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_ne!(a.uid, b.uid);
    assert_eq!(store.find_session_by_uid(&b.uid).await.unwrap(), Some(b));
    assert_eq!(store.find_session_by_uid("nope").await.unwrap(), None);
}

async fn where_a_session_took_place_is_recorded_by_uid_and_replaced(store: Store) {
    let id = session(&store, "linked").await;
    let uid = store.get_session(id).await.unwrap().unwrap().uid;
    assert_eq!(store.session_link(id).await.unwrap(), None);
    let link = |url: &str| bot_core::model::SessionLink {
        label: "Discord thread".into(),
        url: url.into(),
    };
    assert!(store
        .set_session_link(&uid, &link("https://discord.com/channels/1/2"))
        .await
        .unwrap());
    assert!(store
        .set_session_link(&uid, &link("https://discord.com/channels/1/3"))
        .await
        .unwrap());
    assert_eq!(
        store.session_link(id).await.unwrap(),
        Some(link("https://discord.com/channels/1/3"))
    );
    assert!(!store
        .set_session_link("no-such-uid", &link("https://x.example"))
        .await
        .unwrap());
}

async fn the_chat_snapshot_is_kept_with_its_step_once(store: Store) {
    let id = session(&store, "snap").await;
    let now = t(18, 0, 0, 0);
    let emission = |expected: u32, title: &str| StepEmission {
        session_id: id,
        expected_next_step: expected,
        update: running_update(expected + 1, None, now),
        timeline_point: Some(None),
        posts: posts(PostKind::Intro, "hello"),
        snapshot: Some(snapshot(title)),
    };
    assert!(store.session_snapshot(id).await.unwrap().is_none());
    // A refused step writes no snapshot.
    assert_eq!(
        store
            .emit_steps(&[emission(5, "stale")], now)
            .await
            .unwrap(),
        vec![false]
    );
    assert!(store.session_snapshot(id).await.unwrap().is_none());
    assert_eq!(
        store
            .emit_steps(&[emission(0, "first")], now)
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        store
            .emit_steps(&[emission(1, "second")], now)
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        store.session_snapshot(id).await.unwrap(),
        Some(snapshot("first")),
        "the first snapshot stays"
    );
}

async fn emit_step_is_all_or_nothing(store: Store) {
    let id = session(&store, "atomic").await;
    let now = t(18, 0, 0, 0);
    // Make the outbox insert fail after the session UPDATE succeeded.
    sqlx::query("ALTER TABLE outbox RENAME TO outbox_away")
        .execute(store.raw_pool())
        .await
        .unwrap();
    let result = store
        .emit_step(
            id,
            0,
            &running_update(1, None, now),
            Some(None),
            &posts(PostKind::Reminder, "soon"),
            now,
        )
        .await;
    sqlx::query("ALTER TABLE outbox_away RENAME TO outbox")
        .execute(store.raw_pool())
        .await
        .unwrap();
    assert!(
        matches!(result, Err(StoreError::Database { .. })),
        "{result:?}"
    );
    let s = store.get_session(id).await.unwrap().unwrap();
    assert_eq!(s.next_step, 0, "the session did not advance");
    assert_eq!(s.state, SessionState::Scheduled);
    assert!(store.timeline(id).await.unwrap().is_empty());
    // And the step can still be emitted.
    assert!(store
        .emit_step(
            id,
            0,
            &running_update(1, None, now),
            Some(None),
            &posts(PostKind::Reminder, "soon"),
            now
        )
        .await
        .unwrap());
    assert_eq!(store.posts_for_session(id).await.unwrap().len(), 3);
}

async fn racing_emitters_emit_a_step_once(store: Store) {
    let id = session(&store, "race").await;
    let now = t(18, 0, 0, 0);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let text = format!("reminder from emitter {i}");
            store
                .emit_step(
                    id,
                    0,
                    &running_update(1, None, now),
                    Some(None),
                    &posts(PostKind::Reminder, &text),
                    now,
                )
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    let posted = store.posts_for_session(id).await.unwrap();
    assert_eq!(posted.len(), 3);
    assert!(posted
        .iter()
        .all(|p| p.content.text == posted[0].content.text));
}

async fn outbox_moves_from_pending_to_posted_and_counts_failures(store: Store) {
    let a = session(&store, "a").await;
    let b = session(&store, "b").await;
    let now = t(18, 0, 0, 0);
    store
        .emit_step(
            b,
            0,
            &running_update(1, None, now),
            None,
            &posts(PostKind::Reminder, "b"),
            now,
        )
        .await
        .unwrap();
    store
        .emit_step(
            a,
            0,
            &running_update(1, None, now),
            None,
            &posts(PostKind::Reminder, "a0"),
            now,
        )
        .await
        .unwrap();
    store
        .emit_step(
            a,
            1,
            &running_update(2, None, now),
            None,
            &posts(PostKind::Intro, "a1"),
            now,
        )
        .await
        .unwrap();
    let pending = store.pending_posts().await.unwrap();
    let keys: Vec<_> = pending
        .iter()
        .map(|p| (p.session_id, p.step, p.room.clone()))
        .collect();
    let mut expected = Vec::new();
    for (sid, step) in [(a, 0), (a, 1), (b, 0)] {
        for room in rooms() {
            expected.push((sid, step, room));
        }
    }
    assert_eq!(keys, expected);

    let [matrix, discord, web] = <[RoomRef; 3]>::try_from(rooms()).unwrap();
    let at = now + Duration::milliseconds(1500);
    assert!(store
        .mark_posted(a, 0, &matrix, "$event1", at, None)
        .await
        .unwrap());
    assert!(store
        .mark_attempt_failed(a, 0, &discord, "429 rate limited", false)
        .await
        .unwrap());
    assert!(store
        .mark_attempt_failed(a, 0, &discord, "502 bad gateway", false)
        .await
        .unwrap());
    assert!(store
        .mark_attempt_failed(a, 0, &web, "gone", true)
        .await
        .unwrap());
    // Unknown posts, and failures reported for a post already made, change nothing.
    assert!(!store
        .mark_posted(a, 7, &matrix, "$x", at, None)
        .await
        .unwrap());
    assert!(!store
        .mark_attempt_failed(a, 0, &matrix, "late report", true)
        .await
        .unwrap());

    let posts_a = store.posts_for_session(a).await.unwrap();
    let p = |room: &RoomRef| {
        posts_a
            .iter()
            .find(|p| p.step == 0 && &p.room == room)
            .unwrap()
            .clone()
    };
    let m = p(&matrix);
    assert_eq!(
        (
            m.status,
            m.platform_msg_id.as_deref(),
            m.posted_at,
            m.attempts
        ),
        (PostStatus::Posted, Some("$event1"), Some(at), 0)
    );
    let d = p(&discord);
    assert_eq!((d.status, d.attempts), (PostStatus::Pending, 2));
    let w = p(&web);
    assert_eq!((w.status, w.attempts), (PostStatus::Failed, 1));

    let pending = store.pending_posts().await.unwrap();
    assert_eq!(pending.len(), 9 - 2);
    assert!(pending.iter().all(|p| p.status == PostStatus::Pending));
    assert!(pending
        .iter()
        .any(|p| p.session_id == a && p.step == 0 && p.room == discord));
}

async fn posts_are_found_by_platform_id(store: Store) {
    let id = session(&store, "find").await;
    let now = t(18, 0, 0, 0);
    store
        .update_session(id, &running_update(2, None, now))
        .await
        .unwrap();
    assert!(store
        .emit_step(
            id,
            2,
            &running_update(3, Some(1), now),
            Some(Some(1)),
            &posts(PostKind::Point { number: 1 }, "Q1"),
            now
        )
        .await
        .unwrap());
    let discord = RoomRef::new(Platform::Discord, "123456789012345678");
    store
        .mark_posted(id, 2, &discord, "1111", now, None)
        .await
        .unwrap();
    let found = store
        .find_post_by_platform_id(Platform::Discord, "1111")
        .await
        .unwrap()
        .expect("found");
    assert_eq!((found.session_id, found.step, found.room), (id, 2, discord));
    assert_eq!(found.content.kind, PostKind::Point { number: 1 });
    // The id is per platform.
    assert_eq!(
        store
            .find_post_by_platform_id(Platform::Matrix, "1111")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_post_by_platform_id(Platform::Discord, "2222")
            .await
            .unwrap(),
        None
    );
}

async fn point_at_follows_the_timeline(store: Store) {
    let id = session(&store, "timeline").await;
    let steps = [
        (0, None, t(17, 30, 0, 0)),
        (1, None, t(18, 0, 0, 0)),
        (2, Some(1), t(18, 5, 0, 0)),
        (3, Some(2), t(18, 15, 0, 250)),
        (4, None, t(18, 25, 0, 0)),
    ];
    for (step, point, at) in steps {
        let mut u = running_update(step + 1, point, at);
        u.current_point = point;
        assert!(store
            .emit_step(id, step, &u, Some(point), &[], at)
            .await
            .unwrap());
    }
    assert_eq!(store.point_at(id, t(17, 0, 0, 0)).await.unwrap(), None);
    assert_eq!(
        store.point_at(id, t(18, 4, 59, 999)).await.unwrap(),
        None,
        "before Q1"
    );
    assert_eq!(
        store.point_at(id, t(18, 5, 0, 0)).await.unwrap(),
        Some(1),
        "at Q1 exactly"
    );
    assert_eq!(
        store.point_at(id, t(18, 15, 0, 249)).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.point_at(id, t(18, 15, 0, 250)).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        store.point_at(id, t(20, 0, 0, 0)).await.unwrap(),
        Some(2),
        "after the wrap-up"
    );
    assert_eq!(store.point_at(id + 1, t(20, 0, 0, 0)).await.unwrap(), None);
    let timeline = store.timeline(id).await.unwrap();
    assert_eq!(timeline, steps.to_vec());
}

// ---- the archive -------------------------------------------------------------------------

async fn ingest_is_idempotent_across_and_within_batches(store: Store) {
    let id = session(&store, "ingest").await;
    let mut first: Vec<_> = (0..10)
        .map(|i| msg(id, Platform::Matrix, &format!("$e{i}"), t(18, 1, i, 0)))
        .collect();
    first[3].message.attachments = vec![attachment(1), attachment(2)];
    // The same platform id on another platform is another message.
    first.push(msg(id, Platform::Discord, "$e0", t(18, 1, 0, 500)));
    // A duplicate inside the batch is stored once.
    first.push(first[0].clone());
    assert_eq!(store.append_messages(&first).await.unwrap(), 11);

    // Overlapping batch: 5 old ids (one with a different body, which must not overwrite)…
    let mut second: Vec<_> = (5..15)
        .map(|i| msg(id, Platform::Matrix, &format!("$e{i}"), t(18, 1, i, 0)))
        .collect();
    second[0].message.body = "replayed with other text".to_owned();
    second[0].message.attachments = vec![attachment(9)];
    assert_eq!(store.append_messages(&second).await.unwrap(), 5);
    assert_eq!(store.append_messages(&second).await.unwrap(), 0);
    assert_eq!(store.append_messages(&[]).await.unwrap(), 0);
    assert_eq!(store.message_count(id).await.unwrap(), 16);

    let e5 = store
        .find_message(Platform::Matrix, "$e5")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e5.message.body, "A1: answer $e5");
    assert!(e5.message.attachments.is_empty());
    let e3 = store
        .find_message(Platform::Matrix, "$e3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e3.message, first[3].message, "every field round-trips");
    assert_eq!(
        (e3.session_id, e3.point, e3.deleted_at),
        (id, Some(1), None)
    );
    assert!(e3.edits.is_empty());
    assert_eq!(
        store.find_message(Platform::Web, "$e3").await.unwrap(),
        None
    );

    let all = store.session_messages(id).await.unwrap();
    assert_eq!(all.len(), 16);
    let order: Vec<_> = all
        .iter()
        .map(|m| (m.message.sent_at, m.message.platform_msg_id.clone()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "ordered by sent_at");
}

async fn a_big_batch_crosses_chunk_boundaries(store: Store) {
    let id = session(&store, "big").await;
    let other = session(&store, "other").await;
    let base = t(18, 0, 0, 0);
    let batch: Vec<_> = (0..5_000)
        .map(|i| {
            let mut m = msg(
                if i % 10 == 9 { other } else { id },
                if i % 2 == 0 {
                    Platform::Discord
                } else {
                    Platform::Matrix
                },
                &format!("{}", 10_000_000 + i),
                base + Duration::milliseconds(i as i64 * 37),
            );
            m.point = if i % 7 == 0 {
                None
            } else {
                Some((i % 5) as u32 + 1)
            };
            m.message.reply_to = (i % 3 == 0).then(|| format!("{}", 10_000_000 + i / 2));
            m.message.avatar_url = (i % 4 != 0).then(|| format!("https://a.example/{i}"));
            m.message.attachments = (0..i % 3).map(|k| attachment(i * 10 + k)).collect();
            m
        })
        .collect();
    assert_eq!(store.append_messages(&batch).await.unwrap(), 5_000);
    assert_eq!(store.append_messages(&batch).await.unwrap(), 0);
    assert_eq!(store.message_count(id).await.unwrap(), 4_500);
    assert_eq!(store.message_count(other).await.unwrap(), 500);

    let stored = store.session_messages(id).await.unwrap();
    assert_eq!(stored.len(), 4_500);
    let expected: Vec<_> = batch.iter().filter(|m| m.session_id == id).collect();
    for (s, e) in stored.iter().zip(&expected) {
        assert_eq!(s.message, e.message);
        assert_eq!(s.point, e.point);
    }
    let attachments: usize = stored.iter().map(|m| m.message.attachments.len()).sum();
    assert_eq!(
        attachments,
        expected
            .iter()
            .map(|m| m.message.attachments.len())
            .sum::<usize>()
    );
}

async fn edits_keep_history_in_order(store: Store) {
    let id = session(&store, "edits").await;
    let sent = t(18, 2, 0, 0);
    store
        .append_messages(&[msg(id, Platform::Matrix, "$m", sent)])
        .await
        .unwrap();
    let original = store
        .find_message(Platform::Matrix, "$m")
        .await
        .unwrap()
        .unwrap();

    let e1 = t(18, 3, 0, 1);
    let e2 = t(18, 4, 0, 2);
    assert!(store
        .record_edit(Platform::Matrix, "$m", None, "second", None, e1)
        .await
        .unwrap());
    assert!(store
        .record_edit(
            Platform::Matrix,
            "$m",
            None,
            "third",
            Some("<i>third</i>"),
            e2
        )
        .await
        .unwrap());
    // Replayed, identical, and out-of-order edits change nothing.
    assert!(store
        .record_edit(
            Platform::Matrix,
            "$m",
            None,
            "third",
            Some("<i>third</i>"),
            e2
        )
        .await
        .unwrap());
    assert!(store
        .record_edit(
            Platform::Matrix,
            "$m",
            None,
            "third",
            Some("<i>third</i>"),
            e2 + Duration::seconds(5)
        )
        .await
        .unwrap());
    assert!(store
        .record_edit(Platform::Matrix, "$m", None, "second", None, e1)
        .await
        .unwrap());
    assert!(
        !store
            .record_edit(
                Platform::Matrix,
                "$m",
                Some("@mallory:x"),
                "forged",
                None,
                e2
            )
            .await
            .unwrap(),
        "an edit by someone other than the author is refused"
    );
    assert!(!store
        .record_edit(Platform::Matrix, "$nope", None, "x", None, e1)
        .await
        .unwrap());
    assert!(!store
        .record_edit(Platform::Discord, "$m", None, "x", None, e1)
        .await
        .unwrap());

    let m = store
        .find_message(Platform::Matrix, "$m")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.message.body, "third");
    assert_eq!(m.message.formatted_body.as_deref(), Some("<i>third</i>"));
    assert_eq!(m.message.sent_at, sent);
    let history: Vec<_> = m
        .edits
        .iter()
        .map(|e| (e.body.as_str(), e.formatted_body.as_deref(), e.edited_at))
        .collect();
    assert_eq!(
        history,
        vec![
            (
                original.message.body.as_str(),
                original.message.formatted_body.as_deref(),
                e1
            ),
            ("second", None, e2),
        ]
    );
    assert_eq!(store.session_messages(id).await.unwrap(), vec![m]);
}

async fn deletions_are_kept_and_not_counted(store: Store) {
    let id = session(&store, "deletions").await;
    let batch: Vec<_> = (0..3)
        .map(|i| msg(id, Platform::Discord, &format!("{i}"), t(18, 0, i, 0)))
        .collect();
    store.append_messages(&batch).await.unwrap();
    let at = t(18, 30, 0, 42);
    assert!(store
        .record_deletion(Platform::Discord, "1", at)
        .await
        .unwrap());
    assert!(store
        .record_deletion(Platform::Discord, "1", at + Duration::hours(1))
        .await
        .unwrap());
    assert!(!store
        .record_deletion(Platform::Discord, "99", at)
        .await
        .unwrap());
    assert_eq!(store.message_count(id).await.unwrap(), 2);
    let all = store.session_messages(id).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].deleted_at, Some(at), "first deletion time kept");
    assert_eq!(all[1].message.body, batch[1].message.body, "text kept");
    assert_eq!((all[0].deleted_at, all[2].deleted_at), (None, None));
    // A re-delivered deleted message stays deleted and is not stored again.
    assert_eq!(store.append_messages(&batch[1..2]).await.unwrap(), 0);
    assert_eq!(store.message_count(id).await.unwrap(), 2);
}

// ---- rsvps and listings ------------------------------------------------------------------

async fn rsvps_are_added_once_and_listed_in_order(store: Store) {
    let alice = UserRef::new(Platform::Matrix, "@alice:example.org");
    let bob = UserRef::new(Platform::Discord, "80351110224678912");
    let carol = UserRef::new(Platform::Web, "carol");
    assert!(store.add_rsvp("chat", &alice).await.unwrap());
    assert!(store.add_rsvp("chat", &bob).await.unwrap());
    assert!(!store.add_rsvp("chat", &alice).await.unwrap());
    assert!(store.add_rsvp("chat", &carol).await.unwrap());
    assert!(store.add_rsvp("other", &carol).await.unwrap());
    assert_eq!(
        store.rsvps("chat").await.unwrap(),
        vec![alice.clone(), bob.clone(), carol.clone()]
    );
    assert!(store.remove_rsvp("chat", &bob).await.unwrap());
    assert!(!store.remove_rsvp("chat", &bob).await.unwrap());
    assert_eq!(
        store.rsvps("chat").await.unwrap(),
        vec![alice, carol.clone()]
    );
    assert_eq!(store.rsvps("other").await.unwrap(), vec![carol]);
    assert!(store.rsvps("nobody").await.unwrap().is_empty());
}

async fn instances_beat_stop_and_are_forgotten_a_week_after_they_went(store: Store) {
    use bot_core::store::NewInstance;
    let new = |id: &str| NewInstance {
        id: id.into(),
        host: "h".into(),
        pid: 7,
        version: "0.1.0".into(),
    };
    store.register_instance(&new("a")).await.unwrap();
    store
        .instance_heartbeat("a", "[{\"platform\":\"matrix\"}]")
        .await
        .unwrap();
    let listed = store.instances().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].platforms_json, "[{\"platform\":\"matrix\"}]");
    assert!((0..5_000).contains(&listed[0].silent_ms), "{listed:?}");
    assert!(listed[0].stopped_at.is_none());
    store.instance_stopped("a").await.unwrap();
    assert!(store.instances().await.unwrap()[0].stopped_at.is_some());

    // One killed eight days ago (never stopped) and one stopped as long ago are forgotten
    // when the next instance registers; the one stopped just now is kept.
    let old = chrono::Utc::now().timestamp_millis() - 8 * 24 * 3600 * 1000;
    for (id, stopped) in [("killed", None), ("stopped", Some(old))] {
        sqlx::query(
            "INSERT INTO instances (id, host, pid, version, started_at, heartbeat_at, stopped_at) \
             VALUES ($1, 'h', 1, 'v', $2, $2, $3)",
        )
        .bind(id)
        .bind(old)
        .bind(stopped)
        .execute(store.raw_pool())
        .await
        .unwrap();
    }
    assert_eq!(store.instances().await.unwrap().len(), 3);
    store.register_instance(&new("b")).await.unwrap();
    let mut ids: Vec<String> = store
        .instances()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
}

async fn concurrent_lease_claims_never_give_one_session_to_two_instances(store: Store) {
    let mut sessions = Vec::new();
    for _ in 0..20 {
        sessions.push(session(&store, "a").await);
    }
    for round in 0..2 {
        let claims: Vec<_> = (0..6)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .claim_session_leases(&format!("i{i}"), 60_000)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut won = Vec::new();
        for c in claims {
            won.extend(c.await.unwrap().into_iter().map(|l| l.session_id));
        }
        won.sort();
        // Round 0 races for sessions nobody holds; round 1 for leases that all expired.
        assert_eq!(
            won, sessions,
            "round {round}: each session to exactly one instance"
        );
        for i in 0..6 {
            store
                .renew_session_leases(&format!("i{i}"), -1)
                .await
                .unwrap();
        }
    }
}

async fn session_leases_are_held_once_renewed_and_taken_over_with_the_next_fence(store: Store) {
    use bot_core::store::Lease;
    let due = session(&store, "a").await;
    let running = session(&store, "b").await;
    store
        .update_session(running, &running_update(1, Some(1), t(19, 0, 0, 0)))
        .await
        .unwrap();
    let ended = session(&store, "c").await;
    let mut end = running_update(4, Some(2), t(19, 0, 0, 0));
    end.state = SessionState::Ended;
    store.update_session(ended, &end).await.unwrap();
    let ids = |l: &[Lease]| l.iter().map(|l| l.session_id).collect::<Vec<_>>();

    let first = store.claim_session_leases("one", 60_000).await.unwrap();
    assert_eq!(
        ids(&first),
        [due, running],
        "the unfinished sessions, not the ended one"
    );
    assert!(first.iter().all(|l| l.fence == 1));
    assert!(
        store
            .claim_session_leases("two", 60_000)
            .await
            .unwrap()
            .is_empty(),
        "held: nobody else gets them"
    );
    assert_eq!(
        store.renew_session_leases("one", 60_000).await.unwrap(),
        first
    );
    assert!(store.lease_holds("one", first[0]).await.unwrap());
    assert!(!store.lease_holds("two", first[0]).await.unwrap());

    // Expired (a holder that stopped renewing): the next claim takes it, with the next fence,
    // and the old holder's fence no longer holds anywhere.
    store.renew_session_leases("one", -1).await.unwrap();
    assert!(!store.lease_holds("one", first[0]).await.unwrap());
    let second = store.claim_session_leases("two", 60_000).await.unwrap();
    assert_eq!(ids(&second), [due, running]);
    assert!(second.iter().all(|l| l.fence == 2), "{second:?}");
    assert!(
        store
            .renew_session_leases("one", 60_000)
            .await
            .unwrap()
            .is_empty(),
        "lost"
    );
    assert!(!store.lease_holds("one", first[0]).await.unwrap());
    assert!(store.lease_holds("two", second[1]).await.unwrap());

    // A clean stop lets go at once.
    assert_eq!(store.release_session_leases("two").await.unwrap(), 2);
    let third = store.claim_session_leases("one", 60_000).await.unwrap();
    assert_eq!(ids(&third), [due, running]);
    assert!(
        third.iter().all(|l| l.fence == 3),
        "fences only grow, so no earlier holder's write is taken for this one's: {third:?}"
    );
    assert!(!store.lease_holds("one", first[0]).await.unwrap());
    // A session that ends keeps its row but is never claimed again once expired.
    store.update_session(due, &end).await.unwrap();
    store.renew_session_leases("one", -1).await.unwrap();
    assert_eq!(
        ids(&store.claim_session_leases("two", 60_000).await.unwrap()),
        [running]
    );
}

async fn archive_pages_are_filtered_counted_and_paged_by_the_database(store: Store) {
    use bot_core::store::ArchiveWindow;
    // Five started sessions of "a" an hour apart, two of "b", one of "a" never started.
    let mut a = Vec::new();
    for h in 0..5 {
        let id = session(&store, "a").await;
        let mut started = running_update(1, Some(1), t(23, 0, 0, 0));
        started.started_at = Some(t(10 + h, 0, 0, 0));
        store.update_session(id, &started).await.unwrap();
        a.push(id);
    }
    let mut b = Vec::new();
    for h in [11, 13] {
        let id = session(&store, "b").await;
        let mut started = running_update(1, None, t(23, 0, 0, 0));
        started.started_at = Some(t(h, 30, 0, 0));
        store.update_session(id, &started).await.unwrap();
        b.push(id);
    }
    session(&store, "a").await;
    let batch: Vec<_> = (0..3)
        .map(|i| msg(a[4], Platform::Matrix, &format!("$a{i}"), t(14, 1, i, 0)))
        .collect();
    store.append_messages(&batch).await.unwrap();
    store
        .record_deletion(Platform::Matrix, "$a0", t(15, 0, 0, 0))
        .await
        .unwrap();

    let window = |slugs: &[&str], from, until| ArchiveWindow {
        chat_slugs: slugs.iter().map(|s| (*s).to_owned()).collect(),
        from,
        until,
    };
    let ids = |page: &bot_core::store::ArchivePage| {
        page.sessions
            .iter()
            .map(|s| s.session.id)
            .collect::<Vec<_>>()
    };
    let all = store
        .archive_page(&[window(&["a", "b"], None, None)], 0, 3)
        .await
        .unwrap();
    assert_eq!(all.total, 7, "the never-started session is not archived");
    assert_eq!(ids(&all), [a[4], b[1], a[3]], "newest start first");
    assert_eq!(
        all.sessions[0].message_count, 2,
        "deleted messages not counted"
    );
    assert_eq!(all.sessions[0].session.rooms, rooms(), "with its rooms");
    let next = store
        .archive_page(&[window(&["a", "b"], None, None)], 3, 3)
        .await
        .unwrap();
    assert_eq!(ids(&next), [a[2], b[0], a[1]]);
    let last = store
        .archive_page(&[window(&["a", "b"], None, None)], 6, 3)
        .await
        .unwrap();
    assert_eq!((ids(&last), last.total), (vec![a[0]], 7));
    let beyond = store
        .archive_page(&[window(&["a", "b"], None, None)], 60, 3)
        .await
        .unwrap();
    assert!(beyond.sessions.is_empty());
    assert_eq!(beyond.total, 7);

    // Windows: from is inclusive, until exclusive, each window its own chats.
    let page = store
        .archive_page(
            &[
                window(&["a"], Some(t(11, 0, 0, 0)), Some(t(13, 0, 0, 0))),
                window(&["b"], Some(t(12, 0, 0, 0)), None),
            ],
            0,
            50,
        )
        .await
        .unwrap();
    assert_eq!(ids(&page), [b[1], a[2], a[1]]);
    assert_eq!(page.total, 3);
    let none = store.archive_page(&[], 0, 50).await.unwrap();
    assert_eq!((none.total, none.sessions.len()), (0, 0));
    let unknown = store
        .archive_page(&[window(&["zzz"], None, None)], 0, 50)
        .await
        .unwrap();
    assert_eq!(unknown.total, 0);
}

async fn list_sessions_counts_messages_newest_first(store: Store) {
    let older = store
        .create_session(&new_session("x", SessionOrigin::Recurrence, t(10, 0, 0, 0)))
        .await
        .unwrap();
    let newer = store
        .create_session(&new_session("x", SessionOrigin::Recurrence, t(12, 0, 0, 0)))
        .await
        .unwrap();
    let empty = store
        .create_session(&new_session("y", SessionOrigin::Command, t(11, 0, 0, 0)))
        .await
        .unwrap();
    let mut batch: Vec<_> = (0..4)
        .map(|i| msg(older, Platform::Matrix, &format!("$o{i}"), t(10, 1, i, 0)))
        .collect();
    batch.extend((0..2).map(|i| msg(newer, Platform::Matrix, &format!("$n{i}"), t(12, 1, i, 0))));
    store.append_messages(&batch).await.unwrap();
    store
        .record_deletion(Platform::Matrix, "$o0", t(13, 0, 0, 0))
        .await
        .unwrap();

    let list = store.list_sessions().await.unwrap();
    let summary: Vec<_> = list
        .iter()
        .map(|s| (s.session.id, s.message_count))
        .collect();
    assert_eq!(summary, vec![(newer, 2), (empty, 0), (older, 3)]);
    assert!(list.iter().all(|s| s.session.rooms == rooms()));
}

// ---- bad data ----------------------------------------------------------------------------

async fn corrupt_rows_are_reported_not_panicked_on(store: Store) {
    let id = session(&store, "corrupt").await;
    let pool = store.raw_pool();

    sqlx::query("UPDATE sessions SET state = 'exploded' WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    let err = store.get_session(id).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("exploded")),
        "{err}"
    );
    assert!(
        matches!(store.active_sessions().await, Ok(v) if v.is_empty()),
        "a finished-looking state is not active"
    );
    assert!(matches!(
        store.list_sessions().await,
        Err(StoreError::Corrupt(_))
    ));
    sqlx::query("UPDATE sessions SET state = 'running', next_step = -4 WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    assert!(
        matches!(store.get_session(id).await, Err(StoreError::Corrupt(m)) if m.contains("next_step"))
    );
    sqlx::query("UPDATE sessions SET next_step = 0 WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();

    sqlx::query(
        "UPDATE session_rooms SET room = 'irc:#chat' WHERE session_id = $1 AND position = 1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    assert!(
        matches!(store.get_session(id).await, Err(StoreError::Corrupt(m)) if m.contains("irc"))
    );
    assert!(matches!(
        store.active_sessions().await,
        Err(StoreError::Corrupt(_))
    ));
    sqlx::query(
        "UPDATE session_rooms SET room = 'no colon' WHERE session_id = $1 AND position = 1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    assert!(matches!(
        store.get_session(id).await,
        Err(StoreError::Corrupt(_))
    ));

    let now = t(18, 0, 0, 0);
    let id2 = session(&store, "corrupt2").await;
    assert!(store
        .emit_step(
            id2,
            0,
            &running_update(1, None, now),
            None,
            &posts(PostKind::Reminder, "r"),
            now
        )
        .await
        .unwrap());
    sqlx::query(
        "UPDATE outbox SET content_json = '{\"kind\": 42}' WHERE session_id = $1 AND position = 0",
    )
    .bind(id2)
    .execute(pool)
    .await
    .unwrap();
    assert!(
        matches!(store.pending_posts().await, Err(StoreError::Corrupt(m)) if m.contains("content"))
    );
    sqlx::query("UPDATE outbox SET content_json = '{}', status = 'lost' WHERE session_id = $1")
        .bind(id2)
        .execute(pool)
        .await
        .unwrap();
    assert!(matches!(
        store.posts_for_session(id2).await,
        Err(StoreError::Corrupt(_))
    ));

    store
        .append_messages(&[msg(id2, Platform::Matrix, "$c", now)])
        .await
        .unwrap();
    sqlx::query("UPDATE messages SET platform = 'myspace' WHERE platform_msg_id = '$c'")
        .execute(pool)
        .await
        .unwrap();
    assert!(
        matches!(store.session_messages(id2).await, Err(StoreError::Corrupt(m)) if m.contains("myspace"))
    );

    sqlx::query("INSERT INTO rsvps (chat_slug, user_ref, created_at) VALUES ('c', 'nobody', 0)")
        .execute(pool)
        .await
        .unwrap();
    assert!(matches!(
        store.rsvps("c").await,
        Err(StoreError::Corrupt(_))
    ));
    // The store still works for everything else.
    assert!(store.get_session(id2).await.unwrap().is_some());
}

// ---- connecting --------------------------------------------------------------------------

#[tokio::test]
async fn unknown_schemes_are_refused_without_showing_the_password() {
    let err = Store::connect("mysql://root:hunter2@localhost/db")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains("sqlite://") && text.contains("postgres://"),
        "{text}"
    );
    assert!(matches!(
        Store::connect("sqlite::memory:").await,
        Err(StoreError::UnsupportedUrl(_))
    ));
}

#[tokio::test]
async fn sqlite_connections_are_configured() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/b.db", dir.path().display()))
        .await
        .unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    // Every pooled connection carries the pragmas.
    let pool = store.raw_pool();
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(pool.acquire().await.unwrap());
    }
    for conn in &mut conns {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        for (pragma, expected) in [
            ("PRAGMA synchronous", 1_i64),
            ("PRAGMA foreign_keys", 1),
            ("PRAGMA busy_timeout", 5000),
        ] {
            let v: i64 = sqlx::query_scalar(pragma)
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(v, expected, "{pragma}");
        }
    }
    drop(conns); // close() waits for every connection to come back
    store.close().await;
}

async fn curation_is_kept_with_who_and_when(store: Store) {
    use bot_core::store::{CuratorNote, Mark};
    let id = session(&store, "curated").await;
    let moderator: UserRef = "matrix:@mod:example.org".parse().unwrap();
    let at = t(18, 30, 0, 0);
    store
        .append_messages(&[
            msg(id, Platform::Matrix, "$a", t(18, 1, 0, 0)),
            msg(id, Platform::Matrix, "$b", t(18, 2, 0, 0)),
        ])
        .await
        .unwrap();

    let note = CuratorNote {
        point: Some(2),
        after_message: Some("matrix:$a".into()),
        text: "A note with 'quotes' and ünïcode".into(),
        by: moderator.clone(),
        by_name: Some("Mo D.".into()),
        at,
    };
    store.add_note(id, &note, None).await.unwrap();
    assert_eq!(store.notes(id).await.unwrap(), vec![note]);

    for mark in [Mark::Highlight, Mark::Hidden] {
        assert_eq!(
            store
                .set_mark(mark, Platform::Matrix, "$b", true, &moderator, at)
                .await
                .unwrap(),
            Some(true)
        );
        assert_eq!(
            store
                .set_mark(mark, Platform::Matrix, "$b", true, &moderator, at)
                .await
                .unwrap(),
            Some(false)
        );
        assert_eq!(
            store
                .set_mark(mark, Platform::Matrix, "$missing", true, &moderator, at)
                .await
                .unwrap(),
            None
        );
        let marked = store.marked(mark, id).await.unwrap();
        assert_eq!(marked.len(), 1);
        assert_eq!(
            (
                marked[0].platform_msg_id.as_str(),
                &marked[0].by,
                marked[0].at
            ),
            ("$b", &moderator, at)
        );
    }
    assert_eq!(
        store
            .set_mark(Mark::Hidden, Platform::Matrix, "$b", false, &moderator, at)
            .await
            .unwrap(),
        Some(true)
    );
    assert!(store.marked(Mark::Hidden, id).await.unwrap().is_empty());
    assert_eq!(store.marked(Mark::Highlight, id).await.unwrap().len(), 1);

    let alice: UserRef = "matrix:@alice:example.org".parse().unwrap();
    assert!(store.set_opt_out(&alice, true, at).await.unwrap());
    assert!(!store.set_opt_out(&alice, true, at).await.unwrap());
    assert_eq!(store.opted_out().await.unwrap(), vec![alice.clone()]);
    assert!(store.set_opt_out(&alice, false, at).await.unwrap());
    assert!(store.opted_out().await.unwrap().is_empty());
}

// ---- search ------------------------------------------------------------------------------

/// A started session of chat `slug` with messages `(id, author, body)`.
async fn searchable(store: &Store, slug: &str, messages: &[(&str, &str, &str)]) -> SessionId {
    let id = session(store, slug).await;
    let s = store.get_session(id).await.unwrap().unwrap();
    assert!(store
        .update_session(id, &running_update(s.next_step, Some(1), t(19, 0, 0, 0)))
        .await
        .unwrap());
    let batch: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, (mid, author, body))| {
            let mut m = msg(id, Platform::Matrix, mid, t(18, 1, i as u32, 0));
            m.message.author_id = (*author).to_owned();
            m.message.author_name = author.trim_start_matches('@').to_owned();
            m.message.body = (*body).to_owned();
            m
        })
        .collect();
    store.append_messages(&batch).await.unwrap();
    id
}

async fn search_finds_words_and_respects_curation(store: Store) {
    let chats = vec!["pub".to_owned(), "other".to_owned()];
    let id = searchable(
        &store,
        "pub",
        &[
            ("$1", "@alice:x", "Libraries love Zebras"),
            ("$2", "@bob:x", "zebra crossings"),
            ("$3", "@carol:x", "zebras again, from Carol"),
            ("$4", "@dave:x", "hidden zebras"),
            ("$5", "@erin:x", "deleted zebras"),
            ("$6", "@alice:x", "nothing to see"),
        ],
    )
    .await;
    searchable(
        &store,
        "private",
        &[("$p", "@alice:x", "zebras in private")],
    )
    .await;
    // Never started: not searchable.
    let unstarted = session(&store, "pub").await;
    let mut m = msg(unstarted, Platform::Matrix, "$u", t(18, 5, 0, 0));
    m.message.body = "zebras before the start".into();
    store.append_messages(&[m]).await.unwrap();

    let ids = |hits: &[bot_core::store::SearchHit]| {
        hits.iter()
            .map(|h| h.platform_msg_id.clone())
            .collect::<Vec<_>>()
    };
    let hits = store
        .search_messages("ZEBRAS", &chats, None, 50)
        .await
        .unwrap();
    assert_eq!(
        ids(&hits),
        ["$5", "$4", "$3", "$1"],
        "most recently archived first"
    );
    let hits: Vec<_> = hits.into_iter().rev().collect();
    assert_eq!(hits[0].session_id, id);
    assert_eq!(hits[0].chat_slug, "pub");
    assert_eq!(hits[0].author_name, "alice:x");
    // The database's own highlighting marks the matching word.
    assert_eq!(
        hits[0].excerpt,
        [
            (false, "Libraries love ".to_owned()),
            (true, "Zebras".to_owned())
        ]
    );
    assert_eq!(hits[0].excerpt_text(), "Libraries love Zebras");
    assert_eq!(hits[0].point, Some(1), "the point it answers");
    // Every word must match.
    let hits = store
        .search_messages("zebras carol", &chats, None, 50)
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["$3"]);
    // Paged by the last hit seen: no hit twice, none left out.
    let first = store
        .search_messages("zebras", &chats, None, 2)
        .await
        .unwrap();
    assert_eq!(ids(&first), ["$5", "$4"]);
    let second = store
        .search_messages("zebras", &chats, Some(first[1].message_id), 2)
        .await
        .unwrap();
    assert_eq!(ids(&second), ["$3", "$1"]);
    let none = store
        .search_messages("zebras", &chats, Some(second[1].message_id), 2)
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");

    let moderator: UserRef = "matrix:@mod:x".parse().unwrap();
    let at = t(20, 0, 0, 0);
    store
        .set_mark(
            bot_core::store::Mark::Hidden,
            Platform::Matrix,
            "$4",
            true,
            &moderator,
            at,
        )
        .await
        .unwrap();
    store
        .record_deletion(Platform::Matrix, "$5", at)
        .await
        .unwrap();
    store
        .set_opt_out(&"matrix:@carol:x".parse().unwrap(), true, at)
        .await
        .unwrap();
    let hits = store
        .search_messages("zebras", &chats, None, 50)
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["$1"]);

    // An edit is searched by its new text, not the old.
    store
        .record_edit(Platform::Matrix, "$6", None, "now about giraffes", None, at)
        .await
        .unwrap();
    assert_eq!(
        ids(&store
            .search_messages("giraffes", &chats, None, 50)
            .await
            .unwrap()),
        ["$6"]
    );
    assert!(store
        .search_messages("nothing", &chats, None, 50)
        .await
        .unwrap()
        .is_empty());
    // Chats not asked for are not searched.
    assert!(store
        .search_messages("zebras", &[], None, 50)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(&store
            .search_messages("zebras", &["private".to_owned()], None, 50)
            .await
            .unwrap()),
        ["$p"]
    );
}

async fn search_finds_rare_words_older_than_the_newest_messages(store: Store) {
    // More messages than PostgreSQL walks back through (20,000): the rare word only in the
    // oldest, the common one everywhere.
    let chats = vec!["pub".to_owned()];
    let id = searchable(&store, "pub", &[]).await;
    let mut batch = Vec::new();
    for i in 0..21_000u32 {
        let mut m = msg(
            id,
            Platform::Matrix,
            &format!("$m{i}"),
            t(18, 30, 0, i64::from(i)),
        );
        m.message.body = match i {
            0..3 => format!("common needle edge {i}"),
            20_998.. => format!("common filler edge {i}"),
            _ => format!("common filler {i}"),
        };
        batch.push(m);
        if batch.len() == 5_000 {
            store.append_messages(&batch).await.unwrap();
            batch.clear();
        }
    }
    store.append_messages(&batch).await.unwrap();
    let ids = |hits: &[bot_core::store::SearchHit]| {
        hits.iter()
            .map(|h| h.platform_msg_id.clone())
            .collect::<Vec<_>>()
    };
    let needles = store
        .search_messages("needle", &chats, None, 50)
        .await
        .unwrap();
    assert_eq!(ids(&needles), ["$m2", "$m1", "$m0"]);
    let first = store
        .search_messages("needle", &chats, None, 2)
        .await
        .unwrap();
    let rest = store
        .search_messages("needle", &chats, Some(first[1].message_id), 2)
        .await
        .unwrap();
    assert_eq!(
        (ids(&first), ids(&rest)),
        (
            vec!["$m2".to_owned(), "$m1".to_owned()],
            vec!["$m0".to_owned()]
        )
    );
    let common = store
        .search_messages("common", &chats, None, 50)
        .await
        .unwrap();
    assert_eq!(common.len(), 50);
    assert_eq!(common[0].platform_msg_id, "$m20999");
    assert_eq!(common[49].platform_msg_id, "$m20950");
    // A page that begins in the newest messages and ends among the older ones.
    let across = store
        .search_messages("edge", &chats, None, 50)
        .await
        .unwrap();
    assert_eq!(ids(&across), ["$m20999", "$m20998", "$m2", "$m1", "$m0"]);
    let older = store
        .search_messages("common", &chats, Some(common[0].message_id - 19_990), 50)
        .await
        .unwrap();
    let expected: Vec<String> = (0..50).map(|k| format!("$m{}", 1_008 - k)).collect();
    assert_eq!(ids(&older), expected);
}

async fn search_never_fails_on_hostile_queries(store: Store) {
    let chats = vec!["pub".to_owned()];
    searchable(
        &store,
        "pub",
        &[("$1", "@alice:x", "near the quote \"or\" star * NEAR(a b)")],
    )
    .await;
    let long = "a".repeat(10_000);
    let hostile = [
        "\"",
        "*",
        "NEAR(",
        ") OR (",
        "a OR",
        "AND",
        "NOT x",
        "body:x",
        "^x",
        "\0",
        "x\0y",
        "\"unbalanced",
        "'; DROP TABLE messages; --",
        "a:b",
        "-x",
        "!",
        "&|",
        "{}",
        "",
        "   ",
        long.as_str(),
        "%",
        "_",
        "\\",
        "near(",
        "\u{202e}",
    ];
    for q in hostile {
        let result = store.search_messages(q, &chats, None, 50).await;
        assert!(result.is_ok(), "{q:?}: {result:?}");
    }
    let hits = store
        .search_messages("NEAR(", &chats, None, 50)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "NEAR is a word here, not an operator");
    let hits = store
        .search_messages("\"or\"", &chats, None, 50)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
}

async fn purging_erases_only_opted_out_words_in_that_chat(store: Store) {
    let here = session(&store, "purged").await;
    let elsewhere = session(&store, "kept").await;
    let moderator: UserRef = "matrix:@mod:example.org".parse().unwrap();
    let mut from_alice = msg(here, Platform::Matrix, "$alice", t(18, 1, 0, 0));
    from_alice.message.attachments = vec![attachment(1)];
    let mut from_bob = msg(here, Platform::Matrix, "$bob", t(18, 2, 0, 0));
    from_bob.message.author_id = "@bob:example.org".into();
    let alice_elsewhere = msg(elsewhere, Platform::Matrix, "$alice2", t(18, 3, 0, 0));
    store
        .append_messages(&[from_alice, from_bob, alice_elsewhere])
        .await
        .unwrap();
    store
        .record_edit(
            Platform::Matrix,
            "$alice",
            None,
            "A1: edited",
            None,
            t(18, 5, 0, 0),
        )
        .await
        .unwrap();
    let alice: UserRef = "matrix:@alice:example.org".parse().unwrap();
    store
        .set_opt_out(&alice, true, t(18, 6, 0, 0))
        .await
        .unwrap();

    assert_eq!(
        store
            .purge_opted_out("purged", &moderator, t(18, 7, 0, 0))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .purge_opted_out("purged", &moderator, t(18, 8, 0, 0))
            .await
            .unwrap(),
        0,
        "nothing left"
    );
    let purged = store
        .find_message(Platform::Matrix, "$alice")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(purged.message.body, bot_core::transcript::WITHHELD);
    assert_eq!(purged.message.formatted_body, None);
    assert!(purged.edits.is_empty() && purged.message.attachments.is_empty());
    let bob = store
        .find_message(Platform::Matrix, "$bob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        bob.message.body, "A1: answer $bob",
        "someone who did not opt out is untouched"
    );
    let other_chat = store
        .find_message(Platform::Matrix, "$alice2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        other_chat.message.body, "A1: answer $alice2",
        "another chat's archive is untouched"
    );
}

async fn sync_cursors_are_kept_per_account_and_replaced(store: Store) {
    assert_eq!(
        store.sync_cursor(Platform::Matrix, "@bot:a").await.unwrap(),
        None
    );
    store
        .set_sync_cursor(Platform::Matrix, "@bot:a", "s1")
        .await
        .unwrap();
    store
        .set_sync_cursor(Platform::Matrix, "@bot:b", "t1")
        .await
        .unwrap();
    store
        .set_sync_cursor(Platform::Matrix, "@bot:a", "s2")
        .await
        .unwrap();
    assert_eq!(
        store
            .sync_cursor(Platform::Matrix, "@bot:a")
            .await
            .unwrap()
            .as_deref(),
        Some("s2")
    );
    assert_eq!(
        store
            .sync_cursor(Platform::Matrix, "@bot:b")
            .await
            .unwrap()
            .as_deref(),
        Some("t1")
    );
    assert_eq!(
        store
            .sync_cursor(Platform::Discord, "@bot:a")
            .await
            .unwrap(),
        None
    );
}

async fn sync_cursors_are_listed_by_exact_prefix_and_deleted(store: Store) {
    for (platform, account, value) in [
        (Platform::Discord, "event:b", "2"),
        (Platform::Discord, "event:a", "1"),
        (Platform::Discord, "Event:c", "case differs"),
        (Platform::Discord, "eventXd", "no colon"),
        (Platform::Discord, "channel:9", "a cursor"),
        (Platform::Matrix, "event:e", "another platform"),
    ] {
        store
            .set_sync_cursor(platform, account, value)
            .await
            .unwrap();
    }
    let listed = store
        .sync_cursors_under(Platform::Discord, "event:")
        .await
        .unwrap();
    assert_eq!(
        listed,
        [
            ("event:a".to_owned(), "1".to_owned()),
            ("event:b".to_owned(), "2".to_owned())
        ],
        "exactly the prefix (no case folding, no wildcards), this platform, in order"
    );
    assert!(store
        .sync_cursors_under(Platform::Discord, "e_ent%")
        .await
        .unwrap()
        .is_empty());
    store
        .delete_sync_cursor(Platform::Discord, "event:a")
        .await
        .unwrap();
    store
        .delete_sync_cursor(Platform::Discord, "event:none")
        .await
        .unwrap();
    assert_eq!(
        store
            .sync_cursors_under(Platform::Discord, "event:")
            .await
            .unwrap(),
        [("event:b".to_owned(), "2".to_owned())]
    );
    assert_eq!(
        store
            .sync_cursor(Platform::Matrix, "event:e")
            .await
            .unwrap()
            .as_deref(),
        Some("another platform")
    );
}

fn command(platform: Platform, id: &str) -> CommandKey {
    CommandKey {
        platform,
        platform_msg_id: id.to_owned(),
    }
}

async fn a_command_is_claimed_once_with_its_reply_until_it_is_answered(store: Store) {
    let key = command(Platform::Matrix, "$cmd");
    assert_eq!(store.command_claim(&key).await.unwrap(), None);
    assert!(store.claim_command(&key, "Started.", false).await.unwrap());
    assert!(!store.claim_command(&key, "Again.", true).await.unwrap());
    let unanswered = CommandClaim {
        reply: Some("Started.".to_owned()),
        reply_private: false,
        replied: false,
    };
    assert_eq!(store.command_claim(&key).await.unwrap(), Some(unanswered));
    store.mark_command_replied(&key).await.unwrap();
    assert!(store.command_claim(&key).await.unwrap().unwrap().replied);
    let other_platform = command(Platform::Discord, "$cmd");
    assert!(store
        .claim_command(&other_platform, "Refused.", true)
        .await
        .unwrap());
    assert!(
        store
            .command_claim(&other_platform)
            .await
            .unwrap()
            .unwrap()
            .reply_private
    );
}

async fn what_a_command_changed_is_recorded_with_the_change(store: Store) {
    let start = command(Platform::Matrix, "$start");
    let mut new = new_session("cmd", SessionOrigin::Command, t(18, 0, 0, 0));
    new.command = Some(start.clone());
    let id = store.create_session(&new).await.unwrap();
    assert_eq!(
        store
            .session_changed_by(&start)
            .await
            .unwrap()
            .map(|s| s.id),
        Some(id)
    );

    let pause = command(Platform::Matrix, "$pause");
    let mut update = running_update(2, Some(1), t(18, 5, 0, 0)).by(Some(&pause));
    update.state = SessionState::Paused;
    assert!(store.update_session(id, &update).await.unwrap());
    assert_eq!(
        store
            .session_changed_by(&pause)
            .await
            .unwrap()
            .map(|s| s.id),
        Some(id)
    );

    let next = command(Platform::Matrix, "$next");
    let step = running_update(3, Some(2), t(18, 10, 0, 0)).by(Some(&next));
    assert!(store
        .emit_step(id, 2, &step, Some(Some(2)), &[], t(18, 5, 0, 0))
        .await
        .unwrap());
    assert_eq!(
        store.session_changed_by(&next).await.unwrap().map(|s| s.id),
        Some(id)
    );
    // A step that does not apply records nothing.
    let late = command(Platform::Matrix, "$late");
    let stale = running_update(4, Some(3), t(18, 15, 0, 0)).by(Some(&late));
    assert!(!store
        .emit_step(id, 2, &stale, Some(Some(3)), &[], t(18, 10, 0, 0))
        .await
        .unwrap());
    assert_eq!(store.session_changed_by(&late).await.unwrap(), None);
    // Nor does an update of a session that is not there.
    assert!(!store.update_session(id + 100, &stale).await.unwrap());
    assert_eq!(store.session_changed_by(&late).await.unwrap(), None);
    // Scheduler writes name no command and leave the record alone.
    assert!(store
        .update_session(id, &running_update(3, Some(2), t(18, 20, 0, 0)))
        .await
        .unwrap());
    assert_eq!(
        store.session_changed_by(&next).await.unwrap().map(|s| s.id),
        Some(id)
    );
}

async fn the_session_running_in_a_room_at_an_instant_is_found(store: Store) {
    let id = session(&store, "late").await;
    let room = rooms()[0].clone();
    assert_eq!(
        store
            .session_in_room_at(&room, t(18, 5, 0, 0))
            .await
            .unwrap(),
        None,
        "not started"
    );
    let mut update = SessionUpdate::from_session(&store.get_session(id).await.unwrap().unwrap());
    update.state = SessionState::Ended;
    update.started_at = Some(t(18, 0, 0, 0));
    update.ended_at = Some(t(19, 0, 0, 0));
    store.update_session(id, &update).await.unwrap();
    let found = store
        .session_in_room_at(&room, t(18, 30, 0, 0))
        .await
        .unwrap();
    assert_eq!(found.map(|f| f.0), Some(id));
    assert_eq!(
        store
            .session_in_room_at(&room, t(17, 59, 59, 0))
            .await
            .unwrap(),
        None,
        "before"
    );
    assert_eq!(
        store
            .session_in_room_at(&room, t(19, 0, 0, 0))
            .await
            .unwrap(),
        None,
        "at the end"
    );
    let elsewhere = RoomRef::new(Platform::Matrix, "!other:example.org");
    assert_eq!(
        store
            .session_in_room_at(&elsewhere, t(18, 30, 0, 0))
            .await
            .unwrap(),
        None
    );
}

async fn reactions_are_kept_on_archived_messages_and_taken_back(store: Store) {
    let id = session(&store, "reactions").await;
    let sent = t(18, 2, 0, 0);
    store
        .append_messages(&[msg(id, Platform::Matrix, "$m", sent)])
        .await
        .unwrap();
    let at = sent + Duration::minutes(1);
    for (reaction, who, key) in [
        ("$r1", "@ann:x", "👍"),
        ("$r2", "@bob:x", "👍"),
        ("$r3", "@ann:x", "🎉"),
    ] {
        assert!(store
            .add_reaction(
                Platform::Matrix,
                reaction,
                Platform::Matrix,
                "$m",
                who,
                key,
                at
            )
            .await
            .unwrap());
    }
    assert!(
        !store
            .add_reaction(
                Platform::Matrix,
                "$r1",
                Platform::Matrix,
                "$m",
                "@ann:x",
                "👍",
                at
            )
            .await
            .unwrap(),
        "a reaction read twice counts once"
    );
    assert!(
        !store
            .add_reaction(
                Platform::Matrix,
                "$r9",
                Platform::Matrix,
                "$nowhere",
                "@ann:x",
                "👍",
                at
            )
            .await
            .unwrap(),
        "a reaction to a message outside the archive is not kept"
    );
    let message_id = store
        .find_message(Platform::Matrix, "$m")
        .await
        .unwrap()
        .unwrap()
        .id;
    let counts = |v: Vec<bot_core::store::ReactionCount>| -> Vec<(i64, String, u32)> {
        v.into_iter()
            .map(|c| (c.message_id, c.key, c.count))
            .collect()
    };
    assert_eq!(
        counts(store.session_reactions(id).await.unwrap()),
        vec![
            (message_id, "🎉".to_owned(), 1),
            (message_id, "👍".to_owned(), 2)
        ]
    );
    assert!(store
        .remove_reaction(Platform::Matrix, "$r2")
        .await
        .unwrap());
    assert!(!store
        .remove_reaction(Platform::Matrix, "$r2")
        .await
        .unwrap());
    assert_eq!(
        counts(store.session_reactions(id).await.unwrap()),
        vec![
            (message_id, "🎉".to_owned(), 1),
            (message_id, "👍".to_owned(), 1)
        ]
    );
}

async fn media_sources_are_kept_once_per_link(store: Store) {
    let url = "mxc://example.org/enc";
    assert_eq!(store.media_source(url).await.unwrap(), None);
    store
        .remember_media_source(url, r#"{"key":{"k":"first"}}"#)
        .await
        .unwrap();
    store
        .remember_media_source(url, r#"{"key":{"k":"second"}}"#)
        .await
        .unwrap();
    assert_eq!(
        store.media_source(url).await.unwrap().as_deref(),
        Some(r#"{"key":{"k":"first"}}"#),
        "the first record wins"
    );
    assert_eq!(
        store.media_source("mxc://example.org/other").await.unwrap(),
        None
    );
}

/// A copy the delivery has read and is posting when its original is edited, or deleted: the
/// copy made shows what was read, so it is marked to be edited, or deleted, once it is in.
async fn a_copy_changed_while_it_was_being_made_is_marked_to_catch_up(store: Store) {
    use bot_core::model::{NewRelay, RelayContent};
    use bot_core::store::ChangeKind;
    let sid = session(&store, "relayed").await;
    let target = RoomRef::new(Platform::Loopback, "other");
    let content = |body: &str| RelayContent {
        author_name: "Ann".into(),
        avatar_url: None,
        origin_platform: Platform::Loopback,
        origin_label: "Loopback".into(),
        body: body.into(),
        formatted_body: None,
        reply_to: None,
        reacted_with: None,
        attachments: Vec::new(),
    };
    let relays: Vec<NewRelay> = ["m-edited", "m-deleted", "m-calm"]
        .iter()
        .map(|id| NewRelay {
            session_id: sid,
            origin_msg_id: (*id).into(),
            target: target.clone(),
            content: content("first"),
        })
        .collect();
    store.enqueue_relays(&relays, t(9, 0, 0, 0)).await.unwrap();
    // The delivery reads all three; meanwhile one is edited and one deleted.
    let read = store.pending_relays_in(&target).await.unwrap();
    assert_eq!(read.len(), 3);
    store
        .relay_edit(Platform::Loopback, "m-edited", "second", None)
        .await
        .unwrap();
    store
        .relay_delete(Platform::Loopback, "m-deleted")
        .await
        .unwrap();
    let mut marked = Vec::new();
    for (i, relay) in read.iter().enumerate() {
        marked.push(
            store
                .mark_relayed(relay.id, &format!("c{i}"), t(9, 0, 1, 0), &relay.content)
                .await
                .unwrap(),
        );
    }
    assert_eq!(marked, [true, true, false]);
    let changes: Vec<(String, ChangeKind, String)> = store
        .pending_relay_changes_in(&target)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.copy_msg_id, c.kind, c.content.body))
        .collect();
    assert_eq!(
        changes,
        [
            ("c0".to_owned(), ChangeKind::Edit, "second".to_owned()),
            ("c1".to_owned(), ChangeKind::Delete, "first".to_owned()),
        ]
    );
    assert!(store.pending_relays_in(&target).await.unwrap().is_empty());
}

/// `unhide` brings back every copy `hide` took away, whatever the delivery had done with it: a
/// copy cancelled before it was made, one still to be deleted, one the lane is deleting right
/// now, and one deleted. The copies made again carry their next round, so a new key.
async fn unhiding_brings_back_every_copy_hiding_took_away(store: Store) {
    use bot_core::model::{NewRelay, RelayContent};
    let sid = session(&store, "restored").await;
    let target = RoomRef::new(Platform::Loopback, "other");
    let originals = ["m-cancelled", "m-kept", "m-racing", "m-gone"];
    let relays: Vec<NewRelay> = originals
        .iter()
        .map(|id| NewRelay {
            session_id: sid,
            origin_msg_id: (*id).into(),
            target: target.clone(),
            content: RelayContent {
                author_name: "Ann".into(),
                avatar_url: None,
                origin_platform: Platform::Loopback,
                origin_label: "Loopback".into(),
                body: format!("said as {id}"),
                formatted_body: None,
                reply_to: None,
                reacted_with: None,
                attachments: Vec::new(),
            },
        })
        .collect();
    store.enqueue_relays(&relays, t(9, 0, 0, 0)).await.unwrap();
    let first_keys: Vec<(String, String)> = store
        .pending_relays_in(&target)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.origin_msg_id.clone(), r.idempotency_key()))
        .collect();
    for relay in store.pending_relays_in(&target).await.unwrap() {
        if relay.origin_msg_id != "m-cancelled" {
            let copy = format!("copy-of-{}", relay.origin_msg_id);
            store
                .mark_relayed(relay.id, &copy, t(9, 0, 1, 0), &relay.content)
                .await
                .unwrap();
        }
    }

    // Hidden: the copy not made is cancelled, the three made are to be deleted.
    for id in originals {
        store.relay_delete(Platform::Loopback, id).await.unwrap();
    }
    assert!(store.pending_relays_in(&target).await.unwrap().is_empty());
    let deletions = store.pending_relay_changes_in(&target).await.unwrap();
    assert_eq!(deletions.len(), 3);
    let deletion_of = |copy: &str| {
        deletions
            .iter()
            .find(|c| c.copy_msg_id == copy)
            .expect("a deletion")
            .clone()
    };
    store
        .mark_relay_change_done(&deletion_of("copy-of-m-gone"))
        .await
        .unwrap();

    // Unhidden while the lane is still deleting m-racing's copy.
    let mut restored = 0;
    for id in originals {
        restored += store.relay_restore(Platform::Loopback, id).await.unwrap();
    }
    assert_eq!(restored, 4, "each copy comes back");
    store
        .mark_relay_change_done(&deletion_of("copy-of-m-racing"))
        .await
        .unwrap();

    assert!(
        store
            .pending_relay_changes_in(&target)
            .await
            .unwrap()
            .is_empty(),
        "m-kept's copy is no longer to be deleted"
    );
    assert_eq!(
        store
            .original_of_copy(Platform::Loopback, "copy-of-m-kept")
            .await
            .unwrap()
            .map(|o| o.origin_msg_id)
            .as_deref(),
        Some("m-kept"),
        "the kept copy still leads to its original"
    );
    let again: Vec<(String, u32, String)> = store
        .pending_relays_in(&target)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let key = r.idempotency_key();
            (r.origin_msg_id, r.round, key)
        })
        .collect();
    let ids_and_rounds: Vec<(&str, u32)> = again.iter().map(|(o, r, _)| (o.as_str(), *r)).collect();
    assert_eq!(
        ids_and_rounds,
        [("m-cancelled", 0), ("m-racing", 1), ("m-gone", 1)],
        "to be made: the cancelled one as it was, the deleted ones in their next round"
    );
    for (origin, round, key) in &again {
        let first = &first_keys.iter().find(|(o, _)| o == origin).unwrap().1;
        assert_eq!(*round == 0, key == first, "{origin}: {key} against {first}");
    }
}

/// The session number people see is the id: 1, 2, 3 in the order sessions are created,
/// however often a scheduler asks for an occurrence already stored, and an import takes the
/// next one too.
async fn session_numbers_are_consecutive_whatever_was_asked_twice(store: Store) {
    let start = t(18, 0, 0, 0);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            store
                .create_session(&new_session("a", SessionOrigin::Recurrence, start))
                .await
                .unwrap(),
        );
    }
    ids.push(
        store
            .create_session(&new_session("a", SessionOrigin::Command, start))
            .await
            .unwrap(),
    );
    let id = |n: SessionId| n;
    assert_eq!(ids, [id(1), id(1), id(1), id(2)]);
    // Two schedulers asking at once still leave no gap.
    let occurrence = new_session("b", SessionOrigin::Recurrence, start);
    let (a, b) = tokio::join!(
        store.create_session(&occurrence),
        store.create_session(&occurrence),
    );
    assert_eq!(a.unwrap(), id(3));
    assert_eq!(b.unwrap(), id(3));
    let next = store
        .create_session(&new_session("c", SessionOrigin::Command, start))
        .await
        .unwrap();
    assert_eq!(next, id(4));
}

/// What a room was shown: a post counts from when it reached the room. Where the platform
/// said when it sent the post, a message is compared on that clock exactly; otherwise a
/// message stamped up to `skew` before the post's recorded time may already have seen it.
async fn the_point_on_screen_uses_the_platforms_own_time_where_it_has_one(store: Store) {
    let id = session(&store, "on-screen").await;
    let [matrix, discord, _] = <[RoomRef; 3]>::try_from(rooms()).unwrap();
    let q1_at = t(18, 5, 0, 0);
    for (step, point, at) in [
        (0, None, t(17, 0, 0, 0)),
        (1, None, t(18, 0, 0, 0)),
        (2, Some(1), q1_at),
    ] {
        let mut u = running_update(step + 1, point, at);
        u.current_point = point;
        let kind = match point {
            Some(n) => PostKind::Point { number: n },
            None => PostKind::Intro,
        };
        assert!(store
            .emit_step(id, step, &u, Some(point), &posts(kind, "step"), at)
            .await
            .unwrap());
    }
    // Recorded here 1.5 s after it was sent; Discord's id says it went out at 18:05:00.400.
    let recorded = q1_at + Duration::milliseconds(1500);
    assert!(store
        .mark_posted(id, 2, &matrix, "$q1", recorded, None)
        .await
        .unwrap());
    assert!(store
        .mark_posted(id, 2, &discord, "q1", recorded, Some(t(18, 5, 0, 400)))
        .await
        .unwrap());
    let skew = Duration::seconds(2);
    let on_screen = |room: RoomRef, at| {
        let store = store.clone();
        async move { store.point_on_screen_in(id, &room, at, skew).await.unwrap() }
    };
    // Matrix: no time of its own, so the allowance applies.
    assert_eq!(on_screen(matrix.clone(), t(18, 4, 59, 400)).await, None);
    assert_eq!(on_screen(matrix.clone(), t(18, 4, 59, 600)).await, Some(1));
    // Discord: exactly from when Discord sent it, whatever the allowance.
    assert_eq!(on_screen(discord.clone(), t(18, 5, 0, 399)).await, None);
    assert_eq!(on_screen(discord.clone(), t(18, 5, 0, 400)).await, Some(1));
    assert_eq!(on_screen(discord, t(18, 6, 0, 0)).await, Some(1));
}

// ---- local rooms -------------------------------------------------------------------------

fn local_event<'a>(
    room: &'a str,
    body: &'a str,
    key: Option<&'a str>,
) -> bot_core::store::NewLocalEvent<'a> {
    bot_core::store::NewLocalEvent {
        room,
        kind: "message",
        session_uid: Some("s1"),
        audience: None,
        body,
        idempotency_key: key,
        at: t(10, 0, 0, 0),
    }
}

async fn local_room_events_are_numbered_without_gaps_and_kept_once_per_key(store: Store) {
    assert_eq!(store.local_room_head("lobby").await.unwrap(), 0);
    assert_eq!(
        store
            .append_local_event(local_event("lobby", "one", Some("k1")))
            .await
            .unwrap(),
        (1, true)
    );
    assert_eq!(
        store
            .append_local_event(local_event("other", "elsewhere", None))
            .await
            .unwrap(),
        (1, true)
    );
    assert_eq!(
        store
            .append_local_event(local_event("lobby", "two", None))
            .await
            .unwrap(),
        (2, true)
    );
    assert_eq!(
        store
            .append_local_event(local_event("lobby", "one again", Some("k1")))
            .await
            .unwrap(),
        (1, false),
        "a retry with the same key is the same event"
    );
    let mut private = local_event("lobby", "just for you", Some("k3"));
    private.audience = Some("ada");
    private.session_uid = None;
    assert_eq!(store.append_local_event(private).await.unwrap(), (3, true));
    assert_eq!(store.local_room_head("lobby").await.unwrap(), 3);

    let after_one = store.local_events_after("lobby", 1, 100).await.unwrap();
    assert_eq!(
        after_one
            .iter()
            .map(|e| (e.seq, e.body.as_str()))
            .collect::<Vec<_>>(),
        [(2, "two"), (3, "just for you")]
    );
    assert_eq!(after_one[1].audience.as_deref(), Some("ada"));
    assert_eq!(after_one[0].at, t(10, 0, 0, 0));
    assert_eq!(
        store.local_events_after("lobby", 0, 1).await.unwrap().len(),
        1,
        "the limit holds"
    );
    let of_session = store.local_events_of_session("lobby", "s1").await.unwrap();
    assert_eq!(of_session.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        store.local_event("lobby", 2).await.unwrap().unwrap().body,
        "two"
    );
    assert_eq!(store.local_event("lobby", 9).await.unwrap(), None);
}

async fn concurrent_local_appends_get_distinct_consecutive_numbers(store: Store) {
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let body = format!("m{i}");
                store
                    .append_local_event(local_event("busy", &body, None))
                    .await
                    .unwrap()
                    .0
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=20).collect::<Vec<i64>>());
}

async fn a_local_name_is_held_while_its_holder_is_seen(store: Store) {
    use bot_core::store::NameClaim;
    let hold = Duration::hours(12);
    let now = t(10, 0, 0, 0);
    assert_eq!(
        store
            .claim_local_name("lobby", "u1", "Ada", "ada", now, hold)
            .await
            .unwrap(),
        NameClaim::Granted
    );
    assert_eq!(
        store
            .claim_local_name("lobby", "u2", "ADA", "ada", now, hold)
            .await
            .unwrap(),
        NameClaim::Taken
    );
    assert_eq!(
        store
            .claim_local_name("other", "u2", "Ada", "ada", now, hold)
            .await
            .unwrap(),
        NameClaim::Granted,
        "names are per room"
    );
    assert_eq!(
        store
            .claim_local_name("lobby", "u1", "Ada L.", "ada l.", now, hold)
            .await
            .unwrap(),
        NameClaim::Granted,
        "one can change one's own name"
    );
    assert_eq!(
        store
            .claim_local_name("lobby", "u2", "Ada", "ada", now, hold)
            .await
            .unwrap(),
        NameClaim::Granted,
        "the old name is free again"
    );
    assert_eq!(
        store
            .touch_local_member("lobby", "u1", now + Duration::hours(1))
            .await
            .unwrap()
            .as_deref(),
        Some("Ada L.")
    );
    assert_eq!(
        store
            .touch_local_member("lobby", "nobody", now)
            .await
            .unwrap(),
        None
    );
    let later = now + Duration::hours(13);
    assert_eq!(
        store
            .claim_local_name(
                "lobby",
                "u3",
                "ada l.",
                "ada l.",
                now + Duration::hours(2),
                hold
            )
            .await
            .unwrap(),
        NameClaim::Taken
    );
    assert_eq!(
        store
            .claim_local_name(
                "lobby",
                "u3",
                "ada l.",
                "ada l.",
                later + Duration::hours(1),
                hold
            )
            .await
            .unwrap(),
        NameClaim::Granted,
        "a name not seen within the hold is free"
    );
    assert_eq!(
        store
            .touch_local_member("lobby", "u1", later)
            .await
            .unwrap(),
        None,
        "its old holder no longer has it"
    );
}

async fn local_accounts_are_found_by_token_hash_and_can_be_blocked(store: Store) {
    store
        .create_local_account("hash-a", "w-a", false)
        .await
        .unwrap();
    assert!(
        store
            .create_local_account("hash-b", "w-a", false)
            .await
            .is_err(),
        "user ids are unique"
    );
    let account = store.local_account("hash-a").await.unwrap().unwrap();
    assert_eq!(
        (account.user_id.as_str(), account.moderator, account.blocked),
        ("w-a", false, false)
    );
    assert_eq!(store.local_account("nope").await.unwrap(), None);
    store.make_local_moderator("w-a").await.unwrap();
    assert!(store.set_local_blocked("w-a", true).await.unwrap());
    assert!(!store.set_local_blocked("w-zz", true).await.unwrap());
    let account = store.local_account("hash-a").await.unwrap().unwrap();
    assert!(account.moderator && account.blocked);
}
