//! What the core is told of the web platform (the browser room): rooms and people are short
//! names, and a chat file's `[web]` table says how its browser room runs.

use bot_core::chat::{Chat, Node, Reader};
use bot_core::ids::{check_name, Platform};
use bot_core::platforms::PlatformRules;
use serde::{Deserialize, Serialize};

pub struct WebRules;

/// A chat's `[web]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatOptions {
    /// What a visitor must type to join the browser room; `None`: anyone may join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// Whether the room shows the points to come between sessions.
    #[serde(default)]
    pub show_points: bool,
}

const CHAT_KEYS: &[&str] = &["passphrase", "show_points"];

/// `chat`'s options for its browser room (the defaults when its file has no `[web]`).
pub fn chat_options(chat: &Chat) -> ChatOptions {
    chat.platform_options
        .get(&Platform::Web)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

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
    fn chat_section(&self) -> Option<&'static str> {
        Some("web")
    }
    fn read_chat_section(&self, r: &mut Reader<'_>, node: &Node<'_>) -> Option<serde_json::Value> {
        r.unknown_keys(node, CHAT_KEYS);
        let passphrase = r
            .text(
                node,
                "passphrase",
                None,
                200,
                ", so that people can type it",
            )
            .map(|p| p.value);
        let show_points = r.boolean(node, "show_points")?.unwrap_or(false);
        serde_json::to_value(ChatOptions {
            passphrase,
            show_points,
        })
        .ok()
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
