//! Turning the store's contents into text people read.

pub mod html;
pub mod markdown;
pub mod plain;
