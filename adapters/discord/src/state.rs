//! What the listener learns from the gateway and the adapter needs too: who the bot is, the
//! guilds' roles and owners, which channel is in which guild, which thread under which channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::events::GuildInfo;

/// Permission bits that make a member a moderator.
pub const ADMINISTRATOR: u64 = 1 << 3;
pub const MANAGE_EVENTS: u64 = 1 << 33;

#[derive(Default)]
pub(crate) struct Known {
    /// The bot's own user id (0 until READY).
    me: AtomicU64,
    /// The application's id (0 until READY): interaction follow-ups need it.
    application: AtomicU64,
    /// Connected to the gateway now.
    online: AtomicBool,
    guilds: Mutex<Guilds>,
}

#[derive(Default)]
struct Guilds {
    by_id: HashMap<u64, GuildInfo>,
    /// Channel (and thread) → guild.
    channel_guild: HashMap<u64, u64>,
    /// Thread → the channel it belongs to.
    thread_parent: HashMap<u64, u64>,
    /// A text command typed in a thread → that thread, until it is answered: the engine knows
    /// the command by its chat channel, and the answer belongs beside the command.
    command_thread: HashMap<u64, u64>,
}

impl Known {
    pub fn me(&self) -> u64 {
        self.me.load(Ordering::Relaxed)
    }

    pub fn application(&self) -> u64 {
        self.application.load(Ordering::Relaxed)
    }

    pub fn set_identity(&self, me: u64, application: u64) {
        self.me.store(me, Ordering::Relaxed);
        self.application.store(application, Ordering::Relaxed);
    }

    /// Sets whether the gateway is connected; returns what it was.
    pub fn set_online(&self, online: bool) -> bool {
        self.online.swap(online, Ordering::Relaxed)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Guilds) -> T) -> T {
        // A panic while holding this lock cannot leave it half-written in a way that matters:
        // every write is a single insert.
        let mut g = self
            .guilds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    pub fn add_guild(&self, guild: GuildInfo) {
        self.with(|g| {
            for (channel, parent) in &guild.channels {
                g.channel_guild.insert(*channel, guild.id);
                if let Some(p) = parent {
                    g.thread_parent.insert(*channel, *p);
                }
            }
            g.by_id.insert(guild.id, guild);
        });
    }

    pub fn remember_command_thread(&self, message: u64, thread: u64) {
        self.with(|g| g.command_thread.insert(message, thread));
    }

    /// The thread text command `message` was typed in, once (its answer is on its way).
    pub fn take_command_thread(&self, message: u64) -> Option<u64> {
        self.with(|g| g.command_thread.remove(&message))
    }

    pub fn add_thread(&self, thread: u64, parent: u64, guild: Option<u64>) {
        self.with(|g| {
            g.thread_parent.insert(thread, parent);
            if let Some(guild) = guild {
                g.channel_guild.insert(thread, guild);
            }
        });
    }

    pub fn remember_channel_guild(&self, channel: u64, guild: u64) {
        self.with(|g| g.channel_guild.insert(channel, guild));
    }

    pub fn guild_of(&self, channel: u64) -> Option<u64> {
        self.with(|g| g.channel_guild.get(&channel).copied())
    }

    pub fn parent_of(&self, thread: u64) -> Option<u64> {
        self.with(|g| g.thread_parent.get(&thread).copied())
    }

    pub fn knows_guild(&self, guild: u64) -> bool {
        self.with(|g| g.by_id.contains_key(&guild))
    }

    /// A role made, changed or (`None`) deleted after GUILD_CREATE, so moderation follows what
    /// an admin changes while the bot runs.
    pub fn set_role(&self, guild: u64, role: u64, permissions: Option<u64>) {
        self.with(|g| {
            if let Some(info) = g.by_id.get_mut(&guild) {
                match permissions {
                    Some(bits) => info.roles.insert(role, bits),
                    None => info.roles.remove(&role),
                };
            }
        });
    }

    pub fn set_owner(&self, guild: u64, owner: u64) {
        self.with(|g| {
            if let Some(info) = g.by_id.get_mut(&guild) {
                info.owner = owner;
            }
        });
    }

    /// A member moderates by the guild's own rules: its owner, or a role (or `@everyone`)
    /// with Administrator or Manage Events. Unknown guild: no.
    pub fn moderates_by_roles(&self, guild: u64, user: u64, roles: &[u64]) -> bool {
        self.with(|g| {
            let Some(info) = g.by_id.get(&guild) else {
                return false;
            };
            if info.owner == user {
                return true;
            }
            roles
                .iter()
                .chain(std::iter::once(&guild))
                .filter_map(|r| info.roles.get(r))
                .any(|perms| perms & (ADMINISTRATOR | MANAGE_EVENTS) != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moderators_are_the_owner_and_roles_with_the_permissions() {
        let known = Known::default();
        known.add_guild(GuildInfo {
            id: 1,
            owner: 9,
            roles: HashMap::from([(1, 0), (2, MANAGE_EVENTS), (3, ADMINISTRATOR), (4, 1 << 11)]),
            channels: vec![(10, None), (11, Some(10))],
        });
        assert!(known.moderates_by_roles(1, 9, &[]));
        assert!(known.moderates_by_roles(1, 5, &[2]));
        assert!(known.moderates_by_roles(1, 5, &[4, 3]));
        assert!(!known.moderates_by_roles(1, 5, &[4]));
        assert!(!known.moderates_by_roles(2, 9, &[2]), "unknown guild");
        assert_eq!(known.parent_of(11), Some(10));
        assert_eq!(known.guild_of(11), Some(1));
    }

    #[test]
    fn role_and_owner_changes_after_guild_create_change_who_moderates() {
        let known = Known::default();
        known.add_guild(GuildInfo {
            id: 1,
            owner: 9,
            roles: HashMap::from([(1, 0), (2, MANAGE_EVENTS)]),
            channels: vec![],
        });
        known.set_role(1, 4, Some(ADMINISTRATOR));
        assert!(known.moderates_by_roles(1, 5, &[4]), "a role made later");
        known.set_role(1, 2, Some(0));
        assert!(
            !known.moderates_by_roles(1, 5, &[2]),
            "Manage Events taken away"
        );
        known.set_role(1, 4, None);
        assert!(!known.moderates_by_roles(1, 5, &[4]), "role deleted");
        known.set_owner(1, 5);
        assert!(known.moderates_by_roles(1, 5, &[]));
        assert!(!known.moderates_by_roles(1, 9, &[]), "no longer the owner");
        known.set_role(2, 4, Some(ADMINISTRATOR));
        assert!(
            !known.moderates_by_roles(2, 5, &[4]),
            "unknown guilds stay unknown"
        );
    }
}
