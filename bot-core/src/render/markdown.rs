//! Markdown: a transcript as a plain-text story, readable as it stands and safe to render.
//!
//! Everything that came from people (message bodies, names, point texts, notes, the chat's own
//! title and description) is data: [`escape`] backslash-escapes every character Markdown or
//! HTML could act on, breaks autolinks (`http://`, `www.`, `@`), and makes bidirectional
//! controls visible, so nothing a participant writes can add a link, heading, image, list,
//! table or raw HTML to the document. Links are only made for attachments with an `http` or
//! `https` URL, and their URLs are percent-encoded where Markdown could end them early.

use std::collections::HashMap;
use std::fmt::{self, Write};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::transcript::{MessageRecord, Transcript};

/// Writes the transcript as Markdown.
pub fn render(t: &Transcript, out: &mut impl Write) -> fmt::Result {
    let zone: Tz = t.chat.time_zone.parse().unwrap_or(Tz::UTC);
    let local = |at: DateTime<Utc>, f: &str| at.with_timezone(&zone).format(f).to_string();
    let shown: Vec<&MessageRecord> = t.shown_messages().collect();
    let by_key: HashMap<(&str, &str), &MessageRecord> = t
        .messages
        .iter()
        .map(|m| ((m.platform.as_str(), m.platform_message_id.as_str()), m))
        .collect();
    let highlighted: Vec<&str> = t.highlights.iter().map(|h| h.message.as_str()).collect();

    writeln!(
        out,
        "# {} ({})\n",
        escape(&t.chat.title),
        escape(&t.chat.hashtag)
    )?;
    let start = t.session.started_at.unwrap_or(t.session.scheduled_start);
    writeln!(
        out,
        "**When:** {} ({})  ",
        local(start, "%A %-d %B %Y, %H:%M %Z"),
        escape(&t.chat.time_zone)
    )?;
    if let Some(link) = &t.session.link {
        writeln!(out, "**Where:** {}  ", web_link(&link.label, &link.url))?;
    }
    let platforms = t.platforms().join(", ");
    writeln!(
        out,
        "**Participants:** {} · **Messages:** {} · **Platforms:** {}\n",
        t.participant_count(),
        shown.len(),
        if platforms.is_empty() {
            "none".to_owned()
        } else {
            escape(&platforms)
        }
    )?;
    if !t.chat.description.trim().is_empty() {
        writeln!(out, "{}\n", block(&t.chat.description, ""))?;
    }
    if let Some(intro) = &t.intro {
        writeln!(out, "## Intro\n\n{}\n", block(intro, ""))?;
    }

    let write_message = |out: &mut dyn Write, m: &MessageRecord| -> fmt::Result {
        let star = if highlighted.contains(&m.key().as_str()) {
            "★ "
        } else {
            ""
        };
        write!(
            out,
            "- {star}**{}** · {} · {}",
            escape(&m.author.name),
            local(m.sent_at, "%H:%M"),
            escape(&m.platform)
        )?;
        if m.edited_at.is_some() {
            write!(out, " · (edited)")?;
        }
        if !star.is_empty() {
            write!(out, " · highlighted")?;
        }
        writeln!(out)?;
        if let Some(parent) = &m.reply_to {
            let quoted = match by_key.get(&(m.platform.as_str(), parent.as_str())) {
                Some(p) if p.is_shown() => format!(
                    "replying to **{}**: “{}”",
                    escape(&p.author.name),
                    escape(&short(&p.body, 80))
                ),
                _ => match t.posts.iter().find(|p| &p.platform_message_id == parent) {
                    Some(post) => match post.point {
                        Some(n) => format!("replying to Q{n}"),
                        None => format!("replying to the {}", post.kind.replace('_', "-")),
                    },
                    None => "replying to a message not in this transcript".to_owned(),
                },
            };
            writeln!(out, "  > {quoted}")?;
        }
        let body = if m.withheld {
            format!("*{}*", escape(&m.body))
        } else {
            block(&m.body, "  ")
        };
        writeln!(out, "  {}", body.trim_start())?;
        for a in &m.attachments {
            writeln!(out, "  📎 {}", web_link(&a.name, &a.url))?;
        }
        if !m.reactions.is_empty() {
            let counts: Vec<String> = m
                .reactions
                .iter()
                .map(|r| format!("{} {}", escape(&r.key), r.count))
                .collect();
            writeln!(out, "  Reactions: {}", counts.join(" · "))?;
        }
        for note in t
            .notes
            .iter()
            .filter(|n| n.after_message.as_deref() == Some(m.key().as_str()))
        {
            writeln!(
                out,
                "  > 📝 **Curator's note** ({}): {}",
                escape(&note.by),
                escape(&note.text)
            )?;
        }
        Ok(())
    };
    let section_notes = |out: &mut dyn Write, point: Option<u32>| -> fmt::Result {
        for note in t
            .notes
            .iter()
            .filter(|n| n.after_message.is_none() && n.point == point)
        {
            writeln!(
                out,
                "\n> 📝 **Curator's note** ({}): {}",
                escape(&note.by),
                escape(&note.text)
            )?;
        }
        Ok(())
    };

    let before: Vec<&&MessageRecord> = shown.iter().filter(|m| m.point.is_none()).collect();
    if !before.is_empty() {
        writeln!(out, "## Before Q1\n")?;
        for m in before {
            write_message(out, m)?;
        }
        writeln!(out)?;
    }
    section_notes(out, None)?;
    for point in &t.points {
        writeln!(
            out,
            "## Q{} {}\n",
            point.number,
            escape(&single_line(&point.text))
        )?;
        if let Some(at) = point.posted_at {
            writeln!(out, "*Posted {}.*\n", local(at, "%H:%M"))?;
        }
        let answers: Vec<&&MessageRecord> = shown
            .iter()
            .filter(|m| m.point == Some(point.number))
            .collect();
        if answers.is_empty() {
            writeln!(out, "*No answers.*")?;
        }
        for m in answers {
            write_message(out, m)?;
        }
        section_notes(out, Some(point.number))?;
        writeln!(out)?;
    }
    if let Some(wrap_up) = &t.wrap_up {
        writeln!(out, "## Wrap-up\n\n{}\n", block(wrap_up, ""))?;
    }
    writeln!(out, "---\n")?;
    writeln!(
        out,
        "*{} messages from {} participants on {} points. Session {}, exported by hashchat \
         (transcript schema {}).*",
        shown.len(),
        t.participant_count(),
        t.points.len(),
        escape(&t.session.uid),
        t.schema_version
    )
}

