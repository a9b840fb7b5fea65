//! hashchat on Discord. So far: what Discord's ids look like, for the core to check chat files
//! by ([`rules`]). The serenity adapter (slash commands, capture, posting) is to come here.

use std::sync::Arc;

use bot_core::ids::Platform;
use bot_core::platforms::PlatformRules;

/// What the core is told of Discord.
pub fn rules() -> Arc<dyn PlatformRules> {
    Arc::new(DiscordRules)
}

/// Discord's rules for the core: channels and users are snowflakes.
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
}

/// A snowflake: a 64-bit number written in decimal.
fn snowflake(id: &str, what: &str) -> Result<(), String> {
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
