//! What hashchat's posts and replies look like in a Matrix room: event content with a plain
//! body for every client and an HTML body for those that show formatting.

use serde_json::{json, Value};

use bot_core::ids::Platform;
use bot_core::model::{PostContent, PostKind, RelayContent};
use bot_core::render::html::escape::text_string;

use crate::links::matrix_to;
use bot_core::render::plain::{post_label, post_text};

/// The `m.room.message` content of a session step. People who said they are coming (RSVPs on
/// Matrix) are mentioned for real: a pill in the HTML and their ids in `m.mentions`, which is
/// what makes their clients notify them.
pub fn post_content(content: &PostContent) -> Value {
    let mentioned = matrix_mentions(&content.mentions);
    let mut plain = post_text(&PostContent {
        mentions: Vec::new(),
        ..content.clone()
    });
    let mut html = format!(
        "<strong>{}</strong>: {} {}",
        text_string(&post_label(content.kind)),
        text_string(&content.text).replace('\n', "<br>"),
        text_string(&content.hashtag)
    );
    if !mentioned.is_empty() {
        plain.push_str(" (cc ");
        plain.push_str(&mentioned.join(", "));
        plain.push(')');
        let pills: Vec<String> = mentioned
            .iter()
            .map(|id| {
                // The encoded id is plain ASCII that needs no escaping in an attribute.
                format!("<a href=\"{}\">{}</a>", matrix_to(&[id]), text_string(id))
            })
            .collect();
        html.push_str(&format!(" (cc {})", pills.join(", ")));
    }
    let msgtype = match content.kind {
        // A reminder is a heads-up; the session's own steps are the conversation.
        PostKind::Reminder | PostKind::Notice => "m.notice",
        _ => "m.text",
    };
    json!({
        "msgtype": msgtype,
        "body": plain,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
        "m.mentions": { "user_ids": mentioned },
    })
}

/// A notice answering a command. Refusals and errors answer the command message itself and
/// mention the sender; confirmations are plain notices for the room.
pub fn reply_content(text: &str, to_user: &str, in_reply_to: Option<&str>, private: bool) -> Value {
    let html = text_string(text).replace('\n', "<br>");
    let mut content = json!({
        "msgtype": "m.notice",
        "body": text,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
        "m.mentions": {},
    });
    if private {
        if let Some(event_id) = in_reply_to {
            content["m.relates_to"] = json!({ "m.in_reply_to": { "event_id": event_id } });
        }
        content["m.mentions"] = json!({ "user_ids": [to_user] });
    }
    content
}

/// The content key that marks a relayed copy (an unregistered namespace of our own, which
/// clients ignore).
pub const RELAY_MARK: &str = "hashchat.relay";

/// A relayed copy: the author and where they wrote, then their words, as plain text for
/// every client and escaped HTML for those that show formatting. `m.mentions` is empty, so
/// no client is told to notify anyone, whatever the words say (`@room` included).
///
/// A reaction from another platform is a notice answering the message reacted to ("Ann
/// (Discord) reacted 👍"): a native reaction would be the bot's, not Ann's.
pub fn relay_content(content: &RelayContent, in_reply_to: Option<&str>) -> Value {
    let (msgtype, body, html) = match &content.reacted_with {
        Some(key) => (
            "m.notice",
            format!(
                "{} ({}) reacted {key}",
                content.author_name, content.origin_label
            ),
            format!(
                "<strong>{}</strong> <em>({})</em> reacted {}",
                text_string(&content.author_name),
                text_string(&content.origin_label),
                text_string(key),
            ),
        ),
        None => {
            let words = match &content.formatted_body {
                Some(html) => bot_core::rich::sanitize_html(html),
                None => text_string(&content.body).replace('\n', "<br>"),
            };
            (
                "m.text",
                format!(
                    "{} ({}): {}",
                    content.author_name, content.origin_label, content.body
                ),
                format!(
                    "<strong>{}</strong> <em>({})</em>: {words}",
                    text_string(&content.author_name),
                    text_string(&content.origin_label),
                ),
            )
        }
    };
    let mut value = json!({
        "msgtype": msgtype,
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
        "m.mentions": {},
        // Who wrote it and where, for clients and tools that want to show a copy as such.
        RELAY_MARK: {
            "author": content.author_name,
            "platform": content.origin_platform.as_str(),
        },
    });
    if let Some(event_id) = in_reply_to {
        value["m.relates_to"] = json!({ "m.in_reply_to": { "event_id": event_id } });
    }
    value
}

/// Names, on their own lines of a copy, the files it does not carry (no local copy, or over
/// the homeserver's upload limit), so none is dropped without a word.
pub fn name_left_out_files(copy: &mut Value, names: &[String]) {
    for name in names {
        if let Some(body) = copy["body"].as_str() {
            copy["body"] = Value::String(format!("{body}\n📎 {name}"));
        }
        if let Some(html) = copy["formatted_body"].as_str() {
            copy["formatted_body"] = Value::String(format!("{html}<br>📎 {}", text_string(name)));
        }
    }
}

