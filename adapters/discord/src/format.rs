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
    format!(
        "**{}** *({})*: {}",
        escape_markdown(&content.author_name),
        escape_markdown(&content.origin_label),
        relay_words(content)
    )
}

/// What the author wrote, as Discord markdown: formatted on its platform, its formatting
/// written as Discord's and its text escaped; else the plain text escaped.
pub fn relay_words(content: &RelayContent) -> String {
    if let Some(key) = &content.reacted_with {
        // Under the reactor's name, through a webhook.
        return format!("reacted {}", escape_markdown(key));
    }
    match &content.formatted_body {
        Some(html) => crate::markdown::from_html(&bot_core::rich::sanitize_html(html)),
        None => escape_markdown(&content.body),
    }
}

/// Discord's limit on a webhook message's username, in characters.
pub const MAX_USERNAME: usize = 80;
/// How much of a parent's text a reply's quoted line shows, in characters.
const QUOTE_CHARS: usize = 100;

/// The username a copy made through a webhook shows: the author and where they wrote, as
/// `Ann (Matrix)`, made acceptable to Discord whatever the name: on one line, at most 80
/// characters (the origin kept whole, the name cut with `…`), never empty, and without the
/// substrings Discord refuses in webhook usernames (`clyde`, `discord`, in any case), whose
/// `o`/`e` become the Cyrillic letters that look the same: so a copy from another Discord
/// channel reads `Ann (Discоrd)`.
pub fn webhook_username(author: &str, origin: &str) -> String {
    let one_line = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (author, origin) = (one_line(author), one_line(origin));
    let author = if author.is_empty() {
        "Someone".to_owned()
    } else {
        author
    };
    let suffix = if origin.is_empty() {
        String::new()
    } else {
        format!(" ({origin})")
    };
    let room = MAX_USERNAME.saturating_sub(suffix.chars().count()).max(2);
    let name = if author.chars().count() > room {
        let cut: String = author.chars().take(room - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        author
    };
    let name: String = format!("{name}{suffix}")
        .chars()
        .take(MAX_USERNAME)
        .collect();
    defuse(&defuse(&name, "discord", 4), "clyde", 4)
}

/// `text` with every case-insensitive occurrence of `word` given a look-alike for its letter
/// at `at` (an `o` or an `e`), so Discord's substring check no longer finds it.
fn defuse(text: &str, word: &str, at: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let word: Vec<char> = word.chars().collect();
    let mut out = chars.clone();
    let mut i = 0;
    while i + word.len() <= chars.len() {
        let found = chars[i..i + word.len()]
            .iter()
            .zip(&word)
            .all(|(c, w)| c.to_ascii_lowercase() == *w);
        if found {
            out[i + at] = match chars[i + at] {
                'o' => '\u{43e}',
                'O' => '\u{41e}',
                'e' => '\u{435}',
                _ => '\u{415}',
            };
            i += word.len();
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// The author's avatar for a webhook to show: only an https URL Discord can fetch itself
/// (a Matrix `mxc://` link cannot be), without spaces or control characters, of a sane length.
pub fn webhook_avatar(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    let ok = url.len() <= 2048
        && url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        && url.len() > 8
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| url.to_owned())
}

/// The line a reply copied through a webhook starts with (a webhook cannot reply): who wrote
/// the parent, the start of what they wrote, and a jump link to it when its guild is known.
pub fn reply_quote(name: &str, text: &str, link: Option<&str>) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut snippet: String = flat.chars().take(QUOTE_CHARS).collect();
    if flat.chars().count() > QUOTE_CHARS {
        snippet = format!("{}…", snippet.trim_end());
    }
    let mut line = format!("> ↪ **{}**", escape_markdown(name));
    if !snippet.is_empty() {
        line.push_str(": ");
        line.push_str(&escape_markdown(&snippet));
    }
    if let Some(link) = link {
        line.push_str(&format!(" ({link})"));
    }
    line
}

/// The body of a webhook execute for one piece of a copy: the author's name and avatar as
/// the message's own, and nobody pinged (a webhook may otherwise ping `@everyone`).
pub fn webhook_body(content: &str, username: &str, avatar: Option<&str>) -> Value {
    let mut body = json!({
        "content": content,
        "username": username,
        "allowed_mentions": { "parse": [] },
    });
    if let Some(avatar) = avatar {
        body["avatar_url"] = json!(avatar);
    }
    body
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

    #[test]
    fn webhook_usernames_name_author_and_origin_within_discords_rules() {
        assert_eq!(webhook_username("Ann", "Matrix"), "Ann (Matrix)");
        // Discord refuses `discord` and `clyde` anywhere in a webhook's username.
        let from_discord = webhook_username("alice", "Discord");
        assert_eq!(from_discord, "alice (Disc\u{43e}rd)");
        assert!(!from_discord.to_lowercase().contains("discord"));
        let clyde = webhook_username("CLYDE the discordian", "DISCORD");
        assert_eq!(
            clyde, "CLYD\u{415} the disc\u{43e}rdian (DISC\u{41e}RD)",
            "every occurrence, in any case"
        );
        for name in ["clydediscord", "xDiScOrDx", "clyde clyde", "ClYdE"] {
            let u = webhook_username(name, "Matrix").to_lowercase();
            assert!(!u.contains("clyde") && !u.contains("discord"), "{u}");
        }
        // One line, never empty, never over 80 characters, the origin kept.
        assert_eq!(
            webhook_username("  Ann\n\tB\u{0}  ", "Matrix"),
            "Ann B (Matrix)"
        );
        assert_eq!(webhook_username(" \n", "Matrix"), "Someone (Matrix)");
        let long = webhook_username(&"é".repeat(200), "Matrix");
        assert_eq!(long.chars().count(), MAX_USERNAME);
        assert!(long.ends_with("é… (Matrix)"), "{long}");
        let long_origin = webhook_username("Ann", &"o".repeat(200));
        assert_eq!(long_origin.chars().count(), MAX_USERNAME);
        assert!(long_origin.starts_with("A… (o"), "{long_origin}");
        assert_eq!(webhook_username("Ann", ""), "Ann");
    }

    #[test]
    fn only_https_avatars_go_to_a_webhook() {
        assert_eq!(
            webhook_avatar(Some("https://cdn.example/a.png")).as_deref(),
            Some("https://cdn.example/a.png")
        );
        assert_eq!(
            webhook_avatar(Some("HTTPS://cdn.example/a.png")).as_deref(),
            Some("HTTPS://cdn.example/a.png")
        );
        for bad in [
            "mxc://example.org/abc",
            "http://cdn.example/a.png",
            "https://",
            "https://a b",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(webhook_avatar(Some(bad)), None, "{bad}");
        }
        assert_eq!(webhook_avatar(None), None);
        assert_eq!(
            webhook_avatar(Some(&format!("https://x/{}", "a".repeat(3000)))),
            None
        );
    }

    #[test]
    fn a_webhook_copy_pings_nobody_and_a_reply_is_quoted_inert() {
        let body = webhook_body("@everyone hi", "Ann (Matrix)", None);
        assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
        assert!(body.get("avatar_url").is_none());
        assert!(body.get("nonce").is_none(), "an execute has no nonce");
        let quote = reply_quote(
            "b*b",
            &format!("<@1> *hi*\n{}", "x".repeat(300)),
            Some("https://discord.com/channels/1/2/3"),
        );
        assert!(
            quote.starts_with("> ↪ **b\\*b**: \\<@1> \\*hi\\* x"),
            "{quote}"
        );
        assert!(
            quote.ends_with("… (https://discord.com/channels/1/2/3)"),
            "{quote}"
        );
        assert!(!quote.contains('\n'));
        assert_eq!(reply_quote("Ann", "", None), "> ↪ **Ann**");
    }
}
