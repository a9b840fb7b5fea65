//! hashchat's platform-neutral engine.
//!
//! Adapters turn platform events into [`adapter::Inbound`] values and carry out the
//! [`adapter::Post`]s and [`adapter::Reply`]s the engine asks for; everything else (which chat
//! runs where, the session state machine, attribution of answers, what is durable) lives here.
//! Nothing in this crate knows about serenity or matrix-sdk.

pub mod adapter;
pub mod calendar;
pub mod chat;
pub mod clock;
pub mod command;
pub mod config;
pub mod engine;
pub mod health;
pub mod ids;
pub mod loopback;
pub mod media;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod platforms;
pub mod render;
pub mod rich;
pub mod store;
pub mod transcript;