/// An edit of the copy `copy`: the new text as `m.new_content`, and a `* `-prefixed fallback
/// for clients that do not show edits.
pub fn relay_edit_content(content: &RelayContent, copy: &str) -> Value {
    let new_content = relay_content(content, None);
    let fallback = |key: &str| format!("* {}", new_content[key].as_str().unwrap_or(""));
    json!({
        "msgtype": "m.text",
        "body": fallback("body"),
        "format": "org.matrix.custom.html",
        "formatted_body": fallback("formatted_body"),
        "m.mentions": {},
        "m.new_content": new_content,
        "m.relates_to": { "rel_type": "m.replace", "event_id": copy },
    })
}

/// Matrix user ids among the engine's `platform:id` mentions; others belong to other platforms.
fn matrix_mentions(mentions: &[String]) -> Vec<String> {
    let prefix = format!("{}:", Platform::Matrix);
    mentions
        .iter()
        .filter_map(|m| m.strip_prefix(prefix.as_str()))
        .filter(|id| id.starts_with('@'))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(text: &str, mentions: &[&str]) -> PostContent {
        PostContent {
            kind: PostKind::Point { number: 2 },
            hashtag: "#interlibnet".into(),
            text: text.into(),
            mentions: mentions.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn a_point_has_a_plain_and_an_escaped_html_body() {
        let c = post_content(&point("<b>Shelves</b> & you?", &[]));
        assert_eq!(c["msgtype"], "m.text");
        assert_eq!(c["body"], "Q2: <b>Shelves</b> & you? #interlibnet");
        assert_eq!(
            c["formatted_body"],
            "<strong>Q2</strong>: &lt;b&gt;Shelves&lt;/b&gt; &amp; you? #interlibnet"
        );
        assert_eq!(c["m.mentions"]["user_ids"], json!([]));
    }

    #[test]
    fn a_reminder_mentions_matrix_rsvps_only() {
        let mut content = point(
            "soon",
            &["matrix:@ann:example.org", "discord:1234", "matrix:@b\"<x:y"],
        );
        content.kind = PostKind::Reminder;
        let c = post_content(&content);
        assert_eq!(c["msgtype"], "m.notice");
        assert_eq!(
            c["m.mentions"]["user_ids"],
            json!(["@ann:example.org", "@b\"<x:y"])
        );
        let html = c["formatted_body"].as_str().unwrap();
        assert!(html
            .contains("<a href=\"https://matrix.to/#/%40ann%3Aexample.org\">@ann:example.org</a>"));
        assert!(
            html.contains("https://matrix.to/#/%40b%22%3Cx%3Ay\">@b\"&lt;x:y</a>"),
            "{html}"
        );
        assert!(c["body"]
            .as_str()
            .unwrap()
            .ends_with("(cc @ann:example.org, @b\"<x:y)"));
    }

    #[test]
    fn a_refusal_answers_the_command_and_mentions_its_sender() {
        let c = reply_content("Only moderators <here>", "@ann:x", Some("$cmd"), true);
        assert_eq!(c["msgtype"], "m.notice");
        assert_eq!(c["m.relates_to"]["m.in_reply_to"]["event_id"], "$cmd");
        assert_eq!(c["m.mentions"]["user_ids"], json!(["@ann:x"]));
        assert_eq!(c["formatted_body"], "Only moderators &lt;here&gt;");
        let ok = reply_content("Started", "@ann:x", Some("$cmd"), false);
        assert!(ok.get("m.relates_to").is_none());
        assert_eq!(ok["m.mentions"], json!({}));
    }

    #[test]
    fn a_relayed_copy_names_its_author_escapes_their_words_and_notifies_nobody() {
        let content = RelayContent {
            author_name: "<b>Ann</b>".to_owned(),
            avatar_url: None,
            origin_platform: Platform::Discord,
            origin_label: "Discord".to_owned(),
            body: "@room <script>x</script>\nline two".to_owned(),
            formatted_body: None,
            reply_to: None,
            reacted_with: None,
            attachments: Vec::new(),
        };
        let c = relay_content(&content, Some("$parent"));
        assert_eq!(
            c["body"],
            "<b>Ann</b> (Discord): @room <script>x</script>\nline two"
        );
        assert_eq!(
            c["formatted_body"],
            "<strong>&lt;b&gt;Ann&lt;/b&gt;</strong> <em>(Discord)</em>: @room \
             &lt;script&gt;x&lt;/script&gt;<br>line two"
        );
        assert_eq!(c["m.mentions"], json!({}));
        assert_eq!(c["m.relates_to"]["m.in_reply_to"]["event_id"], "$parent");
        assert_eq!(c[RELAY_MARK]["platform"], "discord");

        let edit = relay_edit_content(&content, "$copy");
        assert_eq!(
            edit["m.relates_to"],
            json!({"rel_type": "m.replace", "event_id": "$copy"})
        );
        assert!(edit["body"]
            .as_str()
            .unwrap()
            .starts_with("* <b>Ann</b> (Discord): "));
        assert_eq!(edit["m.new_content"]["body"], c["body"]);
        assert!(edit["m.new_content"].get("m.relates_to").is_none());
        assert_eq!(edit["m.mentions"], json!({}));
    }
}
