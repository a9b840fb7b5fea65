//! Discord Scheduled Events for sessions (`[discord] scheduled_events = true`): every session
//! of a chat with a channel in a guild is shown there as an EXTERNAL event, Discord's own
//! calendar with its "Interested" button. The event is created while the session is to come,
//! edited when its time or text changes, set active at the intro, completed after the
//! wrap-up, and cancelled (or deleted, where Discord allows no cancelling) with the session.
//!
//! The reconciler runs beside the listener and touches nothing else: it reads sessions from
//! the store, follows [`Engine::session_changes`] to act soon after each change, and makes a
//! slow full pass as a safety net. For each session and guild it compares what is wanted
//! ([`plan::Wanted`]) with what it last sent, which it keeps in the store
//! (`sync_cursors`, platform `discord`, account `scheduled-event:<session uid>:<guild>`), and
//! sends only the difference. So a restart never makes a second event; and because each
//! event's description ends with the session's uid, one created just before a crash (before
//! its record was written) is found on Discord's list and adopted, not made again.
//!
//! Failures never reach the engine: Discord unreachable or answering 5xx is tried again with
//! backoff; 429s are waited out by [`Rest`]; a 403 (no Manage Events) is one warning per guild,
//! and that guild is left alone for an hour; anything else Discord refuses is logged and not
//! tried again until the session changes.

mod plan;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use serde_json::{Map, Value};
use serenity::http::{LightMethod, Route};
use serenity::model::id::{ChannelId, GuildId, ScheduledEventId};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use bot_core::engine::Engine;
use bot_core::ids::Platform;
use bot_core::model::{Session, SessionId};
use bot_core::store::StoreError;

use crate::gateway::stopped;
use crate::rest::{Rest, RestError};
use plan::{marked_session, plan, Action, Fields, Place, Recorded, Status, Wanted};

/// Where the records live in the per-platform store, one per session and guild.
const ACCOUNT_PREFIX: &str = "scheduled-event:";
/// The safety net: everything is compared again this often, whatever was announced.
const FULL_PASS_EVERY: Duration = Duration::from_secs(10 * 60);
/// After a change, this long for the rest of a burst (a step and its follow-ups) to arrive.
const SETTLE: Duration = Duration::from_millis(200);
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// A guild that refused for want of Manage Events is asked again after this long.
const FORBIDDEN_PAUSE: Duration = Duration::from_secs(60 * 60);
/// How long a channel's guild and name are believed before being asked again.
const PLACE_KEPT: Duration = FULL_PASS_EVERY;

fn account(uid: &str, guild: u64) -> String {
    format!("{ACCOUNT_PREFIX}{uid}:{guild}")
}

/// `(uid, guild)` from a record's account.
fn parse_account(account: &str) -> Option<(&str, u64)> {
    let (uid, guild) = account.strip_prefix(ACCOUNT_PREFIX)?.rsplit_once(':')?;
    Some((uid, guild.parse().ok()?))
}

/// Why a request did not get the event where it should be.
#[derive(Debug)]
enum Failure {
    /// Worth trying again later: Discord unreachable or failing, the store unavailable.
    Later(String),
    /// No Manage Events in the guild.
    Forbidden,
    /// The event is not on Discord (any more).
    Gone,
    /// Discord will not take it as it is.
    Refused(RestError),
}

impl From<RestError> for Failure {
    fn from(e: RestError) -> Failure {
        match e.status() {
            Some(403) => Failure::Forbidden,
            Some(404) => Failure::Gone,
            Some(s) if s == 429 || s >= 500 => Failure::Later(e.to_string()),
            Some(_) => Failure::Refused(e),
            None => Failure::Later(e.to_string()),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Later(format!("the store: {e}"))
    }
}

pub(crate) struct Reconciler {
    pub rest: Rest,
    pub engine: Engine,
    /// For the crash tests only: after an event is created and before it is recorded, log
    /// `held after creating a scheduled event` and wait, so a test can kill the process there.
    pub hold_after_create: bool,
    /// The bot's own user id: only its events are adopted.
    me: u64,
    places: HashMap<u64, (Instant, Option<Place>)>,
    /// Guilds that answered 403, and when.
    forbidden: HashMap<u64, Instant>,
    warned_forbidden: HashSet<u64>,
    /// Records whose wanted event Discord refused, with what was wanted then.
    refused: HashMap<String, Wanted>,
    /// Sessions to try again, when, and the wait after that.
    retry: HashMap<SessionId, (Instant, Duration)>,
    /// Each guild's events as Discord listed them during this pass.
    listed: HashMap<u64, Vec<Value>>,
}

impl Reconciler {
    pub fn new(rest: Rest, engine: Engine, hold_after_create: bool) -> Reconciler {
        Reconciler {
            rest,
            engine,
            hold_after_create,
            me: 0,
            places: HashMap::new(),
            forbidden: HashMap::new(),
            warned_forbidden: HashSet::new(),
            refused: HashMap::new(),
            retry: HashMap::new(),
            listed: HashMap::new(),
        }
    }

