//! Is each platform there? Adapters say when their connection comes up, goes down, and each
//! time it shows it is alive (a sync answered, a gateway event or heartbeat acknowledged);
//! `/readyz`, `/metrics`, `hashchat status` and the engine's away notices read it here.
//!
//! A platform is *away* when its connection is down, or up but silent for longer than
//! [`SILENT_AFTER`]: both of hashchat's long-lived connections hear from their server well
//! within that (a Matrix sync answers at least every 30 s, Discord acknowledges a heartbeat
//! about every 41 s), so silence that long is a stall, not a quiet room.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::SharedClock;
use crate::ids::Platform;

/// Silence longer than this is a stall.
pub const SILENT_AFTER: Duration = Duration::from_secs(90);

/// A connection's state as its adapter last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Configured, not connected yet.
    Connecting,
    Up,
    Down,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Connecting => "connecting",
            Link::Up => "up",
            Link::Down => "down",
        }
    }
}

/// One platform's picture at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformStatus {
    pub platform: Platform,
    pub link: Link,
    /// When the link last changed.
    pub since: DateTime<Utc>,
    /// When the platform was last heard from, if ever.
    pub last_heard: Option<DateTime<Utc>>,
    /// How long ago that was (or since it was expected, if never), as of the snapshot.
    pub silent_for: std::time::Duration,
    /// Down, or up and silent for longer than [`SILENT_AFTER`]; since when.
    pub away_since: Option<DateTime<Utc>>,
}

impl PlatformStatus {
    pub fn is_away(&self) -> bool {
        self.away_since.is_some()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    link: Link,
    since: DateTime<Utc>,
    last_heard: Option<DateTime<Utc>>,
}

/// The platforms this process connects to and how each is doing.
pub struct PlatformHealth {
    clock: SharedClock,
    platforms: Mutex<BTreeMap<Platform, Entry>>,
}

impl std::fmt::Debug for PlatformHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformHealth").finish_non_exhaustive()
    }
}

impl PlatformHealth {
    pub fn new(clock: SharedClock) -> PlatformHealth {
        PlatformHealth {
            clock,
            platforms: Mutex::new(BTreeMap::new()),
        }
    }

    fn set(&self, platform: Platform, change: impl FnOnce(&mut Entry, DateTime<Utc>)) {
        let now = self.clock.now();
        let mut platforms = self.platforms.lock().unwrap_or_else(|e| e.into_inner());
        let entry = platforms.entry(platform).or_insert(Entry {
            link: Link::Connecting,
            since: now,
            last_heard: None,
        });
        change(entry, now);
    }

    /// `platform` is configured here; until it comes up it counts as connecting (and not
    /// ready). Saying so again changes nothing.
    pub fn expect(&self, platform: Platform) {
        self.set(platform, |_, _| {});
    }

    /// The connection is up (and the platform just answered).
    pub fn up(&self, platform: Platform) {
        self.set(platform, |e, now| {
            if e.link != Link::Up {
                e.link = Link::Up;
                e.since = now;
            }
            e.last_heard = Some(now);
        });
    }

    /// The platform answered: the connection is alive.
    pub fn heard(&self, platform: Platform) {
        self.up(platform);
    }

    /// The connection is gone; the adapter is trying again.
    pub fn down(&self, platform: Platform) {
        self.set(platform, |e, now| {
            if e.link != Link::Down {
                e.link = Link::Down;
                e.since = now;
            }
        });
    }

    /// Every expected platform, in a fixed order, as of now.
    pub fn snapshot(&self) -> Vec<PlatformStatus> {
        let now = self.clock.now();
        let silent = chrono::Duration::from_std(SILENT_AFTER).unwrap_or(chrono::Duration::MAX);
        let platforms = self.platforms.lock().unwrap_or_else(|e| e.into_inner());
        platforms
            .iter()
            .map(|(platform, e)| {
                let away_since = match e.link {
                    Link::Down => Some(e.since),
                    Link::Connecting => None,
                    Link::Up => {
                        let heard = e.last_heard.unwrap_or(e.since);
                        (now - heard > silent).then_some(heard)
                    }
                };
                PlatformStatus {
                    platform: *platform,
                    link: e.link,
                    since: e.since,
                    last_heard: e.last_heard,
                    silent_for: (now - e.last_heard.unwrap_or(e.since))
                        .to_std()
                        .unwrap_or_default(),
                    away_since,
                }
            })
            .collect()
    }

    /// Every expected platform is up and not silent.
    pub fn all_ready(&self) -> bool {
        self.snapshot()
            .iter()
            .all(|s| s.link == Link::Up && !s.is_away())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    #[test]
    fn a_platform_is_away_when_down_or_silent_and_back_when_heard() {
        let clock = ManualClock::new(Utc::now());
        let health = PlatformHealth::new(Arc::new(clock.clone()));
        assert!(health.all_ready(), "nothing expected: ready");
        health.expect(Platform::Matrix);
        let s = &health.snapshot()[0];
        assert_eq!((s.link, s.is_away()), (Link::Connecting, false));
        assert!(!health.all_ready(), "not connected yet");

        health.up(Platform::Matrix);
        assert!(health.all_ready());
        clock.advance(chrono::Duration::seconds(89));
        assert!(health.all_ready(), "quiet, within the allowance");
        clock.advance(chrono::Duration::seconds(2));
        let s = &health.snapshot()[0];
        assert_eq!(s.link, Link::Up);
        assert!(s.is_away(), "silent for 91 s is a stall");
        assert!(!health.all_ready());
        health.heard(Platform::Matrix);
        assert!(health.all_ready());

        let lost_at = clock.now();
        health.down(Platform::Matrix);
        clock.advance(chrono::Duration::seconds(5));
        health.down(Platform::Matrix);
        let s = &health.snapshot()[0];
        assert_eq!((s.link, s.away_since), (Link::Down, Some(lost_at)));
        health.up(Platform::Matrix);
        assert!(!health.snapshot()[0].is_away());
    }
}
