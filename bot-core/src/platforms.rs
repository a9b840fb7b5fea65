//! What the core is told of each platform by the crate that adapts it, before anything
//! connects: the table of `hashchat.toml` the adapter owns and how it is checked, the table of a
//! chat file it owns (options for that chat's rooms on the platform), and what the platform's
//! room and user ids look like. The binary gathers them into [`Platforms`] and hands
//! them to whatever reads the config and the chat files; the core itself names the platforms
//! ([`Platform`]) and nothing more.

use std::sync::Arc;

use crate::chat::{LocatedError, Node, Reader};
use crate::config::PlatformSection;
use crate::ids::{check_name, Platform, RoomRef, UserRef};

/// One platform's rules, from its adapter crate.
pub trait PlatformRules: Send + Sync {
    fn platform(&self) -> Platform;
    /// `Err` says what a room id of this platform looks like.
    fn check_room(&self, id: &str) -> Result<(), String>;
    /// `Err` says what a user id of this platform looks like.
    fn check_user(&self, id: &str) -> Result<(), String>;
    /// The table of `hashchat.toml` the adapter owns (`matrix` for `[matrix]`), if any.
    fn config_section(&self) -> Option<&'static str> {
        None
    }
    /// Every problem in that table, located (read it with [`PlatformSection::read`]).
    fn check_config(&self, _section: &PlatformSection) -> Vec<LocatedError> {
        Vec::new()
    }
    /// The table of a chat file the adapter owns (`discord` for `[discord]`), if any: how that
    /// chat runs in its rooms on this platform.
    fn chat_section(&self) -> Option<&'static str> {
        None
    }
    /// Reads that table (`node`) with the core's located reader, reporting each problem
    /// through `r`: the options as the adapter wants them handed back with each post
    /// ([`Post::options`](crate::adapter::Post::options)), which the chat keeps; `None` when
    /// there were problems. The core keeps the value and never looks inside it.
    fn read_chat_section(
        &self,
        _r: &mut Reader<'_>,
        _node: &Node<'_>,
    ) -> Option<serde_json::Value> {
        Some(serde_json::Value::Null)
    }
}

/// The rules of every platform this build knows. A platform without rules here has its ids
/// checked only for what any id must be (`ids::check_any_id`), and its config table is unknown.
#[derive(Clone)]
pub struct Platforms {
    rules: Vec<Arc<dyn PlatformRules>>,
}

impl Default for Platforms {
    /// The core's own platform only: loopback.
    fn default() -> Self {
        Platforms {
            rules: vec![Arc::new(LoopbackRules)],
        }
    }
}

impl Platforms {
    /// The loopback platform's rules and `rules`; a later entry for the same platform wins.
    pub fn with(rules: impl IntoIterator<Item = Arc<dyn PlatformRules>>) -> Self {
        let mut platforms = Platforms::default();
        for rule in rules {
            platforms.rules.retain(|r| r.platform() != rule.platform());
            platforms.rules.push(rule);
        }
        platforms
    }

    fn rules_for(&self, platform: Platform) -> Option<&dyn PlatformRules> {
        self.rules
            .iter()
            .find(|r| r.platform() == platform)
            .map(|r| r.as_ref())
    }

    pub fn check_room(&self, room: &RoomRef) -> Result<(), String> {
        self.rules_for(room.platform)
            .map_or(Ok(()), |r| r.check_room(&room.id))
    }

    pub fn check_user(&self, user: &UserRef) -> Result<(), String> {
        self.rules_for(user.platform)
            .map_or(Ok(()), |r| r.check_user(&user.id))
    }

    /// The config tables the adapters own.
    pub fn config_sections(&self) -> Vec<&'static str> {
        self.rules
            .iter()
            .filter_map(|r| r.config_section())
            .collect()
    }

    /// The chat-file tables the adapters own.
    pub fn chat_sections(&self) -> Vec<&'static str> {
        self.rules.iter().filter_map(|r| r.chat_section()).collect()
    }

    /// The rules owning the chat-file table `name`.
    pub(crate) fn chat_section_owner(&self, name: &str) -> Option<&dyn PlatformRules> {
        self.rules
            .iter()
            .find(|r| r.chat_section() == Some(name))
            .map(|r| r.as_ref())
    }

    /// The rules owning the config table `name`.
    pub(crate) fn owner_of(&self, name: &str) -> Option<&dyn PlatformRules> {
        self.rules
            .iter()
            .find(|r| r.config_section() == Some(name))
            .map(|r| r.as_ref())
    }
}

