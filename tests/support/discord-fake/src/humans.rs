//! Acting as human users: what a person's Discord client would make happen, turned into the
//! same state changes and gateway dispatches the real Discord would produce. Slash commands are
//! built against the command schema the bot registered, so an invocation the bot's own
//! registration would not allow fails here too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::ids::*;
use crate::state::{ChannelKind, Interaction, InteractionCallback, Message, Shared, World};
use crate::FakeError;

/// A message a human posts: build with [`Post::new`], then [`crate::FakeDiscord::post`].
#[derive(Clone, Debug)]
pub struct Post {
    pub channel: ChannelId,
    pub author: UserId,
    pub content: String,
    pub reply_to: Option<MessageId>,
    /// (filename, content type, bytes)
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

impl Post {
    pub fn new(channel: ChannelId, author: UserId, content: impl Into<String>) -> Self {
        Self {
            channel,
            author,
            content: content.into(),
            reply_to: None,
            attachments: vec![],
        }
    }
    /// Makes the message a reply to `message` (same channel).
    pub fn reply_to(mut self, message: MessageId) -> Self {
        self.reply_to = Some(message);
        self
    }
    /// Attaches a file; the fake serves its bytes at the attachment's `url`.
    pub fn attachment(
        mut self,
        filename: impl Into<String>,
        content_type: impl Into<String>,
        bytes: impl Into<Vec<u8>>,
    ) -> Self {
        self.attachments
            .push((filename.into(), content_type.into(), bytes.into()));
        self
    }
}

/// A slash-command invocation as a user types it: name, subcommand path, options.
#[derive(Clone, Debug, Default)]
pub struct SlashCommand {
    pub name: String,
    /// Subcommand group and/or subcommand, outermost first.
    pub path: Vec<String>,
    pub options: Vec<(String, Value)>,
}

impl SlashCommand {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into().trim_start_matches('/').to_string(),
            ..Self::default()
        }
    }
    /// Adds a subcommand (or subcommand group) level.
    pub fn subcommand(mut self, name: impl Into<String>) -> Self {
        self.path.push(name.into());
        self
    }
    /// Adds an option. Strings are converted to the option's registered type (integer, number,
    /// boolean, user, channel, role); `<@id>`, `<#id>`, `<@&id>` mentions are accepted for ids.
    pub fn option(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.options.push((name.into(), value.into()));
        self
    }
    /// Parses what a user would type: `/chat start chat:interlibnet note:"two words"`.
    /// Words before the first `name:value` are the subcommand path.
    pub fn parse(line: &str) -> Result<Self, FakeError> {
        let words = split_words(line.trim())
            .ok_or_else(|| FakeError::BadInvocation(format!("unbalanced quotes in {line:?}")))?;
        let mut it = words.into_iter();
        let name = it
            .next()
            .ok_or_else(|| FakeError::BadInvocation("empty command".into()))?;
        let mut cmd = Self::new(name);
        for w in it {
            match w.split_once(':') {
                Some((k, v)) if !k.is_empty() => cmd.options.push((k.to_string(), json!(v))),
                _ if cmd.options.is_empty() => cmd.path.push(w),
                _ => {
                    return Err(FakeError::BadInvocation(format!(
                        "{w:?} is neither an option (name:value) nor a subcommand"
                    )))
                }
            }
        }
        Ok(cmd)
    }
}

fn split_words(s: &str) -> Option<Vec<String>> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in s.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    Some(out)
}

/// What the bot answered to an interaction, once it has.
#[derive(Clone, Debug)]
pub struct InteractionReply {
    /// The first callback: its type (4, 5, 8, …), flags and content.
    pub callback: InteractionCallback,
    /// The response message as it stands (None for autocomplete and modals).
    pub message: Option<Message>,
    /// The content the user sees now: the callback's, or the edited original's.
    pub content: String,
    pub ephemeral: bool,
    /// From dispatch to the first callback.
    pub callback_latency: Duration,
    /// From dispatch to visible content (equals `callback_latency` for type 4; later for 5).
    pub answered_after: Option<Duration>,
    /// Autocomplete choices (callback type 8).
    pub choices: Vec<Value>,
}

/// A dispatched interaction: await the bot's answer through it.
#[derive(Clone)]
pub struct InteractionHandle {
    pub id: InteractionId,
    pub token: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for InteractionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractionHandle")
            .field("id", &self.id)
            .finish()
    }
}

