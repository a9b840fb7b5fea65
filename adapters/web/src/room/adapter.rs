//! The web platform's [`Adapter`]: the engine's posts, answers and relayed copies become events
//! of the room's log. A message's platform id is `{room}.{seq}` (room names have no `.`).

use std::sync::Arc;

use async_trait::async_trait;
use bot_core::adapter::{Adapter, AdapterError, Post, RelayPost, RelayedCopy, Reply};
use bot_core::ids::Platform;
use bot_core::render::plain::post_label;
use bot_core::store::StoreError;

use super::event::RoomEvent;
use super::Inner;

pub(crate) struct WebAdapter(pub(crate) Arc<Inner>);

/// The platform id of event `seq` of `room`.
pub fn message_id(room: &str, seq: i64) -> String {
    format!("{room}.{seq}")
}

/// The event number a platform id names in `room`.
pub fn seq_in(room: &str, id: &str) -> Option<i64> {
    id.strip_prefix(room)?
        .strip_prefix('.')?
        .parse()
        .ok()
        .filter(|seq| *seq > 0)
}

fn temporary(e: StoreError) -> AdapterError {
    AdapterError::Temporary(format!("the browser room's log: {e}"))
}

fn relayed_event(
    relay_room: &str,
    copy: &bot_core::model::RelayContent,
    in_reply_to: Option<&str>,
    files: Vec<String>,
) -> RoomEvent {
    let target = in_reply_to.and_then(|id| seq_in(relay_room, id));
    match &copy.reacted_with {
        Some(key) => RoomEvent::Reaction {
            author: copy.author_name.clone(),
            author_id: None,
            origin: Some(copy.origin_label.clone()),
            key: key.clone(),
            target,
        },
        None => RoomEvent::Message {
            author: copy.author_name.clone(),
            author_id: None,
            origin: Some(copy.origin_label.clone()),
            body: copy.body.clone(),
            formatted_body: copy.formatted_body.clone(),
            reply_to: target,
            files,
        },
    }
}

impl WebAdapter {
    /// Appends `event` to the room's log; its number. The store may be briefly away: the
    /// engine tries again.
    async fn put(
        &self,
        room: &str,
        event: &RoomEvent,
        session_uid: Option<&str>,
        audience: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<i64, AdapterError> {
        let (seq, _) = self
            .0
            .append(room, event, session_uid, audience, idempotency_key)
            .await
            .map_err(temporary)?;
        Ok(seq)
    }
}

#[async_trait]
impl Adapter for WebAdapter {
    fn platform(&self) -> Platform {
        Platform::Web
    }

    async fn post(&self, post: &Post) -> Result<String, AdapterError> {
        let mut text = post.content.text.clone();
        if !post.content.mentions.is_empty() {
            text.push_str(&format!(" (cc {})", post.content.mentions.join(", ")));
        }
        let event = RoomEvent::Post {
            label: post_label(post.content.kind),
            text,
            hashtag: post.content.hashtag.clone(),
        };
        let seq = self
            .put(
                &post.room.id,
                &event,
                Some(&post.session.uid),
                None,
                Some(&post.idempotency_key),
            )
            .await?;
        Ok(message_id(&post.room.id, seq))
    }

    async fn reply(&self, reply: &Reply) -> Result<(), AdapterError> {
        let uid = self.0.live_uid(&reply.room.id).await.map_err(temporary)?;
        let audience = reply.private.then_some(reply.to.id.as_str());
        self.put(
            &reply.room.id,
            &RoomEvent::Answer {
                text: reply.text.clone(),
            },
            uid.as_deref(),
            audience,
            None,
        )
        .await?;
        Ok(())
    }

    async fn relay(&self, relay: &RelayPost) -> Result<String, AdapterError> {
        let files = relay.files.iter().map(|f| f.name.clone()).collect();
        let event = relayed_event(
            &relay.room.id,
            &relay.content,
            relay.in_reply_to.as_deref(),
            files,
        );
        let seq = self
            .put(
                &relay.room.id,
                &event,
                Some(&relay.session.uid),
                None,
                Some(&relay.idempotency_key),
            )
            .await?;
        Ok(message_id(&relay.room.id, seq))
    }

    async fn edit_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        let Some(target) = seq_in(&copy.room.id, &copy.copy_msg_id) else {
            return Err(AdapterError::Permanent(format!(
                "`{}` is not a message of the browser room {}",
                copy.copy_msg_id, copy.room.id
            )));
        };
        let event = RoomEvent::Edit {
            target,
            body: copy.content.body.clone(),
            formatted_body: copy.content.formatted_body.clone(),
        };
        self.put(
            &copy.room.id,
            &event,
            Some(&copy.session.uid),
            None,
            Some(&copy.idempotency_key),
        )
        .await?;
        Ok(())
    }

    async fn delete_relay(&self, copy: &RelayedCopy) -> Result<(), AdapterError> {
        let Some(target) = seq_in(&copy.room.id, &copy.copy_msg_id) else {
            // Not one of ours: nothing here to delete.
            return Ok(());
        };
        self.put(
            &copy.room.id,
            &RoomEvent::Delete { target },
            Some(&copy.session.uid),
            None,
            Some(&copy.idempotency_key),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_name_their_room_and_number() {
        assert_eq!(message_id("interlibnet", 12), "interlibnet.12");
        assert_eq!(seq_in("interlibnet", "interlibnet.12"), Some(12));
        assert_eq!(seq_in("interlibnet", "other.12"), None);
        assert_eq!(seq_in("inter", "interlibnet.12"), None);
        assert_eq!(seq_in("interlibnet", "interlibnet.0"), None);
        assert_eq!(seq_in("interlibnet", "interlibnet.x"), None);
    }
}
