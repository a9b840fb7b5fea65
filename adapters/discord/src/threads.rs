//! A session in a thread of its own, as event bots do so the channel is not flooded: asked
//! for by a chat file's `[discord] thread_per_session = true`.
//!
//! The intro is posted in the channel, and a thread is started from it; points and the wrap-up
//! go into the thread; reminders (before the session) stay in the channel; after the wrap-up the
//! thread is archived and locked. Every step survives a crash and a retry without doubling:
//!
//! - the outbox retries a post with the same key, so the intro (its nonce enforced) is the same
//!   message however often it is sent;
//! - a thread started from a message has the message's id, and starting a second one fails with
//!   160004, so a retried start finds the thread it made;
//! - what the later steps need (where the thread is, and once the wrap-up is in, which message
//!   that was) is kept in the store (`sync_cursors`, account `thread:{channel}:{session uid}`)
//!   before the post that needed it is reported done, so a restart finds it;
//! - if the thread cannot be made (no Create Public Threads permission, 403/50013) the session
//!   carries on in the channel: that is kept too, and the warning is logged once.

use serde_json::{json, Value};
use serenity::http::{LightMethod, Route};
use serenity::model::id::{ChannelId, MessageId};

use bot_core::adapter::{AdapterError, Post, PostSession};
use bot_core::chat::{Node, Reader};
use bot_core::ids::Platform;
use bot_core::model::SessionLink;
use bot_core::store::Store;

use crate::rest::{Rest, RestError};
use crate::state::Known;

/// The table of a chat file this adapter owns: `[discord]`.
pub const CHAT_SECTION: &str = "discord";
/// Keys accepted in it.
pub const CHAT_KEYS: &[&str] = &["thread_per_session"];
/// Discord's cap on a thread's name, in characters.
pub const MAX_THREAD_NAME: usize = 100;
/// What the transcript calls the place a session took place in.
pub const LINK_LABEL: &str = "Discord thread";

/// Discord's error code for "a thread has already been created for this message".
const THREAD_ALREADY_CREATED: i64 = 160004;

/// A chat's `[discord]` table, as checked: what posts are handed back in `Post::options`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatOptions {
    /// Each session runs in a thread of its own, started from the intro.
    pub thread_per_session: bool,
}

impl ChatOptions {
    /// The options a post carries; the defaults when it carries none (a chat without the
    /// table, or one no longer configured).
    pub fn of(post: &Post) -> ChatOptions {
        ChatOptions::from_options(post.options.as_ref())
    }

