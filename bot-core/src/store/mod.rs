//! The store. (Stub: being written.)
