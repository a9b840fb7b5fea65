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
    #[error("expected `platform:id`, where the platform is one of: {names}", names = platform_names())]
    MissingPlatform,
    #[error("unknown platform `{0}` (accepted: {names})", names = platform_names())]
    UnknownPlatform(String),
    #[error("{0}")]
    Malformed(String),
}

fn platform_names() -> String {
    Platform::ALL.map(Platform::as_str).join(", ")
}

/// What every id must be, on any platform: 1 to 255 bytes without spaces or control
/// characters (which could not be typed in a chat file, nor kept by every database).
pub fn check_any_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() || id.len() > 255 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(IdError::Malformed(format!(
            "`{id}` is not an id (1 to 255 bytes, no spaces or control characters)"
        )))
    } else {
        Ok(())
    }
}

/// A short name as the in-process platforms use for rooms and people: 1 to 64 letters, digits,
/// `-` or `_`.
pub fn check_name(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a name (1 to 64 letters, digits, `-` or `_`)"
        ))
    }
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
    /// Checks only what any id must be: the platform's own rules are its adapter's
    /// ([`crate::platforms::PlatformRules`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (platform, id) = s.split_once(':').ok_or(IdError::MissingPlatform)?;
        let platform: Platform = platform.parse()?;
        check_any_id(id)?;
        Ok(RoomRef::new(platform, id))
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
    /// Checks only what any id must be: the platform's own rules are its adapter's
    /// ([`crate::platforms::PlatformRules`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (platform, id) = s.split_once(':').ok_or(IdError::MissingPlatform)?;
        let platform: Platform = platform.parse()?;
        check_any_id(id)?;
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
        for bad in [
            "discord:",
            "web:has space",
            "matrix:tab\there",
            "loopback:nul\0",
        ] {
            assert!(
                matches!(bad.parse::<RoomRef>(), Err(IdError::Malformed(_))),
                "{bad:?}"
            );
        }
        let long = format!("matrix:!{}:x", "a".repeat(300));
        assert!(long.parse::<RoomRef>().is_err());
        assert_eq!(
            IdError::UnknownPlatform("irc".into()).to_string(),
            "unknown platform `irc` (accepted: discord, matrix, web, loopback)"
        );
    }

    #[test]
    fn user_refs_are_checked_only_for_what_any_id_must_be() {
        assert!("matrix:@alice:example.org".parse::<UserRef>().is_ok());
        assert!("discord:80351110224678912".parse::<UserRef>().is_ok());
        assert!("discord:".parse::<UserRef>().is_err());
        assert!("web:two words".parse::<UserRef>().is_err());
    }

    #[test]
    fn names_are_short_and_plain() {
        assert!(check_name("demo-room_1").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name(&"a".repeat(65)).is_err());
    }
}
