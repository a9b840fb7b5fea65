//! Time, injected.
//!
//! The engine never reads the system clock directly: it asks a [`Clock`] what time it is and how
//! long to really wait for a moment on that clock. Engine tests move a [`ManualClock`] from one
//! due time to the next, so a one-hour chat takes milliseconds and every time is exact; the demo
//! and the run-loop tests use [`AcceleratedClock`].
//!
//! tokio's paused clock is not used: it jumps ahead whenever the runtime waits on SQLite's worker
//! thread, which times out the connection pool.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + 'static {
    /// The current time on this clock.
    fn now(&self) -> DateTime<Utc>;

    /// How long to sleep on tokio's timer so that this clock reaches `at`.
    fn wait_until(&self, at: DateTime<Utc>) -> Duration {
        (at - self.now()).to_std().unwrap_or(Duration::ZERO)
    }

    /// This clock's reading at the wall-clock instant `wall`: platforms stamp messages with
    /// the wall clock, the session timeline is kept on this one.
    fn reading_at_wall(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        wall
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Time that runs `speed` times faster than the wall clock from an anchor instant: at the anchor
/// both agree, and every real second after it is `speed` seconds here.
///
/// Anchored on the wall clock rather than on when the process started, so a process restarted
/// with the same anchor and speed finds the same virtual time (the restart tests rely on this).
#[derive(Debug, Clone)]
pub struct AcceleratedClock {
    anchor: DateTime<Utc>,
    speed: f64,
}

impl AcceleratedClock {
    /// `speed` must be finite and positive; callers validate user input before this.
    pub fn new(anchor: DateTime<Utc>, speed: f64) -> Self {
        assert!(speed.is_finite() && speed > 0.0, "speed must be positive");
        AcceleratedClock { anchor, speed }
    }

    fn at_real(&self, real: DateTime<Utc>) -> DateTime<Utc> {
        let elapsed_ms = (real - self.anchor).num_milliseconds() as f64 * self.speed;
        // A timestamp far outside the calendar (a platform can send one) stays as it was.
        chrono::Duration::try_milliseconds(elapsed_ms as i64)
            .and_then(|d| self.anchor.checked_add_signed(d))
            .unwrap_or(real)
    }
}

impl Clock for AcceleratedClock {
    fn now(&self) -> DateTime<Utc> {
        self.at_real(Utc::now())
    }

    fn wait_until(&self, at: DateTime<Utc>) -> Duration {
        (at - self.now())
            .to_std()
            .map(|d| d.div_f64(self.speed))
            .unwrap_or(Duration::ZERO)
    }

    fn reading_at_wall(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        self.at_real(wall)
    }
}

/// A clock moved only by hand; for unit tests of code that reads the time but does not sleep.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(at)),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn accelerated_clock_runs_fast_from_its_anchor() {
        let anchor = Utc.with_ymd_and_hms(2026, 3, 1, 18, 0, 0).unwrap();
        let clock = AcceleratedClock::new(anchor, 60.0);
        assert_eq!(clock.at_real(anchor), anchor);
        assert_eq!(
            clock.at_real(anchor + chrono::Duration::seconds(10)),
            anchor + chrono::Duration::minutes(10)
        );
        let real_wait = clock.wait_until(clock.now() + chrono::Duration::minutes(10));
        assert!(real_wait <= Duration::from_secs(10) && real_wait > Duration::from_secs(9));
    }
}