impl InteractionHandle {
    pub(crate) fn new(id: InteractionId, token: String, shared: Arc<Shared>) -> Self {
        Self { id, token, shared }
    }

    /// The interaction as recorded now.
    pub fn record(&self) -> Interaction {
        self.shared
            .read(|w| w.interactions.get(&self.id).cloned())
            .expect("interactions are never removed")
    }

    /// Waits for the first callback (any type).
    pub async fn callback(&self, timeout: Duration) -> Option<InteractionReply> {
        self.shared
            .wait_for(timeout, |w| reply(w, self.id).filter(|_| true))
            .await
    }

    /// Waits until the user sees an answer: a type 4 callback, an edit of a deferred
    /// original, or autocomplete choices. Returns what the user sees.
    pub async fn answered(&self, timeout: Duration) -> Option<InteractionReply> {
        self.shared
            .wait_for(timeout, |w| {
                reply(w, self.id).filter(|r| r.answered_after.is_some())
            })
            .await
    }
}

fn reply(w: &World, id: InteractionId) -> Option<InteractionReply> {
    let i = w.interactions.get(&id)?;
    let cb = i.callback.clone()?;
    let message = i.original.and_then(|mid| {
        i.ephemeral_messages
            .get(&mid)
            .cloned()
            .or_else(|| w.message(i.channel_id, mid).cloned())
    });
    let content = message
        .as_ref()
        .map(|m| m.content.clone())
        .or_else(|| cb.content.clone())
        .unwrap_or_default();
    let ephemeral = message
        .as_ref()
        .map_or(cb.flags & Message::EPHEMERAL != 0, Message::is_ephemeral);
    let choices = cb
        .data
        .get("choices")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Some(InteractionReply {
        callback_latency: cb.latency,
        callback: cb,
        message,
        content,
        ephemeral,
        answered_after: i.answered_after,
        choices,
    })
}

impl World {
    pub(crate) fn human_post(&mut self, p: Post) -> Result<Message, FakeError> {
        let ch = self
            .channels
            .get(&p.channel)
            .ok_or(FakeError::UnknownChannel(p.channel))?;
        if !self.users.contains_key(&p.author) {
            return Err(FakeError::UnknownUser(p.author));
        }
        if let Some(g) = ch.guild_id {
            if !self.guilds[&g].members.contains_key(&p.author) {
                return Err(FakeError::NotAMember(p.author));
            }
        }
        let mut m = self.new_message(p.channel, p.author, p.content);
        if let Some(r) = p.reply_to {
            if self.message(p.channel, r).is_none() {
                return Err(FakeError::UnknownMessage(r));
            }
            m.reply_to = Some(r);
            m.kind = 19;
        }
        for (name, ct, bytes) in p.attachments {
            let a = self.store_file(p.channel, &name, &ct, bytes);
            m.attachments.push(a);
        }
        Ok(self.insert_message(m))
    }

    /// Builds and dispatches INTERACTION_CREATE for a slash command (kind 2) or an
    /// autocomplete request (kind 4, with `focused` naming the option being typed).
    pub(crate) fn invoke(
        &mut self,
        user: UserId,
        channel: ChannelId,
        cmd: &SlashCommand,
        focused: Option<&str>,
    ) -> Result<(InteractionId, String), FakeError> {
        let ch = self
            .channels
            .get(&channel)
            .ok_or(FakeError::UnknownChannel(channel))?
            .clone();
        if !self.users.contains_key(&user) {
            return Err(FakeError::UnknownUser(user));
        }
        let guild = ch.guild_id;
        if let Some(g) = guild {
            if !self.guilds[&g].members.contains_key(&user) {
                return Err(FakeError::NotAMember(user));
            }
        }
        // Guild commands shadow global ones of the same name, as in the Discord client.
        let reg = self
            .commands
            .values()
            .filter(|c| c.name == cmd.name && c.kind == 1)
            .find(|c| c.guild_id.is_some() && c.guild_id == guild)
            .or_else(|| {
                self.commands
                    .values()
                    .find(|c| c.name == cmd.name && c.kind == 1 && c.guild_id.is_none())
            })
            .cloned()
            .ok_or_else(|| FakeError::UnknownCommand(cmd.name.clone()))?;
        let mut resolved = Resolved::default();
        let options = build_options(
            self,
            &reg.json,
            &cmd.path,
            &cmd.options,
            focused,
            guild,
            &mut resolved,
        )?;
        let mut data = json!({
            "id": reg.id,
            "name": reg.name,
            "type": 1,
            "options": options,
        });
        if let Some(g) = reg.guild_id {
            data["guild_id"] = json!(g);
        }
        let r = resolved.into_json(self, guild);
        if !r.as_object().is_some_and(Map::is_empty) {
            data["resolved"] = r;
        }
        let id = InteractionId(self.next_id());
        let token = format!(
            "aW50ZXJhY3Rpb246{}{}",
            crate::state::image_hash(id.0, 21),
            crate::state::image_hash(id.0, 22)
        );
        let kind = if focused.is_some() { 4 } else { 2 };
        let payload = self.interaction_json(id, &token, kind, user, &ch, data.clone());
        self.interactions.insert(
            id,
            Interaction {
                id,
                token: token.clone(),
                kind,
                user_id: user,
                channel_id: channel,
                guild_id: guild,
                data,
                dispatched_at: Instant::now(),
                callback: None,
                original: None,
                answered_after: None,
                followups: vec![],
                ephemeral_messages: Default::default(),
            },
        );
        self.interaction_tokens.insert(token.clone(), id);
        // Interactions reach the bot whatever its intents.
        self.dispatch("INTERACTION_CREATE", payload, 0, guild, None);
        Ok((id, token))
    }

