//! Turning the store's contents into text people read.

pub mod markdown;
pub mod plain;
