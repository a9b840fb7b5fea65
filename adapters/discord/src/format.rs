//! What hashchat's posts and replies look like in a Discord channel: Discord markdown within
//! 2,000 characters, a nonce that makes a retried post show once, and allowed mentions that
//! let nobody be pinged but the people a reminder is for.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use bot_core::ids::Platform;
use bot_core::model::{PostContent, RelayContent};
use bot_core::render::plain::post_label;

/// Discord's limit on a message's content, in characters.
pub const MAX_CONTENT: usize = 2000;
/// Discord's limit on a nonce's length.
const MAX_NONCE: usize = 25;

/// A step's text: `**Q1:** What brought you here? #interlibnet`, RSVPs mentioned at the end.
pub fn post_text(content: &PostContent) -> String {
    let mut text = format!(
        "**{}:** {} {}",
        post_label(content.kind),
        content.text,
        content.hashtag
    );
    let users = mentioned_users(&content.mentions);
    if !users.is_empty() {
        let pings: Vec<String> = users.iter().map(|u| format!("<@{u}>")).collect();
        text.push_str(&format!(" (cc {})", pings.join(", ")));
    }
    text
}

/// A relayed copy's text: the author in bold, where they wrote, then their words, escaped so
/// that nothing in them becomes Discord markup (or a mention pill) it was not.
pub fn relay_text(content: &RelayContent) -> String {
    if let Some(key) = &content.reacted_with {
        // Sent as a reply to the message reacted to, so the line needs no more context.
        return format!(
            "**{}** *({})* reacted {}",
            escape_markdown(&content.author_name),
            escape_markdown(&content.origin_label),
            escape_markdown(key),
        );
    }
    let words = match &content.formatted_body {
        // Formatted on its platform: its formatting written as Discord's, its text escaped.
        Some(html) => crate::markdown::from_html(&bot_core::rich::sanitize_html(html)),
        None => escape_markdown(&content.body),
    };
    format!(
        "**{}** *({})*: {words}",
        escape_markdown(&content.author_name),
        escape_markdown(&content.origin_label),
    )
}

/// Backslash-escapes what Discord's markdown would read as markup: emphasis, strike, spoilers,
/// code, headings, lists and quotes at a line's start, masked links, and `<…>` mention and
/// emoji syntax.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    for c in text.chars() {
        let special = matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<')
            || (line_start && matches!(c, '#' | '>' | '-' | '+'));
        if special {
            out.push('\\');
        }
        out.push(c);
        line_start = c == '\n' || (line_start && c == ' ');
    }
    out
}

/// Discord user ids among the engine's `platform:id` mentions (snowflakes only: anything else
/// would go into the message as text).
pub fn mentioned_users(mentions: &[String]) -> Vec<String> {
    let prefix = format!("{}:", Platform::Discord);
    mentions
        .iter()
        .filter_map(|m| m.strip_prefix(prefix.as_str()))
        .filter(|id| !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

/// Who a message may ping: nobody by parsing (so `@everyone`, `@here` and role mentions in
/// repeated text stay inert), only the users named.
pub fn allowed_mentions(users: &[String], replied_user: bool) -> Value {
    json!({ "parse": [], "users": users, "replied_user": replied_user })
}

/// A nonce for an idempotency key: stable, at most 25 characters (Discord's cap), so two keys
/// give two nonces and a retry the same one. `part` tells the pieces of a long post apart.
pub fn nonce(key: &str, part: usize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update(part.to_le_bytes());
    let hex = hex::encode(hasher.finalize());
    let mut n = format!("hc{hex}");
    n.truncate(MAX_NONCE);
    n
}

/// The bodies of `POST /channels/{id}/messages` for a text: one per piece of at most 2,000
/// characters, each with its own nonce (enforced) and the allowed mentions.
pub fn message_bodies(
    text: &str,
    key: &str,
    users: &[String],
    reply_to: Option<&str>,
) -> Vec<Value> {
    split(text, MAX_CONTENT)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut body = json!({
                "content": piece,
                "nonce": nonce(key, i),
                "enforce_nonce": true,
                "allowed_mentions": allowed_mentions(users, false),
            });
            if let (0, Some(message)) = (i, reply_to) {
                body["message_reference"] =
                    json!({ "message_id": message, "fail_if_not_exists": false });
                body["allowed_mentions"] = allowed_mentions(users, true);
            }
            body
        })
        .collect()
}

