//! Identifiers shared by every platform: which platform, which room, which person.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A chat platform hashchat can sit on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Discord,
    Matrix,
    Web,
    /// The in-process adapter used by the demo and the tests.
    Loopback,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Platform::Discord,
        Platform::Matrix,
        Platform::Web,
        Platform::Loopback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Discord => "discord",
            Platform::Matrix => "matrix",
            Platform::Web => "web",
            Platform::Loopback => "loopback",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "expected `platform:id`, e.g. `discord:123456789012345678` or `matrix:!room:example.org`"
    )]
    MissingPlatform,
    #[error("unknown platform `{0}` (accepted: discord, matrix, web, loopback)")]
    UnknownPlatform(String),
    #[error("{0}")]
    Malformed(String),
}

impl FromStr for Platform {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| IdError::UnknownPlatform(s.to_owned()))
    }
}

/// A room on a platform: a Discord channel, a Matrix room, a web room, a loopback room.
///
/// Written `platform:id`; the id's form is checked per platform so a typo in a chat file is
/// caught when the file is read, not when the first point fails to post.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomRef {
    pub platform: Platform,
    pub id: String,
}

impl RoomRef {
    pub fn new(platform: Platform, id: impl Into<String>) -> Self {
        RoomRef {
            platform,
            id: id.into(),
        }
    }
}

impl fmt::Display for RoomRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

impl FromStr for RoomRef {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (platform, id) = s.split_once(':').ok_or(IdError::MissingPlatform)?;
        let platform: Platform = platform.parse()?;
        validate_room_id(platform, id)?;
        Ok(RoomRef::new(platform, id))
    }
}

fn validate_room_id(platform: Platform, id: &str) -> Result<(), IdError> {
    match platform {
        Platform::Discord => validate_snowflake(id, "Discord channel id"),
        Platform::Matrix => {
            // Room ids (`!opaque:server`) and, for v12 rooms, server-less `!opaque`; aliases
            // (`#name:server`) are resolved by the adapter when it joins.
            let ok = match id.chars().next() {
                Some('!') => id.len() > 1 && !id.chars().any(char::is_whitespace),
                Some('#') => id
                    .split_once(':')
                    .is_some_and(|(l, s)| l.len() > 1 && !s.is_empty()),
                _ => false,
            };
            if ok && id.len() <= 255 {
                Ok(())
            } else {
                Err(IdError::Malformed(format!(
                    "`{id}` is not a Matrix room id (`!opaque:server`) or alias (`#name:server`)"
                )))
            }
        }
        Platform::Web | Platform::Loopback => validate_name(id),
    }
}

fn validate_snowflake(id: &str, what: &str) -> Result<(), IdError> {
    if !id.is_empty()
        && id.len() <= 20
        && id.bytes().all(|b| b.is_ascii_digit())
        && id.parse::<u64>().is_ok()
    {
        Ok(())
    } else {
        Err(IdError::Malformed(format!(
            "`{id}` is not a {what} (a number of up to 20 digits)"
        )))
    }
}

fn validate_name(id: &str) -> Result<(), IdError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(IdError::Malformed(format!(
            "`{id}` is not a room name (1 to 64 letters, digits, `-` or `_`)"
        )))
    }
}

/// A person on a platform: a Discord user id, a Matrix user id, a web or loopback name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserRef {
    pub platform: Platform,
    pub id: String,
}

impl UserRef {
    pub fn new(platform: Platform, id: impl Into<String>) -> Self {
        UserRef {
            platform,
            id: id.into(),
        }
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

impl FromStr for UserRef {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (platform, id) = s.split_once(':').ok_or(IdError::MissingPlatform)?;
        let platform: Platform = platform.parse()?;
        match platform {
            Platform::Discord => validate_snowflake(id, "Discord user id")?,
            Platform::Matrix => {
                let ok = id.starts_with('@')
                    && id
                        .split_once(':')
                        .is_some_and(|(l, s)| l.len() > 1 && !s.is_empty())
                    && id.len() <= 255
                    && !id.chars().any(char::is_whitespace);
                if !ok {
                    return Err(IdError::Malformed(format!(
                        "`{id}` is not a Matrix user id (`@name:server`)"
                    )));
                }
            }
            Platform::Web | Platform::Loopback => validate_name(id)?,
        }
        Ok(UserRef::new(platform, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_refs_round_trip_through_text() {
        for text in [
            "discord:123456789012345678",
            "matrix:!abc:example.org",
            "matrix:#interlibnet:example.org",
            "web:lobby",
            "loopback:demo",
        ] {
            let room: RoomRef = text.parse().unwrap();
            assert_eq!(room.to_string(), text);
        }
    }

    #[test]
    fn malformed_room_refs_are_rejected_with_a_reason() {
        assert_eq!("lobby".parse::<RoomRef>(), Err(IdError::MissingPlatform));
        assert!(
            matches!("irc:x".parse::<RoomRef>(), Err(IdError::UnknownPlatform(p)) if p == "irc")
        );
        assert!(matches!(
            "discord:12ab".parse::<RoomRef>(),
            Err(IdError::Malformed(_))
        ));
        assert!(matches!(
            "discord:".parse::<RoomRef>(),
            Err(IdError::Malformed(_))
        ));
        assert!(matches!(
            "matrix:room:example.org".parse::<RoomRef>(),
            Err(IdError::Malformed(_))
        ));
        assert!(matches!(
            "web:has space".parse::<RoomRef>(),
            Err(IdError::Malformed(_))
        ));
    }

    #[test]
    fn user_refs_are_checked_per_platform() {
        assert!("matrix:@alice:example.org".parse::<UserRef>().is_ok());
        assert!("matrix:alice".parse::<UserRef>().is_err());
        assert!("discord:80351110224678912".parse::<UserRef>().is_ok());
        assert!("discord:alice".parse::<UserRef>().is_err());
    }
}