    pub(crate) fn interaction_json(
        &self,
        id: InteractionId,
        token: &str,
        kind: u8,
        user: UserId,
        ch: &crate::state::Channel,
        data: Value,
    ) -> Value {
        let bot_perms = ch.guild_id.map_or(crate::state::permissions::ALL, |g| {
            self.member_permissions(g, self.bot_id())
        });
        let mut channel = self.channel_json(ch.id);
        channel["permissions"] = json!(match ch.guild_id {
            Some(g) => self.member_permissions(g, user),
            None => crate::state::permissions::ALL,
        }
        .to_string());
        let mut v = json!({
            "id": id,
            "application_id": self.app.id,
            "type": kind,
            "data": data,
            "channel": channel,
            "channel_id": ch.id,
            "token": token,
            "version": 1,
            "app_permissions": bot_perms.to_string(),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 26_214_400,
        });
        match ch.guild_id {
            Some(g) if ch.kind != ChannelKind::Dm => {
                let mut m = self.member_json(g, user, true);
                m["permissions"] = json!(self.member_permissions(g, user).to_string());
                v["guild_id"] = json!(g);
                v["guild_locale"] = json!("en-US");
                v["guild"] = json!({"id": g, "locale": "en-US", "features": []});
                v["member"] = m;
                v["authorizing_integration_owners"] = json!({"0": g});
                v["context"] = json!(0);
            }
            _ => {
                v["user"] = self.user_json(user);
                v["authorizing_integration_owners"] = json!({"0": "0"});
                v["context"] = json!(1);
            }
        }
        v
    }
}

#[derive(Default)]
struct Resolved {
    users: Vec<UserId>,
    channels: Vec<ChannelId>,
    roles: Vec<RoleId>,
}

impl Resolved {
    fn into_json(self, w: &World, guild: Option<GuildId>) -> Value {
        let mut o = Map::new();
        if !self.users.is_empty() {
            let mut users = Map::new();
            let mut members = Map::new();
            for u in &self.users {
                users.insert(u.to_string(), w.user_json(*u));
                if let Some(g) = guild {
                    if w.guilds[&g].members.contains_key(u) {
                        let mut m = w.member_json(g, *u, false);
                        m["permissions"] = json!(w.member_permissions(g, *u).to_string());
                        members.insert(u.to_string(), m);
                    }
                }
            }
            o.insert("users".into(), Value::Object(users));
            if !members.is_empty() {
                o.insert("members".into(), Value::Object(members));
            }
        }
        if !self.channels.is_empty() {
            let mut chans = Map::new();
            for c in &self.channels {
                let full = w.channel_json(*c);
                chans.insert(
                    c.to_string(),
                    json!({
                        "id": c, "name": full["name"], "type": full["type"],
                        "permissions": crate::state::permissions::ALL.to_string(),
                        "parent_id": full["parent_id"], "thread_metadata": full.get("thread_metadata"),
                    }),
                );
            }
            o.insert("channels".into(), Value::Object(chans));
        }
        if !self.roles.is_empty() {
            let mut roles = Map::new();
            if let Some(g) = guild {
                for r in &self.roles {
                    if let Some(role) = w.guilds[&g].roles.get(r) {
                        roles.insert(r.to_string(), w.role_json(role));
                    }
                }
            }
            o.insert("roles".into(), Value::Object(roles));
        }
        Value::Object(o)
    }
}

