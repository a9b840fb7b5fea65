//! The engine. (Stub: being written.)
