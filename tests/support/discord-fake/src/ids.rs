//! Typed snowflake ids and the generator that hands them out.
//!
//! Discord ids are 64-bit snowflakes: milliseconds since the Discord epoch (2015-01-01) shifted
//! left by 22 bits, plus worker/process/increment bits. The fake makes them the same way so that
//! ids sort in creation order (history paging relies on that) and a timestamp can be read back
//! out of an id, as clients do.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Milliseconds from the Unix epoch to the Discord epoch (2015-01-01T00:00:00Z).
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(
            #[serde(with = "snowflake_string")] pub u64,
        );

        impl $name {
            /// The raw 64-bit value.
            pub fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                Self(v)
            }
        }
    )*};
}

id_type!(
    /// A guild (a Discord "server").
    GuildId,
    /// A channel: a text channel or a thread.
    ChannelId,
    /// A user (human or bot).
    UserId,
    /// A message.
    MessageId,
    /// A role. A guild's @everyone role has the guild's id.
    RoleId,
    /// An application (the bot's application).
    ApplicationId,
    /// An application command registered by the bot.
    CommandId,
    /// An interaction (a slash-command invocation or an autocomplete request).
    InteractionId,
    /// A guild scheduled event.
    ScheduledEventId,
    /// An attachment.
    AttachmentId,
    /// A webhook.
    WebhookId,
);

/// Snowflakes travel as strings in JSON (they do not fit a JavaScript number); accept numbers too,
/// since some clients send them that way and Discord accepts both.
pub(crate) mod snowflake_string {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            S(String),
            N(u64),
        }
        match Either::deserialize(d)? {
            Either::S(s) => s.parse().map_err(de::Error::custom),
            Either::N(n) => Ok(n),
        }
    }
}

/// Parses a snowflake from JSON that may be a string or a number.
pub(crate) fn parse_snowflake(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Hands out strictly increasing snowflakes based on the wall clock.
#[derive(Debug, Default)]
pub(crate) struct SnowflakeGen {
    last: u64,
}

impl SnowflakeGen {
    /// The next id: the current time's snowflake, or one more than the last id if the clock has
    /// not moved on (or went backwards), so ids stay unique and ordered.
    pub fn next(&mut self) -> u64 {
        let now_ms = Utc::now().timestamp_millis().max(0) as u64;
        let candidate = now_ms.saturating_sub(DISCORD_EPOCH_MS) << 22;
        let id = candidate.max(self.last + 1);
        self.last = id;
        id
    }
}

/// The creation time encoded in a snowflake.
pub fn snowflake_time(id: u64) -> DateTime<Utc> {
    let ms = (id >> 22) + DISCORD_EPOCH_MS;
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflakes_increase_and_carry_their_creation_time() {
        let mut g = SnowflakeGen::default();
        let a = g.next();
        let b = g.next();
        assert!(b > a);
        let age = Utc::now() - snowflake_time(b);
        assert!(age.num_seconds().abs() < 5, "time read back from id: {age}");
    }

    #[test]
    fn ids_serialize_as_strings_and_accept_numbers() {
        let id = MessageId(42);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"42\"");
        let back: MessageId = serde_json::from_str("42").unwrap();
        assert_eq!(back, id);
    }
}