/// Text as a Markdown paragraph: each line escaped and stripped of its leading whitespace (so
/// no line becomes a code block), lines joined by hard breaks, continuation lines indented by
/// `indent` so they stay inside a list item.
fn block(text: &str, indent: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| escape(l.trim_start()))
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines.join(&format!("  \n{indent}"))
}

fn single_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn short(text: &str, max: usize) -> String {
    let one = single_line(text);
    if one.chars().count() <= max {
        one
    } else {
        let cut: String = one.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

/// A link (an attachment, where a session took place) when its URL is http(s), else plain text.
fn web_link(name: &str, url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let mut safe = String::with_capacity(url.len());
        for c in url.chars() {
            match c {
                '<' | '>' | '(' | ')' | ' ' | '"' | '\\' | '`' | '[' | ']' => {
                    let _ = write!(safe, "%{:02X}", c as u32);
                }
                c if c.is_control() || c.is_whitespace() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(safe, "%{b:02X}");
                    }
                }
                c => safe.push(c),
            }
        }
        format!("[{}](<{safe}>)", escape(name))
    } else {
        format!("{} (not a web link: {})", escape(name), escape(url))
    }
}

/// Escapes text so Markdown shows it as written and acts on none of it.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '!'
            | '|' | '<' | '>' | '~' | '=' | '&' | '@' | '"' | '\'' | '$' | '^' => {
                out.push('\\');
                out.push(c);
            }
            // `1.` at the start of a line would begin a list; `www.` would autolink.
            '.' if (i > 0 && chars[i - 1].is_ascii_digit() && digits_from_line_start(&out))
                || ends_with_www(&chars[..i]) =>
            {
                out.push_str("\\.");
            }
            // `http://` and friends would autolink.
            ':' if chars.get(i + 1) == Some(&'/') => out.push_str("\\:"),
            '\n' => out.push('\n'),
            '\t' => out.push(' '),
            // Bidirectional controls could make the text read differently from what it is:
            // show them instead of obeying them.
            '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}' => {
                let _ = write!(out, "⟨U+{:04X}⟩", c as u32);
            }
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Whether `out` (since its last newline) is only whitespace and digits.
fn digits_from_line_start(out: &str) -> bool {
    let line = out.rsplit('\n').next().unwrap_or(out);
    line.trim_start().chars().all(|c| c.is_ascii_digit())
}