/// The in-process platform of the demo and the tests: rooms and people are short names.
struct LoopbackRules;

impl PlatformRules for LoopbackRules {
    fn platform(&self) -> Platform {
        Platform::Loopback
    }
    fn check_room(&self, id: &str) -> Result<(), String> {
        check_name(id).map_err(|e| format!("{e}: a loopback room"))
    }
    fn check_user(&self, id: &str) -> Result<(), String> {
        check_name(id).map_err(|e| format!("{e}: a loopback user"))
    }
}

/// For the core's own tests of the shipped files: the web platform as far as the core sees it,
/// owning the chat files' `[web]` table (the real rules, which read it, are the web adapter's;
/// the binary's tests check the shipped files with them).
#[cfg(test)]
pub(crate) fn shipped() -> Platforms {
    struct OwnsWebTable;
    impl PlatformRules for OwnsWebTable {
        fn platform(&self) -> Platform {
            Platform::Web
        }
        fn check_room(&self, id: &str) -> Result<(), String> {
            check_name(id)
        }
        fn check_user(&self, id: &str) -> Result<(), String> {
            check_name(id)
        }
        fn chat_section(&self) -> Option<&'static str> {
            Some("web")
        }
    }
    Platforms::with([Arc::new(OwnsWebTable) as Arc<dyn PlatformRules>])
}

/// For the core's own tests: a platform (standing in as Discord) that owns `[fake]` in
/// `hashchat.toml` (`name`: required, at most 8 characters) and in chat files (`mode`: `a` or
/// `b`).
#[cfg(test)]
pub(crate) mod fake {
    use super::*;

    pub(crate) struct FakeRules;

    pub(crate) fn read_name(r: &mut Reader<'_>, node: &Node<'_>) -> Option<String> {
        r.unknown_keys(node, &["name"]);
        r.text(node, "name", Some("a name"), 8, "").map(|n| n.value)
    }

    impl PlatformRules for FakeRules {
        fn platform(&self) -> Platform {
            Platform::Discord
        }
        fn check_room(&self, _: &str) -> Result<(), String> {
            Ok(())
        }
        fn check_user(&self, _: &str) -> Result<(), String> {
            Ok(())
        }
        fn config_section(&self) -> Option<&'static str> {
            Some("fake")
        }
        fn check_config(&self, section: &PlatformSection) -> Vec<LocatedError> {
            section.read(read_name).err().unwrap_or_default()
        }
        fn chat_section(&self) -> Option<&'static str> {
            Some("fake")
        }
        fn read_chat_section(
            &self,
            r: &mut Reader<'_>,
            node: &Node<'_>,
        ) -> Option<serde_json::Value> {
            r.unknown_keys(node, &["mode"]);
            let mode = r.string(node, "mode", Some("`a` or `b`"))?;
            if mode.value != "a" && mode.value != "b" {
                r.error(mode.line, mode.field, "must be `a` or `b`");
                return None;
            }
            Some(serde_json::json!({ "mode": mode.value }))
        }
    }

    pub(crate) fn with_fake() -> Platforms {
        Platforms::with([Arc::new(FakeRules) as Arc<dyn PlatformRules>])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Strict;
    impl PlatformRules for Strict {
        fn platform(&self) -> Platform {
            Platform::Discord
        }
        fn check_room(&self, id: &str) -> Result<(), String> {
            if id.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(format!("`{id}` is not a number"))
            }
        }
        fn check_user(&self, id: &str) -> Result<(), String> {
            self.check_room(id)
        }
        fn config_section(&self) -> Option<&'static str> {
            Some("discord")
        }
    }

    #[test]
    fn each_platform_is_checked_by_its_own_rules_and_others_pass() {
        let platforms = Platforms::with([Arc::new(Strict) as Arc<dyn PlatformRules>]);
        let room = |text: &str| text.parse::<RoomRef>().unwrap();
        assert!(platforms.check_room(&room("discord:123")).is_ok());
        assert_eq!(
            platforms.check_room(&room("discord:12ab")),
            Err("`12ab` is not a number".to_owned())
        );
        assert!(platforms.check_room(&room("loopback:has.dot")).is_err());
        assert!(platforms.check_room(&room("matrix:!any:thing")).is_ok());
        assert_eq!(platforms.config_sections(), ["discord"]);
        assert!(Platforms::default().config_sections().is_empty());
    }
}
