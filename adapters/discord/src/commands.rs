//! `/chat`: one slash command with a subcommand per core command, generated from the core's
//! command table, and an invocation's options turned back into the core's command text.
//!
//! Why not poise: the core owns parsing, permissions and the answer (which comes back through
//! `Adapter::reply`, and after a crash from the store), so a framework that parses, checks and
//! replies itself would either duplicate that or be bypassed. What Discord needs is the
//! command's shape, which the table already describes: serenity's builders make it, and
//! [`command_text`] flattens what someone filled in back to `start quick`, which the core
//! parses like any typed command.

use serde_json::Value;
use serenity::all::{CommandOptionType, CreateCommand, CreateCommandOption};

use bot_core::command::{commands, Arg, CommandSpec};

/// The slash command's name: `/chat …`.
pub const NAME: &str = "chat";

/// Discord's limit on a description.
const MAX_DESCRIPTION: usize = 100;

/// What an option is, where its meaning is clear.
fn option_type(arg: &Arg) -> CommandOptionType {
    match arg.name {
        "session" => CommandOptionType::Integer,
        _ => CommandOptionType::String,
    }
}

/// Options whose values are suggested as people type.
pub fn autocompleted(arg: &str) -> bool {
    matches!(arg, "chat" | "session")
}

fn description(text: &str) -> String {
    let mut d: String = text.chars().take(MAX_DESCRIPTION).collect();
    if d.trim().is_empty() {
        d = "-".to_owned();
    }
    d
}

fn subcommand(spec: &CommandSpec) -> CreateCommandOption {
    let mut sub = CreateCommandOption::new(
        CommandOptionType::SubCommand,
        spec.name,
        description(spec.summary),
    );
    for arg in spec.args {
        let mut option =
            CreateCommandOption::new(option_type(arg), arg.name, description(arg.description))
                .required(arg.required);
        if autocompleted(arg.name) {
            option = option.set_autocomplete(true);
        }
        if arg.name == "session" {
            option = option.min_int_value(1);
        }
        sub = sub.add_sub_option(option);
    }
    sub
}

/// The definitions to bulk-overwrite (`PUT …/commands`) with.
pub fn definitions() -> Vec<CreateCommand> {
    let mut chat =
        CreateCommand::new(NAME).description("Run hashtag chats: start, stop, upcoming, join…");
    for spec in commands() {
        chat = chat.add_option(subcommand(spec));
    }
    vec![chat]
}

/// The subcommand someone ran and their options, from an interaction's `data`.
fn subcommand_of(data: &Value) -> Result<(&str, &[Value]), String> {
    if data.get("name").and_then(Value::as_str) != Some(NAME) {
        return Err("not the /chat command".to_owned());
    }
    let sub = data
        .get("options")
        .and_then(Value::as_array)
        .and_then(|o| o.first())
        .ok_or("no subcommand")?;
    let name = sub
        .get("name")
        .and_then(Value::as_str)
        .ok_or("no subcommand")?;
    let options = sub
        .get("options")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    Ok((name, options))
}

/// `/chat start chat:quick` → `start quick`: the subcommand, then each filled-in option's
/// value in the order the core's table lists them (so the last, free-text argument stays
/// last). Unknown subcommands or options are errors, not guesses.
pub fn command_text(data: &Value) -> Result<String, String> {
    let (name, options) = subcommand_of(data)?;
    let spec = commands()
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("unknown subcommand `{}`", short(name)))?;
    for o in options {
        let n = o.get("name").and_then(Value::as_str).unwrap_or_default();
        if !spec.args.iter().any(|a| a.name == n) {
            return Err(format!("unknown option `{}`", short(n)));
        }
    }
    let mut text = spec.name.to_owned();
    for arg in spec.args {
        let Some(value) = options
            .iter()
            .find(|o| o.get("name").and_then(Value::as_str) == Some(arg.name))
            .and_then(|o| o.get("value"))
        else {
            continue;
        };
        let value = match value {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(format!("option `{}` has no usable value", arg.name)),
        };
        if !value.is_empty() {
            text.push(' ');
            text.push_str(&value);
        }
    }
    Ok(text)
}

