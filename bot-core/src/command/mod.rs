//! The command set. (Stub: being written.)
