//! Application commands: bulk overwrite, create, list, get, edit, delete; global and per guild.

use serde_json::{json, Value};

use super::{Reply, Req, Unknown};
use crate::ids::*;
use crate::state::{RegisteredCommand, World};

fn id(s: &str) -> Option<u64> {
    s.parse().ok()
}

pub(super) fn route(w: &mut World, r: &Req<'_>, m: &str, segs: &[&str]) -> Option<Reply> {
    let ["applications", app, rest @ ..] = segs else {
        return None;
    };
    let (guild, rest) = match rest {
        ["guilds", g, rest @ ..] => (Some(id(g).map(GuildId)?), rest),
        _ => (None, rest),
    };
    if rest.first() != Some(&"commands") {
        return None;
    }
    if id(app) != Some(w.app.id.0) {
        return Some(Reply::error(403, 50001, "Missing Access"));
    }
    if let Some(g) = guild {
        if !w.guilds.contains_key(&g) {
            return Some(Reply::error(403, 50001, "Missing Access"));
        }
    }
    Some(match (m, &rest[1..]) {
        ("GET", []) => Reply::ok(json!(list(w, guild))),
        ("PUT", []) => {
            let Some(arr) = r.body.as_array() else {
                return Some(Reply::invalid_form(
                    "_root",
                    "BASE_TYPE_ARRAY",
                    "Must be an array.",
                ));
            };
            let mut checked = vec![];
            for (i, c) in arr.iter().enumerate() {
                match check(c) {
                    Ok(x) => checked.push(x),
                    Err((field, msg)) => {
                        return Some(Reply::invalid_form(
                            &format!("{i}.{field}"),
                            "BASE_TYPE_INVALID",
                            &msg,
                        ))
                    }
                }
            }
            // Bulk overwrite replaces the whole set; commands keep their id when the name is
            // unchanged, as on Discord.
            let old: Vec<RegisteredCommand> = w
                .commands
                .values()
                .filter(|c| c.guild_id == guild)
                .cloned()
                .collect();
            w.commands.retain(|_, c| c.guild_id != guild);
            for (c, (name, kind)) in arr.iter().zip(checked) {
                let cid = old
                    .iter()
                    .find(|o| o.name == name && o.kind == kind)
                    .map_or_else(|| CommandId(w.next_id()), |o| o.id);
                store(w, cid, guild, name, kind, c);
            }
            Reply::ok(json!(list(w, guild)))
        }
        ("POST", []) => match check(&r.body) {
            Ok((name, kind)) => {
                let existing = w
                    .commands
                    .values()
                    .find(|c| c.guild_id == guild && c.name == name && c.kind == kind)
                    .map(|c| c.id);
                let cid = existing.unwrap_or_else(|| CommandId(w.next_id()));
                let v = store(w, cid, guild, name, kind, &r.body);
                if existing.is_some() {
                    Reply::ok(v)
                } else {
                    Reply::created(v)
                }
            }
            Err((field, msg)) => Reply::invalid_form(&field, "BASE_TYPE_INVALID", &msg),
        },
        ("GET", [cmd]) => match find(w, guild, cmd) {
            Some(c) => Reply::ok(c.json.clone()),
            None => Reply::unknown(Unknown::Command),
        },
        ("PATCH", [cmd]) => {
            let Some(c) = find(w, guild, cmd).cloned() else {
                return Some(Reply::unknown(Unknown::Command));
            };
            let mut merged = c.json.clone();
            if let (Some(o), Some(p)) = (merged.as_object_mut(), r.body.as_object()) {
                for (k, v) in p {
                    o.insert(k.clone(), v.clone());
                }
            }
            match check(&merged) {
                Ok((name, kind)) => Reply::ok(store(w, c.id, guild, name, kind, &merged)),
                Err((field, msg)) => Reply::invalid_form(&field, "BASE_TYPE_INVALID", &msg),
            }
        }
        ("DELETE", [cmd]) => match find(w, guild, cmd).map(|c| c.id) {
            Some(cid) => {
                w.commands.remove(&cid);
                Reply::no_content()
            }
            None => Reply::unknown(Unknown::Command),
        },
        _ => return None,
    })
}

fn find<'a>(w: &'a World, guild: Option<GuildId>, cmd: &str) -> Option<&'a RegisteredCommand> {
    let cid = CommandId(id(cmd)?);
    w.commands.get(&cid).filter(|c| c.guild_id == guild)
}

fn list(w: &World, guild: Option<GuildId>) -> Vec<Value> {
    w.commands
        .values()
        .filter(|c| c.guild_id == guild)
        .map(|c| c.json.clone())
        .collect()
}

/// Checks a command object the way Discord's validation does for the parts that matter:
/// a lowercase name of 1–32 characters and, for slash commands, a description of 1–100.
fn check(c: &Value) -> Result<(String, u8), (String, String)> {
    let name = c
        .get("name")
        .and_then(Value::as_str)
        .ok_or(("name".to_string(), "This field is required".to_string()))?;
    let kind = c.get("type").and_then(Value::as_u64).unwrap_or(1) as u8;
    let n = name.chars().count();
    if n == 0 || n > 32 {
        return Err(("name".into(), "Must be between 1 and 32 in length.".into()));
    }
    if kind == 1 {
        if name
            .chars()
            .any(|ch| ch.is_uppercase() || ch.is_whitespace())
        {
            return Err(("name".into(), "Command name is invalid".into()));
        }
        let d = c.get("description").and_then(Value::as_str).unwrap_or("");
        let dn = d.chars().count();
        if dn == 0 || dn > 100 {
            return Err((
                "description".into(),
                "Must be between 1 and 100 in length.".into(),
            ));
        }
    }
    Ok((name.to_string(), kind))
}

fn store(
    w: &mut World,
    cid: CommandId,
    guild: Option<GuildId>,
    name: String,
    kind: u8,
    body: &Value,
) -> Value {
    let mut v = body.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(cid));
        o.insert("application_id".into(), json!(w.app.id));
        o.insert("version".into(), json!(w.next_id().to_string()));
        o.insert("type".into(), json!(kind));
        o.entry("description").or_insert(json!(""));
        o.entry("default_member_permissions").or_insert(Value::Null);
        o.entry("nsfw").or_insert(json!(false));
        o.entry("integration_types").or_insert(json!([0]));
        o.entry("contexts").or_insert(Value::Null);
        match guild {
            Some(g) => {
                o.insert("guild_id".into(), json!(g));
            }
            None => {
                o.remove("guild_id");
            }
        }
    }
    w.commands.insert(
        cid,
        RegisteredCommand {
            id: cid,
            guild_id: guild,
            name,
            kind,
            json: v.clone(),
        },
    );
    v
}
