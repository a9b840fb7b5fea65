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
        let mut delay = Duration::from_secs(1);
        for attempt in 1..=JOIN_ATTEMPTS {
            match client.join_room_by_id(&room_id).await {
                Ok(_) => {
                    tracing::info!(room = %room_id, %inviter, "joined a Matrix room");
                    return;
                }
                Err(e) => {
                    tracing::warn!(room = %room_id, attempt, error = %e, "could not join yet");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(300));
                }
            }
        }
        tracing::error!(room = %room_id, "gave up joining after {JOIN_ATTEMPTS} attempts");
    });
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
}