    /// Keeps Discord's events in step with the sessions until `stop` is set.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        // Subscribed before the first pass reads the store, so no change falls in between.
        let mut changes = self.engine.session_changes();
        let Some(me) = self.whoami(&mut stop).await else {
            return;
        };
        self.me = me;
        tracing::info!("keeping Discord scheduled events in step with the sessions");
        let mut dirty = BTreeSet::new();
        let mut full = true;
        let mut next_full = Instant::now();
        loop {
            if full {
                full = false;
                next_full = Instant::now()
                    + match self.full_pass().await {
                        Ok(()) => FULL_PASS_EVERY,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not compare the scheduled events; trying again shortly");
                            FIRST_BACKOFF * 8
                        }
                    };
            }
            for id in std::mem::take(&mut dirty) {
                self.reconcile_id(id).await;
            }
            let wake_at = self
                .retry
                .values()
                .map(|(at, _)| *at)
                .chain([next_full])
                .min()
                .unwrap_or(next_full);
            tokio::select! {
                _ = stopped(&mut stop) => return,
                changed = changes.recv() => match changed {
                    Ok(id) => {
                        dirty.insert(id);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => full = true,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tokio::time::sleep_until(wake_at) => {}
            }
            tokio::select! {
                _ = stopped(&mut stop) => return,
                _ = tokio::time::sleep(SETTLE) => {}
            }
            loop {
                match changes.try_recv() {
                    Ok(id) => {
                        dirty.insert(id);
                    }
                    Err(broadcast::error::TryRecvError::Lagged(_)) => full = true,
                    Err(_) => break,
                }
            }
            let now = Instant::now();
            dirty.extend(
                self.retry
                    .iter()
                    .filter(|(_, (at, _))| *at <= now)
                    .map(|(id, _)| *id),
            );
            full |= now >= next_full;
            self.listed.clear();
        }
    }

