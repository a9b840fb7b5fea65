//! hashchat.toml. (Stub: being written.)
