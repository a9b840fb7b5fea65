//! What one browser, and one address, may send: message length and rates (token buckets kept
//! in memory; a restart forgets them, which only ever lets someone send a little sooner).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A rate: `burst` at once, then `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub per_second: f64,
}

/// The room's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Messages, reactions and commands of one participant.
    pub per_participant: Rate,
    /// Every form post from one address (joins, sign-in attempts and messages alike).
    pub per_address: Rate,
    /// Sign-in attempts from one address.
    pub sign_in: Rate,
    /// The longest message, in characters: long enough for an answer, short enough to relay
    /// to Discord with its author's name in one message.
    pub max_message_chars: usize,
    /// The longest name.
    pub max_name_chars: usize,
    /// How long a name stays one person's in a room after they were last seen there.
    pub name_hold: chrono::Duration,
    /// Live streams one address may hold open at once (a classroom behind one address has a
    /// page or two per pupil).
    pub max_streams_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_participant: Rate {
                burst: 5,
                per_second: 0.5,
            },
            per_address: Rate {
                burst: 60,
                per_second: 10.0,
            },
            sign_in: Rate {
                burst: 5,
                per_second: 1.0 / 60.0,
            },
            max_message_chars: 1500,
            max_name_chars: 40,
            name_hold: chrono::Duration::hours(12),
            max_streams_per_address: 200,
        }
    }
}

/// Keys above this many are swept of buckets that have filled up again.
const SWEEP_AT: usize = 10_000;

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes one from `key`'s bucket; `Err` says how long until there is one.
    pub fn take(&self, key: &str, rate: Rate) -> Result<(), Duration> {
        self.take_at(key, rate, Instant::now())
    }

    fn take_at(&self, key: &str, rate: Rate, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate.per_second
                    < f64::from(rate.burst)
            });
        }
        let burst = f64::from(rate.burst);
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate.per_second).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if rate.per_second > 0.0 {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate.per_second))
        } else {
            Err(Duration::MAX)
        }
    }
}

/// `wait` as people read it: "3 seconds", "a minute".
pub fn wait_words(wait: Duration) -> String {
    let secs = wait.as_secs_f64().ceil() as u64;
    match secs {
        0 | 1 => "a second".to_owned(),
        2..=59 => format!("{secs} seconds"),
        60..=119 => "a minute".to_owned(),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let limiter = RateLimiter::default();
        let rate = Rate {
            burst: 3,
            per_second: 0.5,
        };
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take_at("ada", rate, start).is_ok());
        }
        let wait = limiter.take_at("ada", rate, start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(2));
        assert!(
            limiter.take_at("bob", rate, start).is_ok(),
            "each key its own bucket"
        );
        assert!(limiter
            .take_at("ada", rate, start + Duration::from_secs(2))
            .is_ok());
        assert!(limiter
            .take_at("ada", rate, start + Duration::from_secs(2))
            .is_err());
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_words(Duration::from_millis(300)), "a second");
        assert_eq!(wait_words(Duration::from_millis(2500)), "3 seconds");
        assert_eq!(wait_words(Duration::from_secs(61)), "a minute");
        assert_eq!(wait_words(Duration::from_secs(600)), "10 minutes");
    }
}
