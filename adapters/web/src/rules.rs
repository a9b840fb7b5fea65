//! What the core is told of the web platform (the browser room to come): rooms and people
//! are short names.

use bot_core::ids::{check_name, Platform};
use bot_core::platforms::PlatformRules;

pub struct WebRules;

impl PlatformRules for WebRules {
    fn platform(&self) -> Platform {
        Platform::Web
    }
    fn check_room(&self, id: &str) -> Result<(), String> {
        check_name(id).map_err(|e| format!("{e}: a web room"))
    }
    fn check_user(&self, id: &str) -> Result<(), String> {
        check_name(id).map_err(|e| format!("{e}: a web participant"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_rooms_and_people_are_short_names() {
        assert!(WebRules.check_room("lobby").is_ok());
        assert_eq!(
            WebRules.check_room("has space"),
            Err(
                "`has space` is not a name (1 to 64 letters, digits, `-` or `_`): a web room"
                    .to_owned()
            )
        );
        assert!(WebRules.check_user("ada_1").is_ok());
    }
}