    /// The options as the engine hands them over (a post's or a relay's `options`).
    pub fn from_options(options: Option<&Value>) -> ChatOptions {
        ChatOptions {
            thread_per_session: options
                .and_then(|o| o.get("thread_per_session"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    fn to_value(self) -> Value {
        json!({ "thread_per_session": self.thread_per_session })
    }
}

/// Reads a chat file's `[discord]` table with the core's located reader; `None` when it had
/// problems (reported through `r`).
pub fn read_chat_options(r: &mut Reader<'_>, node: &Node<'_>) -> Option<Value> {
    r.unknown_keys(node, CHAT_KEYS);
    let thread_per_session = r.boolean(node, "thread_per_session")?.unwrap_or(false);
    Some(ChatOptions { thread_per_session }.to_value())
}

/// Where one session's steps go in one chat channel, as kept in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The intro (this message) is in the channel; its thread is still to be started, so a
    /// retry starts it rather than post the intro again.
    Intro { intro: u64 },
    /// In this thread, started from the intro.
    Thread { thread: u64 },
    /// In the channel itself: the thread could not be made.
    Channel,
    /// The wrap-up (this message) is in the thread; the thread is to be archived and locked.
    Closed { thread: u64, wrap_up: u64 },
}

impl Place {
    fn encode(self) -> String {
        match self {
            Place::Intro { intro } => format!("intro:{intro}"),
            Place::Thread { thread } => format!("thread:{thread}"),
            Place::Channel => "channel".to_owned(),
            Place::Closed { thread, wrap_up } => format!("closed:{thread}:{wrap_up}"),
        }
    }

    fn decode(text: &str) -> Option<Place> {
        let mut parts = text.split(':');
        let place = match (parts.next()?, parts.next(), parts.next()) {
            ("intro", Some(i), None) => Place::Intro {
                intro: i.parse().ok()?,
            },
            ("thread", Some(t), None) => Place::Thread {
                thread: t.parse().ok()?,
            },
            ("channel", None, None) => Place::Channel,
            ("closed", Some(t), Some(w)) => Place::Closed {
                thread: t.parse().ok()?,
                wrap_up: w.parse().ok()?,
            },
            _ => return None,
        };
        parts.next().is_none().then_some(place)
    }
}

/// The store's key for where session `uid`'s steps go in `channel`.
fn account(channel: u64, uid: &str) -> String {
    format!("thread:{channel}:{uid}")
}

/// The thread's name: the chat's title and the session's date (in the chat's zone), within
/// Discord's 100 characters, on one line.
pub fn thread_name(session: &PostSession) -> String {
    let date = session
        .starts_at
        .with_timezone(&session.time_zone)
        .format("%-d %B %Y")
        .to_string();
    let suffix = format!(" · {date}");
    let room = MAX_THREAD_NAME.saturating_sub(suffix.chars().count());
    let title: String = session
        .chat_title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let title = if title.chars().count() > room {
        let cut: String = title.chars().take(room.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    } else {
        title
    };
    if title.is_empty() {
        date
    } else {
        format!("{title}{suffix}")
    }
}

/// Where sessions' threads are recorded: the archive, shared by the adapter and the listener.
pub(crate) struct Threads {
    store: Store,
}

impl Threads {
    pub fn new(store: Store) -> Threads {
        Threads { store }
    }

    /// Every session's recorded place with its chat channel: where back-fill finds the
    /// threads of sessions that may have ended while the bot was away.
    pub async fn recorded(&self) -> Result<Vec<(u64, Place)>, AdapterError> {
        let saved = self
            .store
            .sync_cursors_under(Platform::Discord, "thread:")
            .await
            .map_err(|e| AdapterError::Temporary(format!("reading the sessions' threads: {e}")))?;
        Ok(saved
            .into_iter()
            .filter_map(|(account, value)| {
                let channel = account.strip_prefix("thread:")?.split(':').next()?;
                Some((channel.parse().ok()?, Place::decode(&value)?))
            })
            .collect())
    }

    /// Where session `uid`'s steps go in `channel`, if that has been settled.
    pub async fn place(&self, channel: u64, uid: &str) -> Result<Option<Place>, AdapterError> {
        let store = &self.store;
        let saved = store
            .sync_cursor(Platform::Discord, &account(channel, uid))
            .await
            .map_err(|e| AdapterError::Temporary(format!("reading a session's thread: {e}")))?;
        Ok(saved.as_deref().and_then(|text| {
            let place = Place::decode(text);
            if place.is_none() {
                tracing::warn!(
                    channel,
                    uid,
                    saved = text,
                    "unreadable thread record ignored"
                );
            }
            place
        }))
    }

    pub async fn set_place(
        &self,
        channel: u64,
        uid: &str,
        place: Place,
    ) -> Result<(), AdapterError> {
        self.store
            .set_sync_cursor(Platform::Discord, &account(channel, uid), &place.encode())
            .await
            .map_err(|e| AdapterError::Temporary(format!("recording a session's thread: {e}")))
    }

    /// Starts the session's thread from its intro (message `intro` in `channel`), or finds the
    /// one a previous attempt started; carries on in the channel when Discord will not have it.
    pub async fn open(
        &self,
        rest: &Rest,
        known: &Known,
        channel: u64,
        intro: u64,
        session: &PostSession,
    ) -> Result<Place, AdapterError> {
        let route = Route::ChannelMessageThreads {
            channel_id: ChannelId::new(channel.max(1)),
            message_id: MessageId::new(intro.max(1)),
        };
        let body = json!({ "name": thread_name(session), "auto_archive_duration": 1440 });
        let started = rest
            .call(
                LightMethod::Post,
                route,
                Some(&body),
                None,
                "starting a session's thread",
            )
            .await;
        let (thread, guild) = match started {
            Ok(v) => (
                v["id"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .unwrap_or(intro),
                v["guild_id"].as_str().and_then(|g| g.parse().ok()),
            ),
            // Started by an earlier attempt: a thread started from a message has its id.
            Err(RestError::Status {
                code: Some(THREAD_ALREADY_CREATED),
                ..
            }) => (intro, None),
            Err(e) if e.is_refusal() => {
                tracing::warn!(
                    channel,
                    session = session.uid,
                    error = %e,
                    "cannot start a thread for the session (does the bot have Create Public Threads?); it carries on in the channel"
                );
                self.set_place(channel, &session.uid, Place::Channel)
                    .await?;
                return Ok(Place::Channel);
            }
            Err(e) => return Err(e.into()),
        };
        let guild = guild.or_else(|| known.guild_of(channel));
        known.add_thread(thread, channel, guild);
        self.set_place(channel, &session.uid, Place::Thread { thread })
            .await?;
        tracing::info!(
            channel,
            thread,
            session = session.uid,
            "session thread started"
        );
        match guild {
            Some(guild) => {
                let link = SessionLink {
                    label: LINK_LABEL.to_owned(),
                    url: format!("https://discord.com/channels/{guild}/{thread}"),
                };
                if let Err(e) = self.store.set_session_link(&session.uid, &link).await {
                    // The thread is there and its messages are archived; only the link is missing.
                    tracing::warn!(thread, error = %e, "could not record the session's thread link");
                }
            }
            None => tracing::warn!(
                thread,
                "the thread's guild is unknown; its transcript will not link to it"
            ),
        }
        Ok(Place::Thread { thread })
    }

    /// Notes the wrap-up, then archives and locks the thread. A lock Discord refuses (no Manage
    /// Threads) leaves it archived; a thread that cannot be archived at all is left open, with a
    /// warning: the session is over either way.
    pub async fn close(
        &self,
        rest: &Rest,
        channel: u64,
        uid: &str,
        thread: u64,
        wrap_up: u64,
    ) -> Result<(), AdapterError> {
        self.set_place(channel, uid, Place::Closed { thread, wrap_up })
            .await?;
        let patch = |body: Value| async move {
            rest.call(
                LightMethod::Patch,
                Route::Channel {
                    channel_id: ChannelId::new(thread.max(1)),
                },
                Some(&body),
                None,
                "archiving a session's thread",
            )
            .await
        };
        match patch(json!({ "archived": true, "locked": true })).await {
            Ok(_) => {
                tracing::info!(thread, "session thread archived and locked");
                Ok(())
            }
            Err(e) if e.is_refusal() => {
                tracing::warn!(thread, error = %e, "cannot lock the session's thread; archiving it only");
                match patch(json!({ "archived": true })).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_refusal() => {
                        tracing::warn!(thread, error = %e, "cannot archive the session's thread either; it stays open");
                        Ok(())
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn session(title: &str) -> PostSession {
        PostSession {
            uid: "u1".into(),
            number: Some(7),
            chat_title: title.into(),
            // 23:30 UTC on 1 December is already 2 December in Auckland.
            starts_at: Utc.with_ymd_and_hms(2026, 12, 1, 23, 30, 0).unwrap(),
            time_zone: chrono_tz::Pacific::Auckland,
        }
    }

    #[test]
    fn a_thread_is_named_after_the_chat_and_the_local_date_within_100_characters() {
        assert_eq!(
            thread_name(&session("Libraries\nand social media")),
            "Libraries and social media · 2 December 2026"
        );
        let long = thread_name(&session(&"é".repeat(300)));
        assert_eq!(long.chars().count(), MAX_THREAD_NAME);
        assert!(long.ends_with("… · 2 December 2026"), "{long}");
        assert_eq!(thread_name(&session(" \t")), "2 December 2026");
    }

    #[test]
    fn places_read_back_as_written_and_anything_else_is_none() {
        for place in [
            Place::Intro { intro: 11 },
            Place::Thread { thread: 12 },
            Place::Channel,
            Place::Closed {
                thread: 12,
                wrap_up: 99,
            },
        ] {
            assert_eq!(Place::decode(&place.encode()), Some(place));
        }
        for bad in [
            "",
            "thread",
            "thread:x",
            "closed:1",
            "channel:1",
            "thread:1:2",
            "open:1",
        ] {
            assert_eq!(Place::decode(bad), None, "{bad}");
        }
    }

    fn chat(table: &str) -> Result<bot_core::chat::Chat, Vec<String>> {
        let text = format!(
            "slug = \"t\"\ntitle = \"T\"\nhashtag = \"#t\"\nintro = \"Hi\"\nwrap_up = \"Bye\"\n\
             time_zone = \"UTC\"\nrooms = [\"discord:123\"]\n\n[[points]]\ntext = \"Q?\"\n\n{table}"
        );
        let platforms = bot_core::platforms::Platforms::with([crate::rules()]);
        bot_core::chat::parse_chat(std::path::Path::new("chats/t.toml"), &text, &platforms)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_chat_files_discord_table_asks_for_threads_and_posts_carry_it() {
        let threaded = chat("[discord]\nthread_per_session = true\n").unwrap();
        let options = threaded.options_for(Platform::Discord).cloned();
        assert_eq!(options, Some(json!({ "thread_per_session": true })));
        let post = |options: Option<Value>| Post {
            room: "discord:123".parse().unwrap(),
            idempotency_key: "k".into(),
            content: bot_core::model::PostContent {
                kind: bot_core::model::PostKind::Intro,
                hashtag: "#t".into(),
                text: "Hi".into(),
                mentions: vec![],
            },
            options,
            session: session("T"),
        };
        assert!(ChatOptions::of(&post(options)).thread_per_session);
        let empty = chat("[discord]\n").unwrap();
        assert!(
            !ChatOptions::of(&post(empty.options_for(Platform::Discord).cloned()))
                .thread_per_session
        );
        let without = chat("").unwrap();
        assert_eq!(without.options_for(Platform::Discord), None);
        assert!(!ChatOptions::of(&post(None)).thread_per_session);
    }

    #[test]
    fn a_chat_files_discord_table_reports_each_problem_located() {
        // The table starts on line 12.
        assert_eq!(
            chat("[discord]\nthread_per_session = \"yes\"\nthreads = true\n").unwrap_err(),
            [
                "chats/t.toml:13: discord.thread_per_session: expected true or false, found a string",
                "chats/t.toml:14: discord.threads: unknown key (accepted keys: thread_per_session)",
            ]
        );
    }

    #[test]
    fn refusals_are_4xx_but_rate_limits_and_outages_are_not() {
        let status = |status, code| RestError::Status {
            doing: "x".into(),
            status,
            code,
            message: "m".into(),
        };
        assert!(status(403, Some(50013)).is_refusal(), "missing permissions");
        assert!(status(400, Some(50035)).is_refusal());
        assert!(!status(429, None).is_refusal());
        assert!(!status(502, None).is_refusal());
    }
}
