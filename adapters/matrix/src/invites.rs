//! Deciding on invitations: join when the inviter is trusted (or the room is one a chat file
//! names), otherwise decline. Joining is retried with backoff: a homeserver busy federating a
//! big room may fail the first attempts.

use std::time::Duration;

use matrix_sdk::ruma::RoomId;
use matrix_sdk::Client;

use bot_core::engine::Engine;
use bot_core::ids::{Platform, RoomRef};

use crate::RoomSettings;

const JOIN_ATTEMPTS: u32 = 8;

/// `name` is how chat files would name the room: its alias if one of them does, else its id.
pub(crate) async fn consider(
    client: &Client,
    engine: &Engine,
    settings: &RoomSettings,
    room_id: &RoomId,
    name: &str,
) {
    let Some(room) = client.get_room(room_id) else {
        return;
    };
    let inviter = match room.invite_details().await {
        Ok(invite) => invite.inviter_id.to_string(),
        Err(e) => {
            tracing::warn!(room = %room_id, error = %e, "an invitation without an inviter; ignoring it");
            return;
        }
    };
    let room_ref = RoomRef::new(Platform::Matrix, name);
    let named_in_a_chat = engine.chats().iter().any(|c| c.rooms.contains(&room_ref));
    if !(named_in_a_chat || inviter_allowed(&settings.accept_invites_from, &inviter)) {
        tracing::info!(room = %room_id, %inviter, "declining an invitation from someone not in accept_invites_from");
        if let Err(e) = room.leave().await {
            tracing::warn!(room = %room_id, error = %e, "could not decline an invitation");
        }
        return;
    }
    let client = client.clone();
    let room_id = room_id.to_owned();
    tokio::spawn(async move {
        let joined = join_with_backoff(JOIN_ATTEMPTS, FIRST_RETRY, |attempt| {
            let (client, room_id) = (client.clone(), room_id.clone());
            async move {
                let result = client.join_room_by_id(&room_id).await;
                if let Err(e) = &result {
                    tracing::warn!(room = %room_id, attempt, error = %e, "could not join yet");
                }
                result.map(|_| ())
            }
        })
        .await;
        if joined {
            tracing::info!(room = %room_id, %inviter, "joined a Matrix room");
        } else {
            tracing::error!(room = %room_id, "gave up joining after {JOIN_ATTEMPTS} attempts");
        }
    });
}

const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Calls `join` (with the attempt's number, from 1) until it succeeds or `attempts` have
/// failed, waiting `first` after the first failure and twice as long after each further one.
async fn join_with_backoff<F, Fut, E>(attempts: u32, first: Duration, mut join: F) -> bool
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let mut delay = first;
    for attempt in 1..=attempts {
        if join(attempt).await.is_ok() {
            return true;
        }
        if attempt < attempts {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    false
}

/// Whether `inviter` matches an `accept_invites_from` entry: `*`, `*:server` or `@user:server`.
pub fn inviter_allowed(accepted: &[String], inviter: &str) -> bool {
    let server = inviter.split_once(':').map(|(_, s)| s);
    accepted.iter().any(|entry| {
        entry == "*"
            || entry == inviter
            || entry.strip_prefix("*:").is_some_and(|s| Some(s) == server)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inviters_are_matched_by_user_server_or_anyone() {
        let list = vec![
            "@mod:example.org".to_owned(),
            "*:library.example".to_owned(),
        ];
        assert!(inviter_allowed(&list, "@mod:example.org"));
        assert!(inviter_allowed(&list, "@anyone:library.example"));
        assert!(!inviter_allowed(&list, "@mod:evil.example"));
        assert!(!inviter_allowed(&list, "@x:example.org"));
        assert!(!inviter_allowed(&list, "@x:sub.library.example"));
        assert!(!inviter_allowed(&[], "@mod:example.org"));
        assert!(inviter_allowed(&["*".to_owned()], "@whoever:wherever"));
    }

    /// Attempts and the virtual instants (seconds from the start) they were made at.
    async fn attempts_until(succeeds_at: Option<u32>) -> (bool, Vec<(u32, u64)>) {
        let start = tokio::time::Instant::now();
        let mut made = Vec::new();
        let joined = join_with_backoff(JOIN_ATTEMPTS, FIRST_RETRY, |attempt| {
            made.push((attempt, start.elapsed().as_secs()));
            std::future::ready(if Some(attempt) == succeeds_at {
                Ok(())
            } else {
                Err("busy")
            })
        })
        .await;
        (joined, made)
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_join_is_retried_after_doubling_waits_until_it_succeeds() {
        let (joined, made) = attempts_until(Some(4)).await;
        assert!(joined);
        assert_eq!(made, vec![(1, 0), (2, 1), (3, 3), (4, 7)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_join_that_keeps_failing_is_given_up_after_the_last_attempt_without_a_last_wait() {
        let started = tokio::time::Instant::now();
        let (joined, made) = attempts_until(None).await;
        assert!(!joined);
        let instants: Vec<u64> = made.iter().map(|(_, at)| *at).collect();
        // 1, 2, 4 … 64 s between attempts: eight attempts over 127 s, and no wait after the last.
        assert_eq!(instants, vec![0, 1, 3, 7, 15, 31, 63, 127]);
        assert_eq!(started.elapsed().as_secs(), 127);
    }
}