/// Walks the registered schema along `path`, then converts each given option to its
/// registered type. Missing required options and unknown names are errors, as the Discord
/// client would not send them.
fn build_options(
    w: &World,
    schema: &Value,
    path: &[String],
    given: &[(String, Value)],
    focused: Option<&str>,
    guild: Option<GuildId>,
    resolved: &mut Resolved,
) -> Result<Vec<Value>, FakeError> {
    let defs: Vec<Value> = schema
        .get("options")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some((first, rest)) = path.split_first() {
        let sub = defs
            .iter()
            .find(|d| {
                d["name"] == first.as_str() && matches!(d["type"].as_u64(), Some(1) | Some(2))
            })
            .ok_or_else(|| FakeError::BadInvocation(format!("no subcommand {first:?}")))?;
        let inner = build_options(w, sub, rest, given, focused, guild, resolved)?;
        return Ok(vec![
            json!({"name": first, "type": sub["type"], "options": inner}),
        ]);
    }
    if defs
        .iter()
        .any(|d| matches!(d["type"].as_u64(), Some(1) | Some(2)))
    {
        return Err(FakeError::BadInvocation("a subcommand is required".into()));
    }
    let mut out = vec![];
    for (name, value) in given {
        let def = defs
            .iter()
            .find(|d| d["name"] == name.as_str())
            .ok_or_else(|| FakeError::BadInvocation(format!("no option {name:?}")))?;
        let ty = def["type"].as_u64().unwrap_or(3);
        let is_focused = focused == Some(name.as_str());
        let v = if is_focused {
            // While typing, the partial text arrives as a string whatever the type.
            json!(as_text(value))
        } else {
            convert(w, ty, value, guild, resolved).ok_or_else(|| {
                FakeError::BadInvocation(format!(
                    "option {name:?}: {value} is not a valid value of type {ty}"
                ))
            })?
        };
        let mut o = json!({"name": name, "type": ty, "value": v});
        if is_focused {
            o["focused"] = json!(true);
        }
        out.push(o);
    }
    if focused.is_none() {
        for d in &defs {
            if d["required"] == true && !given.iter().any(|(n, _)| d["name"] == n.as_str()) {
                return Err(FakeError::BadInvocation(format!(
                    "missing required option {}",
                    d["name"]
                )));
            }
        }
    }
    Ok(out)
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn mention_id(s: &str) -> Option<u64> {
    let t = s
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_start_matches(['@', '#', '!', '&']);
    t.trim_start_matches(['!', '&']).parse().ok()
}

fn convert(
    w: &World,
    ty: u64,
    v: &Value,
    guild: Option<GuildId>,
    resolved: &mut Resolved,
) -> Option<Value> {
    let text = as_text(v);
    Some(match ty {
        3 => json!(text),
        4 => json!(v.as_i64().or_else(|| text.trim().parse().ok())?),
        10 => json!(v.as_f64().or_else(|| text.trim().parse().ok())?),
        5 => json!(v.as_bool().or_else(|| text.trim().parse().ok())?),
        6 => {
            let id = UserId(mention_id(&text)?);
            w.users.get(&id)?;
            resolved.users.push(id);
            json!(id)
        }
        7 => {
            let id = ChannelId(mention_id(&text)?);
            w.channels.get(&id).filter(|c| c.guild_id == guild)?;
            resolved.channels.push(id);
            json!(id)
        }
        8 => {
            let id = RoleId(mention_id(&text)?);
            w.guilds.get(&guild?)?.roles.get(&id)?;
            resolved.roles.push(id);
            json!(id)
        }
        9 => {
            let raw = mention_id(&text)?;
            if w.users.contains_key(&UserId(raw)) {
                resolved.users.push(UserId(raw));
            } else {
                w.guilds.get(&guild?)?.roles.get(&RoleId(raw))?;
                resolved.roles.push(RoleId(raw));
            }
            json!(raw.to_string())
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_command_lines_parse_into_path_and_options() {
        let c = SlashCommand::parse(r#"/chat start chat:interlibnet note:"two words""#).unwrap();
        assert_eq!(c.name, "chat");
        assert_eq!(c.path, vec!["start"]);
        assert_eq!(
            c.options,
            vec![
                ("chat".into(), json!("interlibnet")),
                ("note".into(), json!("two words"))
            ]
        );
        assert!(SlashCommand::parse(r#"/chat "open"#).is_err());
    }
}