fn ends_with_www(before: &[char]) -> bool {
    before.len() >= 3
        && before[before.len() - 3..]
            .iter()
            .all(|c| c.eq_ignore_ascii_case(&'w'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a participant might write to break a document.
    fn hostile() -> Vec<String> {
        let mut big = String::new();
        while big.len() < 100_000 {
            big.push_str("[x](javascript:alert(1)) <img src=x onerror=alert(1)> ");
        }
        vec![
            "<script>alert(1)</script>".into(),
            "[x](javascript:alert(1))".into(),
            "![img](http://evil/a.png)".into(),
            "# heading".into(),
            "line\n# heading on line two\n> quote\n- item\n1. one\n===\n```\ncode".into(),
            "@everyone @here".into(),
            "\u{202E}gnp.exe".into(),
            "zero\u{200B}width\u{2060}joiner [a\u{200B}](http://evil)".into(),
            "{{template}} ${x} <%= x %>".into(),
            "<div><b>unclosed <a href='http://evil'>x".into(),
            "http://evil.example www.evil.example <http://evil> bob@evil.example".into(),
            "[ref]: http://evil\n[ref]".into(),
            "&lt;script&gt; &amp; &#60;".into(),
            "| a | b |\n|---|---|".into(),
            "    indented code\n\ttabbed".into(),
            "trailing backslash \\\nnext".into(),
            big,
        ]
    }

    #[test]
    fn where_a_session_took_place_is_a_link_only_over_http() {
        assert_eq!(
            web_link("Discord thread", "https://discord.com/channels/1/2"),
            "[Discord thread](<https://discord.com/channels/1/2>)"
        );
        assert_eq!(
            web_link("[x](y)", "javascript:alert(1)"),
            "\\[x\\]\\(y\\) (not a web link: javascript:alert\\(1\\))"
        );
    }

    #[test]
    fn hostile_text_is_shown_not_obeyed() {
        for text in hostile() {
            let escaped = block(&text, "  ");
            // Every Markdown or HTML opener is escaped: no unescaped `<`, `[`, `!`, `#`, `&`, `>`.
            let mut prev = ' ';
            for c in escaped.chars() {
                if "<>[]()!#&`*_{}|~@".contains(c) {
                    assert_eq!(prev, '\\', "unescaped {c:?} in {escaped:?}");
                }
                prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            }
            assert!(!escaped.contains("http://"), "{escaped}");
            assert!(!escaped.contains("www."), "{escaped}");
            assert!(!escaped.contains('\u{202E}'));
            for line in escaped.lines() {
                assert!(!line.starts_with("    "), "no code blocks: {line:?}");
                let rest = line.trim_start();
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                assert!(
                    digits == 0 || !rest[digits..].starts_with('.'),
                    "no ordered lists: {line:?}"
                );
            }
        }
    }

    #[test]
    fn escaping_keeps_the_text_readable() {
        assert_eq!(escape("A1: yes, 100%"), "A1: yes, 100%");
        assert_eq!(escape("1. first"), "1\\. first");
        assert_eq!(escape("version 1.2"), "version 1.2");
        assert_eq!(escape("see www.x.org"), "see www\\.x.org");
        assert_eq!(escape("a\u{202E}b"), "a⟨U+202E⟩b");
        assert_eq!(escape("👩‍👩‍👧"), "👩‍👩‍👧", "joiners in emoji stay");
    }

    #[test]
    fn attachments_link_only_to_web_urls() {
        assert_eq!(
            web_link("a.png", "https://cdn.example/a b(1).png"),
            "[a.png](<https://cdn.example/a%20b%281%29.png>)"
        );
        assert_eq!(
            web_link("x", "javascript:alert(1)"),
            "x (not a web link: javascript:alert\\(1\\))"
        );
    }
}
