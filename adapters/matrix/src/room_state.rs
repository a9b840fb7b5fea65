//! The rooms' state (members, power levels, encryption settings) is held in memory and read
//! in full by the first sync of every run; only the device's keys live on disk.
//!
//! matrix-sdk's on-disk state store costs a dozen SQLite round trips and an fsync on every
//! sync, before the bot sees a single event; the full-state sync at start costs one request.
//! Until it has come back, the bot does not know which rooms it is in, so posts wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether this run's first sync has loaded the rooms' state.
#[derive(Clone, Default)]
pub(crate) struct RoomStateLoaded(Arc<AtomicBool>);

impl RoomStateLoaded {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_loaded(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}
