//! The loopback adapter. (Stub: being written.)