/// For an autocomplete interaction: the option being typed and what has been typed so far.
pub fn focused(data: &Value) -> Option<(String, String)> {
    let (_, options) = subcommand_of(data).ok()?;
    options
        .iter()
        .find(|o| o.get("focused").and_then(Value::as_bool) == Some(true))
        .map(|o| {
            let typed = match o.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (
                o.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                typed,
            )
        })
}

fn short(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_core_command_is_a_subcommand_with_typed_options() {
        let defs = serde_json::to_value(definitions()).unwrap();
        let chat = &defs[0];
        assert_eq!(chat["name"], "chat");
        let subs = chat["options"].as_array().unwrap();
        let names: Vec<&str> = subs.iter().map(|s| s["name"].as_str().unwrap()).collect();
        for expected in [
            "start",
            "stop",
            "pause",
            "resume",
            "next",
            "schedule",
            "cancel",
            "upcoming",
            "join",
            "leave",
            "transcript",
            "note",
            "highlight",
            "hide",
            "unhide",
            "purge",
            "optout",
            "optin",
            "help",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let start = subs.iter().find(|s| s["name"] == "start").unwrap();
        assert_eq!(start["type"], 1);
        assert_eq!(start["options"][0]["name"], "chat");
        assert_eq!(start["options"][0]["type"], 3);
        assert_eq!(start["options"][0]["required"], true);
        assert_eq!(start["options"][0]["autocomplete"], true);
        let cancel = subs.iter().find(|s| s["name"] == "cancel").unwrap();
        assert_eq!(cancel["options"][0]["type"], 4, "session is an integer");
        for sub in subs {
            assert!(sub["description"].as_str().unwrap().chars().count() <= 100);
            // Discord refuses a required option after an optional one.
            let required: Vec<bool> = sub["options"]
                .as_array()
                .map(|o| o.iter().map(|o| o["required"] == true).collect())
                .unwrap_or_default();
            assert!(required.windows(2).all(|w| w[0] || !w[1]), "{sub}");
        }
    }

    #[test]
    fn options_become_the_core_command_text_in_table_order() {
        let data = |sub: &str, options: Value| json!({"name": "chat", "type": 1, "options": [{"name": sub, "type": 1, "options": options}]});
        assert_eq!(
            command_text(&data(
                "start",
                json!([{"name": "chat", "type": 3, "value": "quick"}])
            )),
            Ok("start quick".to_owned())
        );
        assert_eq!(
            command_text(&data("stop", json!([]))),
            Ok("stop".to_owned())
        );
        assert_eq!(
            command_text(&json!({"name": "chat", "options": [{"name": "stop", "type": 1}]})),
            Ok("stop".to_owned())
        );
        assert_eq!(
            command_text(&data(
                "schedule",
                json!([{"name": "when", "value": "tomorrow 18:00"}, {"name": "chat", "value": "quick"}])
            )),
            Ok("schedule quick tomorrow 18:00".to_owned())
        );
        assert_eq!(
            command_text(&data(
                "cancel",
                json!([{"name": "session", "type": 4, "value": 12}])
            )),
            Ok("cancel 12".to_owned())
        );
        assert!(command_text(&data("explode", json!([]))).is_err());
        assert!(command_text(&data("start", json!([{"name": "bogus", "value": "x"}]))).is_err());
        assert!(command_text(&json!({"name": "other"})).is_err());
        assert!(command_text(&json!({"name": "chat", "options": "x"})).is_err());
        assert!(
            command_text(&data("start", json!([{"name": "chat", "value": {"a": 1}}]))).is_err()
        );
    }

    #[test]
    fn the_focused_option_is_found() {
        let data = json!({"name": "chat", "options": [{"name": "start", "type": 1,
            "options": [{"name": "chat", "type": 3, "value": "qu", "focused": true}]}]});
        assert_eq!(focused(&data), Some(("chat".to_owned(), "qu".to_owned())));
        assert_eq!(focused(&json!({})), None);
    }
}