/// Splits `text` into pieces of at most `max` characters, at a line break where there is one
/// in the second half of the piece, else at a space, else anywhere. Never splits a character.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max {
        let cut_at = rest
            .char_indices()
            .nth(max)
            .map_or(rest.len(), |(byte, _)| byte);
        let window = &rest[..cut_at];
        let half = window
            .char_indices()
            .nth(max / 2)
            .map_or(0, |(byte, _)| byte);
        let cut = window[half..]
            .rfind('\n')
            .or_else(|| window[half..].rfind(' '))
            .map_or(cut_at, |i| half + i + 1);
        pieces.push(rest[..cut].trim_end().to_owned());
        rest = &rest[cut..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::model::PostKind;

    #[test]
    fn a_point_has_a_bold_label_and_pings_only_discord_rsvps() {
        let content = PostContent {
            kind: PostKind::Point { number: 2 },
            hashtag: "#interlibnet".into(),
            text: "Shelves @everyone?".into(),
            mentions: vec![
                "discord:80351110224678912".into(),
                "matrix:@ann:example.org".into(),
                "discord:<@&1>".into(),
            ],
        };
        assert_eq!(
            post_text(&content),
            "**Q2:** Shelves @everyone? #interlibnet (cc <@80351110224678912>)"
        );
        let bodies = message_bodies("x", "k", &mentioned_users(&content.mentions), None);
        assert_eq!(
            bodies[0]["allowed_mentions"],
            json!({"parse": [], "users": ["80351110224678912"], "replied_user": false})
        );
        assert_eq!(bodies[0]["enforce_nonce"], true);
    }

    #[test]
    fn nonces_are_stable_short_and_distinct() {
        let a = nonce("hc-12-3-discord:123456789012345678", 0);
        assert_eq!(a, nonce("hc-12-3-discord:123456789012345678", 0));
        assert_eq!(a.len(), 25);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, nonce("hc-12-4-discord:123456789012345678", 0));
        assert_ne!(a, nonce("hc-12-3-discord:123456789012345678", 1));
        assert_eq!(nonce("", 0).len(), 25);
    }

    #[test]
    fn long_text_is_split_within_the_limit_without_losing_a_character() {
        let text = format!("{}\n{}", "a".repeat(1500), "ü b ".repeat(600));
        let pieces = split(&text, MAX_CONTENT);
        assert!(pieces.len() >= 2);
        assert!(pieces.iter().all(|p| p.chars().count() <= MAX_CONTENT));
        assert_eq!(pieces[0], "a".repeat(1500), "cut at the line break");
        let rejoined: String = pieces.join(" ");
        assert_eq!(
            rejoined.split_whitespace().count(),
            text.split_whitespace().count()
        );
        let no_spaces = "é".repeat(4001);
        let pieces = split(&no_spaces, MAX_CONTENT);
        assert_eq!(
            pieces.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            [2000, 2000, 1]
        );
        assert_eq!(split("", MAX_CONTENT), [""]);
        assert_eq!(split("short", MAX_CONTENT), ["short"]);
    }

    #[test]
    fn a_reply_references_its_command_and_pings_nobody_else() {
        let bodies = message_bodies("Only moderators @here", "hc-reply-1", &[], Some("42"));
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0]["message_reference"]["message_id"], "42");
        assert_eq!(bodies[0]["allowed_mentions"]["parse"], json!([]));
        assert_eq!(bodies[0]["allowed_mentions"]["users"], json!([]));
    }

    fn relayed(author: &str, body: &str) -> RelayContent {
        RelayContent {
            author_name: author.to_owned(),
            avatar_url: None,
            origin_platform: Platform::Matrix,
            origin_label: "Matrix".to_owned(),
            body: body.to_owned(),
            formatted_body: None,
            reply_to: None,
            reacted_with: None,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn relayed_text_is_never_markup_or_a_mention_it_was_not() {
        assert_eq!(
            relay_text(&relayed(
                "ann_b*",
                "*not bold* `x` ||no|| [a](b) <@123> <#9> \\"
            )),
            r"**ann\_b\*** *(Matrix)*: \*not bold\* \`x\` \|\|no\|\| \[a\](b) \<@123> \<#9> \\"
        );
        assert_eq!(
            escape_markdown("# heading\n> quote\n- item\n  - nested\nmid # - > stays"),
            "\\# heading\n\\> quote\n\\- item\n  \\- nested\nmid # - > stays"
        );
        // Mentions stay text; nothing may be pinged by parsing.
        let bodies = message_bodies(
            &relay_text(&relayed("x", "@everyone @here")),
            "k",
            &[],
            None,
        );
        assert_eq!(bodies[0]["allowed_mentions"]["parse"], json!([]));
        assert!(bodies[0]["content"]
            .as_str()
            .unwrap()
            .ends_with("@everyone @here"));
    }
}
