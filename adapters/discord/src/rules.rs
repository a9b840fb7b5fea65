//! What Discord's ids look like, and the `[discord]` table: the rules the core is given for
//! this platform.

use bot_core::chat::{LocatedError, Node, Reader};
use bot_core::config::PlatformSection;
use bot_core::ids::Platform;
use bot_core::platforms::PlatformRules;

use crate::config::{DiscordConfig, SECTION};

/// Discord's rules for the core: `[discord]`; channels and users are snowflakes.
pub struct DiscordRules;

impl PlatformRules for DiscordRules {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn check_room(&self, id: &str) -> Result<(), String> {
        snowflake(id, "Discord channel id")
    }

    fn check_user(&self, id: &str) -> Result<(), String> {
        snowflake(id, "Discord user id")
    }

    fn config_section(&self) -> Option<&'static str> {
        Some(SECTION)
    }

    fn check_config(&self, section: &PlatformSection) -> Vec<LocatedError> {
        DiscordConfig::from_section(section)
            .err()
            .unwrap_or_default()
    }

    fn chat_section(&self) -> Option<&'static str> {
        Some(crate::threads::CHAT_SECTION)
    }

    fn read_chat_section(&self, r: &mut Reader<'_>, node: &Node<'_>) -> Option<serde_json::Value> {
        crate::threads::read_chat_options(r, node)
    }
}

/// A snowflake: a 64-bit number written in decimal.
pub(crate) fn snowflake(id: &str, what: &str) -> Result<(), String> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && id.parse::<u64>().is_ok() {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a {what} (a number of up to 20 digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_users_are_snowflakes() {
        assert!(DiscordRules.check_room("123456789012345678").is_ok());
        assert!(DiscordRules.check_user("80351110224678912").is_ok());
        assert_eq!(
            DiscordRules.check_room("12ab"),
            Err("`12ab` is not a Discord channel id (a number of up to 20 digits)".to_owned())
        );
        assert!(DiscordRules.check_user("alice").is_err());
        assert!(
            DiscordRules.check_room("99999999999999999999").is_err(),
            "past u64"
        );
        assert!(DiscordRules.check_room("+1").is_err());
    }
}