    /// The bot's user id, asked of Discord (with backoff while it cannot be reached).
    async fn whoami(&self, stop: &mut watch::Receiver<bool>) -> Option<u64> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self
                .rest
                .call(
                    LightMethod::Get,
                    Route::UserMe,
                    None,
                    None,
                    "finding the bot's own id",
                )
                .await
            {
                Ok(me) => {
                    if let Some(id) = plan::snowflake(&me["id"]) {
                        return Some(id);
                    }
                    tracing::warn!("Discord's answer about the bot had no id; asking again");
                }
                Err(e) if e.status() == Some(401) => {
                    tracing::error!(error = %e, "Discord refused the token; no scheduled events");
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, ?backoff, "cannot ask Discord who the bot is yet")
                }
            }
            tokio::select! {
                _ = stopped(stop) => return None,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Compares everything: the sessions not finished, the ones with an event still recorded,
    /// and any event of ours on Discord that was never recorded (a crash right after making it).
    async fn full_pass(&mut self) -> Result<(), StoreError> {
        self.listed.clear();
        let store = self.engine.store().clone();
        let mut sessions: BTreeMap<SessionId, Session> = store
            .active_sessions()
            .await?
            .into_iter()
            .filter(has_discord_room)
            .map(|s| (s.id, s))
            .collect();
        let records = store
            .sync_cursors_under(Platform::Discord, ACCOUNT_PREFIX)
            .await?;
        let mut recorded: HashSet<(String, u64)> = HashSet::new();
        for (account, _) in &records {
            if let Some((uid, guild)) = parse_account(account) {
                recorded.insert((uid.to_owned(), guild));
            }
        }
        // The guilds the chats are in, and those with records.
        let mut guilds: BTreeSet<u64> = recorded.iter().map(|(_, g)| *g).collect();
        let channels: BTreeSet<u64> = self
            .engine
            .chats()
            .iter()
            .flat_map(|c| c.rooms.iter())
            .chain(sessions.values().flat_map(|s| s.rooms.iter()))
            .filter_map(discord_channel)
            .collect();
        for channel in channels {
            if let Ok(Some(place)) = self.place(channel).await {
                guilds.insert(place.guild);
            }
        }
        for guild in guilds {
            if self.is_forbidden(guild) {
                continue;
            }
            let listed = match self.listing(guild).await {
                Ok(listed) => listed,
                Err(e) => {
                    tracing::debug!(guild, error = ?e, "could not list a guild's scheduled events");
                    continue;
                }
            };
            for event in listed {
                let Some((uid, found)) = self.ours(&event) else {
                    continue;
                };
                if recorded.contains(&(uid.clone(), guild))
                    || found.status.is_none_or(Status::is_final)
                {
                    continue;
                }
                if store.find_session_by_uid(&uid).await?.is_none() {
                    tracing::debug!(
                        guild,
                        event = found.event,
                        "a scheduled event of a session this store does not have; left alone"
                    );
                    continue;
                }
                tracing::info!(guild, event = found.event, session = %uid, "adopting a scheduled event made before a crash");
                store
                    .set_sync_cursor(Platform::Discord, &account(&uid, guild), &found.to_json())
                    .await?;
                recorded.insert((uid, guild));
            }
        }
        // Finished sessions whose events have not caught up yet.
        let uids: BTreeSet<&str> = recorded.iter().map(|(uid, _)| uid.as_str()).collect();
        for uid in uids {
            if sessions.values().any(|s| s.uid == uid) {
                continue;
            }
            if let Some(s) = store.find_session_by_uid(uid).await? {
                sessions.insert(s.id, s);
            } else {
                self.forget_sessionless(uid).await?;
            }
        }
        for session in sessions.values() {
            self.reconcile_session(session).await;
        }
        tracing::debug!(sessions = sessions.len(), "scheduled events compared");
        Ok(())
    }

    /// A session gone from the store (purged): its events are cancelled with it.
    async fn forget_sessionless(&mut self, uid: &str) -> Result<(), StoreError> {
        let store = self.engine.store().clone();
        for (account, value) in store
            .sync_cursors_under(Platform::Discord, &format!("{ACCOUNT_PREFIX}{uid}:"))
            .await?
        {
            let (Some((_, guild)), Ok(recorded)) =
                (parse_account(&account), Recorded::from_json(&value))
            else {
                store
                    .delete_sync_cursor(Platform::Discord, &account)
                    .await?;
                continue;
            };
            let wanted = Wanted {
                status: Status::Canceled,
                fields: None,
            };
            if let Err(e) = self
                .reconcile_event(&account, guild, uid, &wanted, Some(recorded))
                .await
            {
                tracing::debug!(guild, error = ?e, "could not cancel the event of a session no longer stored");
            }
        }
        Ok(())
    }

    async fn reconcile_id(&mut self, id: SessionId) {
        match self.engine.store().get_session(id).await {
            Ok(Some(session)) if has_discord_room(&session) => {
                self.reconcile_session(&session).await
            }
            Ok(_) => {
                self.retry.remove(&id);
            }
            Err(e) => self.try_later(id, &format!("the store: {e}")),
        }
    }

    /// Brings each of `session`'s events (one per guild it has a channel in) to what it
    /// should be; schedules another try if something could not be done now.
    async fn reconcile_session(&mut self, session: &Session) {
        match self.reconcile_guilds(session).await {
            Ok(()) => {
                self.retry.remove(&session.id);
            }
            Err(why) => self.try_later(session.id, &why),
        }
    }

    async fn reconcile_guilds(&mut self, session: &Session) -> Result<(), String> {
        let store = self.engine.store().clone();
        let mut records: BTreeMap<u64, Option<Recorded>> = BTreeMap::new();
        for (account, value) in store
            .sync_cursors_under(
                Platform::Discord,
                &format!("{ACCOUNT_PREFIX}{}:", session.uid),
            )
            .await
            .map_err(|e| e.to_string())?
        {
            let Some((_, guild)) = parse_account(&account) else {
                continue;
            };
            match Recorded::from_json(&value) {
                Ok(r) => records.insert(guild, Some(r)),
                Err(e) => {
                    // Discord's list, read before any create, still keeps it to one event.
                    tracing::warn!(%account, error = %e, "unreadable scheduled-event record; reading Discord's list instead");
                    records.insert(guild, None)
                }
            };
        }
        let mut places: BTreeMap<u64, Option<Place>> = records.keys().map(|g| (*g, None)).collect();
        let mut later = None;
        if Status::of(session.state) == Status::Scheduled {
            // Only an event to come needs its channel: to be made, or to say where.
            for channel in session.rooms.iter().filter_map(discord_channel) {
                match self.place(channel).await {
                    Ok(Some(place)) => {
                        let entry = places.entry(place.guild).or_default();
                        if entry.is_none() {
                            *entry = Some(place);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => later = Some(e),
                }
            }
        }
        let chat = self.engine.chat(&session.chat_slug);
        for (guild, place) in places {
            if self.is_forbidden(guild) {
                continue;
            }
            let wanted = Wanted::of(session, chat.as_deref(), place.as_ref());
            let key = account(&session.uid, guild);
            if self.refused.get(&key) == Some(&wanted) {
                continue;
            }
            let recorded = records.remove(&guild).flatten();
            match self
                .reconcile_event(&key, guild, &session.uid, &wanted, recorded)
                .await
            {
                Ok(()) => {
                    self.refused.remove(&key);
                }
                Err(Failure::Forbidden) => self.note_forbidden(guild),
                Err(Failure::Refused(e)) => {
                    tracing::warn!(session = session.id, guild, error = %e, "Discord refused the session's scheduled event; not trying again until the session changes");
                    self.refused.insert(key, wanted);
                }
                Err(Failure::Gone) => {
                    tracing::warn!(
                        session = session.id,
                        guild,
                        "the guild is gone; no scheduled event there"
                    );
                    self.refused.insert(key, wanted);
                }
                Err(Failure::Later(e)) => later = Some(e),
            }
        }
        later.map_or(Ok(()), Err)
    }

    /// Takes one event from `recorded` to `wanted`, recording each step as it is done.
    async fn reconcile_event(
        &mut self,
        key: &str,
        guild: u64,
        uid: &str,
        wanted: &Wanted,
        mut recorded: Option<Recorded>,
    ) -> Result<(), Failure> {
        // Each round either finishes or learns something from Discord that changes the plan;
        // a few are plenty.
        'planning: for _ in 0..4 {
            for action in plan(recorded.as_ref(), wanted, self.engine.now()) {
                match action {
                    Action::Create(fields) => {
                        if let Some(found) = self.find_ours(guild, uid).await? {
                            tracing::info!(guild, event = found.event, session = %uid, "adopting a scheduled event made before a crash");
                            self.save(key, &found).await?;
                            recorded = Some(found);
                            continue 'planning;
                        }
                        let made = self.create(guild, &fields).await?;
                        tracing::info!(guild, event = made.event, session = %uid, start = %fields.start, "scheduled event created");
                        if self.hold_after_create {
                            tracing::warn!("held after creating a scheduled event");
                            std::future::pending::<()>().await;
                        }
                        self.save(key, &made).await?;
                        recorded = Some(made);
                    }
                    Action::Edit(changes, fields) => {
                        let Some(r) = recorded.as_mut() else { break };
                        match self.patch(guild, r.event, changes).await {
                            Ok(_) => {
                                tracing::info!(guild, event = r.event, session = %uid, "scheduled event edited");
                                r.fields = fields;
                            }
                            Err(Failure::Gone) => r.status = None,
                            Err(e) => return Err(e),
                        }
                        let r = r.clone();
                        self.save(key, &r).await?;
                    }
                    Action::SetStatus(status) => {
                        let Some(r) = recorded.as_mut() else { break };
                        let body = Map::from_iter([("status".to_owned(), status.code().into())]);
                        match self.patch(guild, r.event, body).await {
                            Ok(_) => {
                                tracing::info!(guild, event = r.event, session = %uid, ?status, "scheduled event status set");
                                r.status = Some(status);
                            }
                            Err(Failure::Gone) => {
                                r.status = None;
                                let r = r.clone();
                                self.save(key, &r).await?;
                                continue 'planning;
                            }
                            Err(Failure::Refused(e)) => {
                                // Discord may have moved it itself (an external event starts
                                // and ends on its own times) or someone did: believe Discord.
                                let event = r.event;
                                let actual = self.status_on_discord(guild, event).await?;
                                if actual != r.status {
                                    r.status = actual;
                                    let r = r.clone();
                                    self.save(key, &r).await?;
                                    continue 'planning;
                                }
                                if status != Status::Canceled {
                                    return Err(Failure::Refused(e));
                                }
                                tracing::info!(guild, event, error = %e, "Discord would not cancel the event; deleting it");
                                self.delete(guild, event).await?;
                                r.status = None;
                            }
                            Err(e) => return Err(e),
                        }
                        let r = r.clone();
                        self.save(key, &r).await?;
                    }
                    Action::Delete => {
                        let Some(r) = recorded.as_mut() else { break };
                        self.delete(guild, r.event).await?;
                        tracing::info!(guild, event = r.event, session = %uid, "scheduled event deleted");
                        r.status = None;
                        let r = r.clone();
                        self.save(key, &r).await?;
                    }
                    Action::Forget => {
                        self.engine
                            .store()
                            .delete_sync_cursor(Platform::Discord, key)
                            .await?;
                        return Ok(());
                    }
                }
            }
            return Ok(());
        }
        Ok(())
    }

    async fn save(&self, key: &str, recorded: &Recorded) -> Result<(), Failure> {
        self.engine
            .store()
            .set_sync_cursor(Platform::Discord, key, &recorded.to_json())
            .await?;
        Ok(())
    }

    async fn create(&self, guild: u64, fields: &Fields) -> Result<Recorded, Failure> {
        let made = self
            .rest
            .call(
                LightMethod::Post,
                Route::GuildScheduledEvents {
                    guild_id: GuildId::new(guild.max(1)),
                },
                Some(&fields.create_body()),
                None,
                "creating a scheduled event",
            )
            .await?;
        let event = plan::snowflake(&made["id"]).ok_or_else(|| {
            Failure::Later("Discord's answer had no scheduled event id".to_owned())
        })?;
        Ok(Recorded {
            event,
            status: Some(Status::Scheduled),
            fields: fields.clone(),
        })
    }

    async fn patch(
        &self,
        guild: u64,
        event: u64,
        body: Map<String, Value>,
    ) -> Result<Value, Failure> {
        Ok(self
            .rest
            .call(
                LightMethod::Patch,
                event_route(guild, event),
                Some(&Value::Object(body)),
                None,
                "editing a scheduled event",
            )
            .await?)
    }

    /// The event's status on Discord now; `None` if it is gone.
    async fn status_on_discord(&self, guild: u64, event: u64) -> Result<Option<Status>, Failure> {
        match self
            .rest
            .call(
                LightMethod::Get,
                event_route(guild, event),
                None,
                None,
                "reading a scheduled event",
            )
            .await
        {
            Ok(v) => v["status"]
                .as_u64()
                .and_then(Status::from_code)
                .map(Some)
                .ok_or_else(|| Failure::Later("Discord's event had no status".to_owned())),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, guild: u64, event: u64) -> Result<(), Failure> {
        match self
            .rest
            .call(
                LightMethod::Delete,
                event_route(guild, event),
                None,
                None,
                "deleting a scheduled event",
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The guild's events, as Discord lists them (asked once per pass).
    async fn listing(&mut self, guild: u64) -> Result<Vec<Value>, Failure> {
        if let Some(listed) = self.listed.get(&guild) {
            return Ok(listed.clone());
        }
        let listed = self
            .rest
            .call(
                LightMethod::Get,
                Route::GuildScheduledEvents {
                    guild_id: GuildId::new(guild.max(1)),
                },
                None,
                None,
                "listing scheduled events",
            )
            .await?;
        let listed = listed.as_array().cloned().unwrap_or_default();
        self.listed.insert(guild, listed.clone());
        Ok(listed)
    }

    /// The session uid and the event, if `event` is one of the bot's own.
    fn ours(&self, event: &Value) -> Option<(String, Recorded)> {
        if plan::snowflake(&event["creator_id"]) != Some(self.me) {
            return None;
        }
        let uid = marked_session(event["description"].as_str()?)?.to_owned();
        let recorded = Recorded::from_discord(event).ok()?;
        Some((uid, recorded))
    }

    /// The bot's event for session `uid` on `guild`'s list, not yet ended or cancelled.
    async fn find_ours(&mut self, guild: u64, uid: &str) -> Result<Option<Recorded>, Failure> {
        let listed = self.listing(guild).await?;
        Ok(listed
            .iter()
            .filter_map(|e| self.ours(e))
            .filter(|(found, r)| found == uid && r.status.is_some_and(|s| !s.is_final()))
            .map(|(_, r)| r)
            .next())
    }

    /// The guild and name of a chat channel, asked of Discord (and kept a while); `None` when
    /// Discord will not say (the bot cannot see it, or it is gone).
    async fn place(&mut self, channel: u64) -> Result<Option<Place>, String> {
        if let Some((at, place)) = self.places.get(&channel) {
            if at.elapsed() < PLACE_KEPT {
                return Ok(place.clone());
            }
        }
        let answer = self
            .rest
            .call(
                LightMethod::Get,
                Route::Channel {
                    channel_id: ChannelId::new(channel.max(1)),
                },
                None,
                None,
                "reading a channel",
            )
            .await;
        let place = match answer {
            Ok(c) => plan::snowflake(&c["guild_id"]).map(|guild| Place {
                guild,
                channel,
                name: c["name"].as_str().map(str::to_owned),
            }),
            Err(e) if matches!(e.status(), Some(403 | 404)) => {
                if self.places.get(&channel).is_none_or(|(_, p)| p.is_some()) {
                    tracing::warn!(channel, error = %e, "cannot see a chat's Discord channel; no scheduled events for it");
                }
                None
            }
            Err(e) => return Err(e.to_string()),
        };
        self.places.insert(channel, (Instant::now(), place.clone()));
        Ok(place)
    }

    fn is_forbidden(&self, guild: u64) -> bool {
        self.forbidden
            .get(&guild)
            .is_some_and(|at| at.elapsed() < FORBIDDEN_PAUSE)
    }

    fn note_forbidden(&mut self, guild: u64) {
        self.forbidden.insert(guild, Instant::now());
        if self.warned_forbidden.insert(guild) {
            tracing::warn!(
                guild,
                "the bot lacks the Manage Events permission in this Discord server, so its sessions are not shown as scheduled events there; grant it and they will be (within the hour)"
            );
        }
    }

    fn try_later(&mut self, session: SessionId, why: &str) {
        let wait = self
            .retry
            .get(&session)
            .map_or(FIRST_BACKOFF, |(_, last)| (*last * 2).min(MAX_BACKOFF));
        tracing::info!(
            session,
            error = why,
            ?wait,
            "scheduled event not brought up to date; trying again"
        );
        self.retry.insert(session, (Instant::now() + wait, wait));
    }
}

fn event_route(guild: u64, event: u64) -> Route<'static> {
    Route::GuildScheduledEvent {
        guild_id: GuildId::new(guild.max(1)),
        event_id: ScheduledEventId::new(event.max(1)),
    }
}

fn discord_channel(room: &bot_core::ids::RoomRef) -> Option<u64> {
    (room.platform == Platform::Discord)
        .then(|| room.id.parse().ok())
        .flatten()
        .filter(|id| *id > 0)
}

fn has_discord_room(session: &Session) -> bool {
    session.rooms.iter().any(|r| discord_channel(r).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_keyed_by_session_and_guild() {
        let key = account("0123abcd", 81384788765712384);
        assert_eq!(key, "scheduled-event:0123abcd:81384788765712384");
        assert_eq!(parse_account(&key), Some(("0123abcd", 81384788765712384)));
        assert_eq!(parse_account("channel:12"), None);
        assert_eq!(parse_account("scheduled-event:abc:x"), None);
    }

    #[test]
    fn discords_answers_are_sorted_by_what_can_be_done() {
        let status = |status: u16| RestError::Status {
            doing: "testing".into(),
            status,
            code: None,
            message: String::new(),
        };
        assert!(matches!(Failure::from(status(403)), Failure::Forbidden));
        assert!(matches!(Failure::from(status(404)), Failure::Gone));
        assert!(matches!(Failure::from(status(400)), Failure::Refused(_)));
        assert!(matches!(Failure::from(status(429)), Failure::Later(_)));
        assert!(matches!(Failure::from(status(502)), Failure::Later(_)));
    }
}
