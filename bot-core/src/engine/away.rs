//! Never a silent stall: when a platform has been away (down, or silent, see `health.rs`) for
//! a minute while a session runs with rooms there and elsewhere, the session's other rooms are
//! told, and told again when it is back, so people know why that side went quiet and that
//! its messages will follow. Each is logged too (a warning, then an info line).
//!
//! Notices are posted as they happen, not through the outbox: they are about the bot, not
//! part of the chat, and are never in a transcript. One that fails is logged and not retried;
//! the next change is told as usual. Each carries its own idempotency key (platform, session,
//! room, and when the absence began), so a platform that dedupes by key shows it once.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::Engine;
use crate::adapter::Post;
use crate::ids::{Platform, RoomRef};
use crate::model::{PostContent, PostKind};

/// Away for this long before the other rooms are told.
pub const AWAY_NOTICE_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// The platforms whose absence was told, and since when they were away.
#[derive(Default)]
pub(super) struct AwayNotices {
    told: Mutex<HashMap<Platform, DateTime<Utc>>>,
}

enum Change {
    Away { since: DateTime<Utc> },
    Back { since: DateTime<Utc> },
}

impl Engine {
    /// Tells the running sessions' other rooms about each platform that has been away for a
    /// minute, or is back after that. `Engine::run` calls it every few seconds; tests call it
    /// on a manual clock.
    pub async fn check_platforms(&self) {
        let now = self.now();
        let mut changes = Vec::new();
        {
            let mut told = self
                .inner
                .away
                .told
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for status in self.inner.health.snapshot() {
                match (status.away_since, told.get(&status.platform).copied()) {
                    (Some(since), None) if now - since >= AWAY_NOTICE_AFTER => {
                        told.insert(status.platform, since);
                        changes.push((status.platform, Change::Away { since }));
                    }
                    (None, Some(since)) => {
                        told.remove(&status.platform);
                        changes.push((status.platform, Change::Back { since }));
                    }
                    _ => {}
                }
            }
        }
        for (platform, change) in changes {
            let label = self
                .adapter(platform)
                .map_or_else(|| platform.as_str().to_owned(), |a| a.label());
            match &change {
                Change::Away { since } => {
                    tracing::warn!(%platform, %since, "a platform has been away for a minute; telling the sessions' other rooms")
                }
                Change::Back { since } => {
                    tracing::info!(%platform, %since, "a platform is back; telling the sessions' other rooms")
                }
            }
            if let Err(e) = self.tell_other_rooms(platform, &label, &change).await {
                tracing::warn!(%platform, error = %e, "could not tell the other rooms about a platform");
            }
        }
    }

    async fn tell_other_rooms(
        &self,
        platform: Platform,
        label: &str,
        change: &Change,
    ) -> Result<(), super::EngineError> {
        let sessions: HashSet<_> = {
            let live = super::lock(&self.inner.live_rooms);
            live.iter()
                .filter(|(room, _)| room.platform == platform)
                .map(|(_, s)| s.id)
                .collect()
        };
        for id in sessions {
            let Some(session) = self.inner.store.get_session(id).await? else {
                continue;
            };
            let Some(context) = self.post_context(id).await? else {
                continue;
            };
            let zone = context.session.time_zone;
            let (since, kind) = match change {
                Change::Away { since } => (*since, "away"),
                Change::Back { since } => (*since, "back"),
            };
            let at = crate::render::plain::format_local(since, zone);
            let text = match change {
                Change::Away { .. } => format!(
                    "{label} has been unreachable since {at}. Messages written there will \
                     reach this room when it is back."
                ),
                Change::Back { .. } => format!(
                    "{label} is back (it was away from {at}). Messages written there meanwhile \
                     follow now."
                ),
            };
            let rooms: Vec<RoomRef> = session
                .rooms
                .iter()
                .filter(|r| r.platform != platform)
                .cloned()
                .collect();
            for room in rooms {
                let Some(adapter) = self.adapter(room.platform) else {
                    continue;
                };
                let post = Post {
                    idempotency_key: format!(
                        "hc-{kind}-{}-{}-{}-{}",
                        platform.as_str(),
                        session.uid,
                        since.timestamp_millis(),
                        room
                    ),
                    room: room.clone(),
                    content: PostContent {
                        kind: PostKind::Notice,
                        hashtag: context
                            .chat
                            .as_ref()
                            .map_or_else(String::new, |c| c.hashtag.clone()),
                        text: text.clone(),
                        mentions: Vec::new(),
                    },
                    options: context.options_for(&room),
                    session: context.session.clone(),
                };
                if let Err(e) = adapter.post(&post).await {
                    tracing::warn!(%room, error = %e, "a notice about a platform was not posted");
                }
            }
        }
        Ok(())
    }
}
