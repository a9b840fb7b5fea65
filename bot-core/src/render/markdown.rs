//! Markdown: a transcript as a plain-text story, readable as it stands and safe to render.
//!
//! Everything that came from people (message bodies, names, point texts, notes, the chat's own
//! title and description) is data: [`escape`] backslash-escapes every character Markdown or
//! HTML could act on, breaks autolinks (`http://`, `www.`, `@`), and makes bidirectional
//! controls visible, so nothing a participant writes can add a link, heading, image, list,
//! table or raw HTML to the document. Links are only made for attachments with an `http` or
//! `https` URL, and their URLs are percent-encoded where Markdown could end them early.
//!
//! A message with a formatted body keeps its formatting as Markdown ([`formatted`]): its
//! neutral form ([`crate::rich::parse`], sanitised at every render) is written with Markdown's
//! own markers (bold, italic, strike, code spans and fenced code, links to `http(s)` and
//! `mailto` addresses, quotes, lists, hard line breaks), every text in it escaped as above, so
//! what a participant typed still adds no raw HTML, image, heading, table or autolink.
//! Where each message was written (its platform) is said only when the session's messages
//! come from more than one platform.
use std::collections::HashMap;
use std::fmt::{self, Write};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{count, push_shown, when_phrase};
use crate::rich::{self, Block, Inline};
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
    // Where each message was written is worth saying only when that differs between messages.
    let several_platforms = t.spans_platforms();

    writeln!(
        out,
        "# {} ({})\n",
        escape(&t.chat.title),
        escape(&t.chat.hashtag)
    )?;
    writeln!(
        out,
        "**When:** {} · {}  ",
        escape(&when_phrase(t)),
        escape(&t.chat.time_zone)
    )?;
    if let Some(host) = &t.session.host {
        writeln!(out, "**Host:** {}  ", escape(&host.name))?;
    }
    if let Some(link) = &t.session.link {
        writeln!(out, "**Where:** {}  ", web_link(&link.label, &link.url))?;
    }
    write!(
        out,
        "**Participants:** {} · **Messages:** {}",
        t.participant_count(),
        shown.len(),
    )?;
    if several_platforms {
        write!(
            out,
            " · **Platforms:** {}",
            escape(&t.platforms().join(", "))
        )?;
    }
    writeln!(out, "\n")?;
    if !t.chat.description.trim().is_empty() {
        writeln!(out, "{}\n", block(&t.chat.description, ""))?;
    }

    let write_message =
        |out: &mut dyn Write, m: &MessageRecord, under: Option<u32>| -> fmt::Result {
            let star = if highlighted.contains(&m.key().as_str()) {
                "★ "
            } else {
                ""
            };
            write!(
                out,
                "- {star}**{}** · {}",
                escape(&m.author.name),
                local(m.sent_at, "%H:%M"),
            )?;
            if several_platforms {
                write!(
                    out,
                    " · {}",
                    escape(m.platform_label.as_deref().unwrap_or(&m.platform))
                )?;
            }
            if m.edited_at.is_some() {
                write!(out, " · (edited)")?;
            }
            if !star.is_empty() {
                write!(out, " · highlighted")?;
            }
            for mark in t.answer_marks(m, under) {
                write!(out, " · *{}*", escape(&mark))?;
            }
            // A reply names what it answers on its name line; the parent's words, when they are in
            // the transcript, are the only thing in its quote.
            let mut quote = None;
            if let Some(parent) = &m.reply_to {
                match by_key.get(&(m.platform.as_str(), parent.as_str())) {
                    Some(p) if p.is_shown() => {
                        write!(out, " · replying to **{}**", escape(&p.author.name))?;
                        quote = Some(escape(&short(&p.body, 80)));
                    }
                    _ => match t.post_replied_to(parent) {
                        Some(post) => write!(out, " · replying to {post}")?,
                        None => write!(out, " · replying to a message not in this transcript")?,
                    },
                }
            }
            // Blank lines keep the name line, the quote and the text apart: a line right after a
            // paragraph or a quote would join it.
            writeln!(out, "\n")?;
            if let Some(quote) = quote {
                writeln!(out, "  > {quote}\n")?;
            }
            let rich = (!m.withheld)
                .then_some(m.formatted_body.as_deref())
                .flatten()
                .map(rich::parse)
                .filter(|blocks| rich::has_text(blocks));
            match rich {
                Some(blocks) => {
                    for (i, line) in formatted(&blocks).iter().enumerate() {
                        match (i, line.is_empty()) {
                            (0, _) => writeln!(out, "  {line}")?,
                            (_, true) => writeln!(out)?,
                            (_, false) => writeln!(out, "  {line}")?,
                        }
                    }
                }
                None => {
                    let body = if m.withheld {
                        format!("*{}*", escape(&m.body))
                    } else {
                        block(&m.body, "  ")
                    };
                    writeln!(out, "  {}", body.trim_start())?;
                }
            }
            // Each part of the message is a block of its own, apart from the next by a blank line.
            writeln!(out)?;
            // What came with the text is a paragraph of its own, a line for each.
            let mut extras: Vec<String> = m
                .attachments
                .iter()
                .map(|a| format!("📎 {}", web_link(&a.name, &a.url)))
                .collect();
            if !m.reactions.is_empty() {
                let counts: Vec<String> = m
                    .reactions
                    .iter()
                    .map(|r| format!("{} {}", escape(&r.key), r.count))
                    .collect();
                extras.push(format!("Reactions: {}", counts.join(" · ")));
            }
            if !extras.is_empty() {
                writeln!(out, "  {}\n", extras.join("  \n  "))?;
            }
            // Notes on a message follow it where it is filed, not where it is shown again.
            let notes = t.notes.iter().filter(|n| {
                under == m.point && n.after_message.as_deref() == Some(m.key().as_str())
            });
            for note in notes {
                writeln!(
                    out,
                    "  > 📝 **Curator's note** ({}): {}\n",
                    escape(note.credit()),
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
                escape(note.credit()),
                escape(&note.text)
            )?;
        }
        Ok(())
    };

    // The introduction: the intro post and whatever was said before the first point, under
    // the name every format gives it.
    let before: Vec<&MessageRecord> = t.shown_under(None).collect();
    let notes_before = t
        .notes
        .iter()
        .any(|n| n.after_message.is_none() && n.point.is_none());
    if t.intro.is_some() || !before.is_empty() || notes_before {
        writeln!(out, "## Introduction\n")?;
        if let Some(intro) = &t.intro {
            writeln!(out, "{}\n", block(intro, ""))?;
        }
        for m in before {
            write_message(out, m, None)?;
        }
        section_notes(out, None)?;
        writeln!(out)?;
    }
    for point in &t.points {
        writeln!(
            out,
            "## Q{} {}\n",
            point.number,
            escape(&single_line(&point.text))
        )?;
        match point.posted_at {
            Some(at) => writeln!(out, "*Posted {}.*\n", local(at, "%H:%M"))?,
            None => writeln!(out, "*Not reached: the session ended before this point.*\n")?,
        }
        let answers: Vec<&MessageRecord> = t.shown_under(Some(point.number)).collect();
        if answers.is_empty() && point.posted_at.is_some() {
            writeln!(out, "*No answers.*\n")?;
        }
        for m in answers {
            write_message(out, m, Some(point.number))?;
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
        "*{} from {} on {}. Session {}, exported by hashchat (transcript schema {}).*",
        count(shown.len() as u64, "message", "messages"),
        count(t.participant_count() as u64, "participant", "participants"),
        count(t.points.len() as u64, "point", "points"),
        escape(&t.session.uid),
        t.schema_version
    )
}

/// A formatted body as Markdown lines, not indented (the caller indents them into the
/// message's list item); an empty string is a blank line.
pub fn formatted(blocks: &[Block]) -> Vec<String> {
    let mut lines = Vec::new();
    block_lines(blocks, &mut lines);
    lines
}

fn block_lines(blocks: &[Block], out: &mut Vec<String>) {
    let mut previous: Option<&Block> = None;
    for b in blocks {
        let mut lines = Vec::new();
        match b {
            Block::Paragraph(inlines) => lines = paragraph_lines(inlines),
            Block::Quote(inner) => {
                let mut quoted = Vec::new();
                block_lines(inner, &mut quoted);
                lines = quoted
                    .into_iter()
                    .map(|l| {
                        if l.is_empty() {
                            ">".into()
                        } else {
                            format!("> {l}")
                        }
                    })
                    .collect();
            }
            Block::CodeBlock(code) => {
                let code = code.trim_end_matches(['\n', '\r']);
                if !code.trim().is_empty() {
                    // Longer than any run of backticks inside, so nothing inside can close it.
                    let fence = "`".repeat(longest_run(code, '`').max(2) + 1);
                    lines.push(fence.clone());
                    lines.extend(code.lines().map(|l| visible_code(l, true)));
                    lines.push(fence);
                }
            }
            Block::List { ordered, items } => {
                let mut n = 0;
                for item in items {
                    let mut item_lines = Vec::new();
                    block_lines(item, &mut item_lines);
                    if item_lines.is_empty() {
                        continue;
                    }
                    n += 1;
                    let marker = if *ordered {
                        format!("{n}. ")
                    } else {
                        "- ".to_owned()
                    };
                    let pad = " ".repeat(marker.len());
                    for (i, l) in item_lines.into_iter().enumerate() {
                        lines.push(match (i, l.is_empty()) {
                            (0, _) => format!("{marker}{l}"),
                            (_, true) => l,
                            (_, false) => format!("{pad}{l}"),
                        });
                    }
                }
            }
        }
        if lines.is_empty() {
            continue;
        }
        // Blocks are apart by a blank line, except a list right after a paragraph (it begins
        // there anyway, and a blank line would make the list around it loose).
        let tight =
            matches!(b, Block::List { .. }) && matches!(previous, Some(&Block::Paragraph(_)));
        if !out.is_empty() && !tight {
            out.push(String::new());
        }
        out.extend(lines);
        previous = Some(b);
    }
}

/// A paragraph's lines, joined by hard breaks (two spaces at the end of each but the last),
/// without indentation (a code block). A line begins either with markup of ours or with text,
/// whose [`escape`] took its start for a line's: nothing there begins a block.
fn paragraph_lines(inlines: &[Inline]) -> Vec<String> {
    let inlines = for_markdown(inlines);
    let mut text = String::new();
    write_inlines(&inlines, Active::default(), &mut text);
    let mut lines: Vec<String> = text
        .split('\n')
        .map(|l| l.trim_matches(|c: char| c.is_ascii_whitespace()))
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let last = lines.len().saturating_sub(1);
    for l in &mut lines[..last] {
        l.push_str("  ");
    }
    lines
}

/// Markdown has no underline: its text joins what is around it, and neighbouring texts are
/// merged, so escaping sees whole words (`www` + `.example` must not make an autolink).
fn for_markdown(inlines: &[Inline]) -> Vec<Inline> {
    fn walk(inlines: &[Inline], out: &mut Vec<Inline>) {
        for i in inlines {
            let mapped = match i {
                Inline::Underline(c) => {
                    walk(c, out);
                    continue;
                }
                Inline::Text(t) => {
                    if let Some(Inline::Text(prev)) = out.last_mut() {
                        prev.push_str(t);
                        continue;
                    }
                    Inline::Text(t.clone())
                }
                Inline::Strong(c) => Inline::Strong(for_markdown(c)),
                Inline::Emphasis(c) => Inline::Emphasis(for_markdown(c)),
                Inline::Strike(c) => Inline::Strike(for_markdown(c)),
                Inline::Spoiler(c) => Inline::Spoiler(for_markdown(c)),
                Inline::Link { href, children } => Inline::Link {
                    href: href.clone(),
                    children: for_markdown(children),
                },
                Inline::Code(c) => Inline::Code(c.clone()),
                Inline::Break => Inline::Break,
            };
            out.push(mapped);
        }
    }
    let mut out = Vec::with_capacity(inlines.len());
    walk(inlines, &mut out);
    out
}

/// The markers already open around a piece of text: the same one again inside adds nothing
/// (and `~~~~` at the start of a line would open a code block).
#[derive(Clone, Copy, Default)]
struct Active {
    strong: bool,
    emphasis: bool,
    strike: bool,
    link: bool,
}

/// Inline content as Markdown; a line break is `\n` (made a hard break by the caller).
fn write_inlines(inlines: &[Inline], active: Active, out: &mut String) {
    for i in inlines {
        match i {
            Inline::Text(t) => out.push_str(&escape(&collapse_space(t))),
            Inline::Strong(c) => wrap(
                c,
                "**",
                active.strong,
                Active {
                    strong: true,
                    ..active
                },
                out,
            ),
            Inline::Emphasis(c) => wrap(
                c,
                "*",
                active.emphasis,
                Active {
                    emphasis: true,
                    ..active
                },
                out,
            ),
            Inline::Strike(c) => wrap(
                c,
                "~~",
                active.strike,
                Active {
                    strike: true,
                    ..active
                },
                out,
            ),
            Inline::Underline(c) => write_inlines(c, active, out),
            // Shown as Discord writes it; Markdown has no spoilers.
            Inline::Spoiler(c) => {
                out.push_str("\\|\\|");
                write_inlines(c, active, out);
                out.push_str("\\|\\|");
            }
            Inline::Code(code) => out.push_str(&code_span(code)),
            Inline::Link { href, children } if !active.link && rich::is_link_target(href) => {
                let mut text = String::new();
                write_inlines(
                    children,
                    Active {
                        link: true,
                        ..active
                    },
                    &mut text,
                );
                let text = text.replace('\n', " ");
                if text.trim().is_empty() {
                    out.push_str(&link(&escape(href), href));
                } else {
                    out.push_str(&link(text.trim(), href));
                }
            }
            Inline::Link { children, .. } => write_inlines(children, active, out),
            Inline::Break => out.push('\n'),
        }
    }
}

/// `marker` around the content, with the content's outer whitespace outside the markers
/// (Markdown ignores `* x *`, and `* ` at the start of a line is a list item). No markers when
/// the same ones are already open, or when there is nothing to mark.
fn wrap(children: &[Inline], marker: &str, open: bool, inner: Active, out: &mut String) {
    let mut content = String::new();
    write_inlines(children, inner, &mut content);
    let core = content.trim_matches(|c: char| c.is_ascii_whitespace());
    if open || core.is_empty() {
        out.push_str(&content);
        return;
    }
    let start = content.len()
        - content
            .trim_start_matches(|c: char| c.is_ascii_whitespace())
            .len();
    out.push_str(&content[..start]);
    out.push_str(marker);
    out.push_str(core);
    out.push_str(marker);
    out.push_str(&content[start + core.len()..]);
}

/// HTML's whitespace: every run of spaces, tabs and line breaks is one space.
fn collapse_space(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_ascii_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

/// Code as a code span: on one line (a line break inside could begin a block), fenced with more
/// backticks than any run inside; its characters are literal there, bar the ones
/// [`visible_code`] replaces.
fn code_span(code: &str) -> String {
    let code = visible_code(&code.replace(['\n', '\r'], " "), false);
    if code.trim().is_empty() {
        return String::new();
    }
    let fence = "`".repeat(longest_run(&code, '`') + 1);
    let pad = code.starts_with('`')
        || code.ends_with('`')
        || (code.starts_with(' ') && code.ends_with(' '));
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{code}{pad}{fence}")
}

/// Code as written, except what would make it read differently from what it is: bidi controls
/// are shown (`⟨U+202E⟩`) and other control characters replaced, tabs kept in code blocks.
fn visible_code(code: &str, keep_tabs: bool) -> String {
    let mut out = String::with_capacity(code.len());
    for c in code.chars() {
        match c {
            '\t' if keep_tabs => out.push('\t'),
            '\t' => out.push(' '),
            c => push_shown(&mut out, c),
        }
    }
    out
}

fn longest_run(text: &str, of: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        run = if c == of { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// `[text](<url>)` with the URL percent-encoded where Markdown could end it early; `text` is
/// Markdown already.
fn link(text: &str, url: &str) -> String {
    format!("[{text}](<{}>)", safe_url(url))
}

fn safe_url(url: &str) -> String {
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
    safe
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
        link(&escape(name), url)
    } else {
        format!("{} (not a web link: {})", escape(name), escape(url))
    }
}

/// Escapes text so Markdown shows it as written and acts on none of it, escaping only what
/// would otherwise act, so the file still reads well as plain text (`That's #tag (or you)`
/// stays as it is).
///
/// What CommonMark, GitHub's extensions and pulldown-cmark's could make of text, and what stops
/// it: every `` ` ``, `[`, `]`, `{`, `}` (code, links, images, footnotes, attributes); a `*`,
/// `~` or `$` that could open emphasis, a strike or maths (one followed by anything but
/// whitespace); a `_` that could open emphasis (not inside a word); a `<` that could open
/// HTML or an autolink; an `&` that could begin an entity; a `\` before punctuation or at the
/// end; the `:` of `://`, the `.` of `www.` and the `@` of an address (GitHub links those);
/// and at the start of a line whatever could begin a block there (`#` headings, `>` quotes,
/// `-`, `+`, `*` and `1.` lists, `=` and `-` underlines, `:` definitions). A table needs a
/// delimiter row, whose pipes are escaped. The end of the text counts as anything (the text
/// may be followed by markup of the document's own, such as `**`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let lines = text.split('\n').count();
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        escape_line(line, n + 1 == lines, &mut out);
    }
    out
}

/// One line of [`escape`]; `last` when nothing in the text follows it.
fn escape_line(line: &str, last: bool, out: &mut String) {
    let chars: Vec<char> = line.chars().collect();
    // What follows position `i`: `None` at the end of the text, a space at the end of a line.
    let next = |i: usize| -> Option<char> {
        match chars.get(i + 1) {
            Some(&c) => Some(c),
            None if last => None,
            None => Some(' '),
        }
    };
    let opens = |i: usize| next(i).is_none_or(|c| !c.is_whitespace());
    let first = chars.iter().position(|c| !c.is_whitespace());
    let delimiter_row = is_table_delimiter_row(line);
    let list_number = first.and_then(|f| {
        let digits = chars[f..].iter().take_while(|c| c.is_ascii_digit()).count();
        let marker = f + digits;
        (digits > 0
            && digits < 10
            && matches!(chars.get(marker), Some('.' | ')'))
            && next(marker).is_none_or(char::is_whitespace))
        .then_some(marker)
    });
    for (i, &c) in chars.iter().enumerate() {
        let at_start = Some(i) == first;
        let escaped = match c {
            '`' | '[' | ']' | '{' | '}' => true,
            '*' => opens(i) || at_start,
            '~' | '$' => opens(i),
            '_' => {
                let inside_word = i > 0
                    && chars[i - 1].is_alphanumeric()
                    && next(i).is_some_and(char::is_alphanumeric);
                !inside_word && opens(i)
            }
            '<' => next(i).is_none_or(|c| c.is_ascii_alphabetic() || "/!?".contains(c)),
            '&' => entity_follows(&chars[i + 1..]),
            // At the end of a line it would be a line break.
            '\\' => i + 1 == chars.len() || next(i).is_some_and(|c| c.is_ascii_punctuation()),
            ':' => next(i) == Some('/') || (at_start && next(i).is_none_or(char::is_whitespace)),
            '.' => Some(i) == list_number || ends_with_www(&chars[..i]),
            ')' => Some(i) == list_number,
            '@' => {
                i > 0
                    && (chars[i - 1].is_alphanumeric() || "._-+".contains(chars[i - 1]))
                    && next(i).is_some_and(char::is_alphanumeric)
            }
            '|' => delimiter_row,
            '#' if at_start => {
                let run = chars[i..].iter().take_while(|&&c| c == '#').count();
                next(i + run - 1).is_none_or(char::is_whitespace)
            }
            '>' => at_start,
            '-' | '+' | '=' if at_start => {
                next(i).is_none_or(char::is_whitespace)
                    || chars[i..].iter().all(|&x| x == c || x == ' ' || x == '\t')
            }
            _ => false,
        };
        if escaped {
            out.push('\\');
            out.push(c);
        } else if c == '\t' {
            out.push(' ');
        } else {
            push_shown(out, c);
        }
    }
}

/// A line that could be a table's delimiter row (`|---|:--:|`).
fn is_table_delimiter_row(line: &str) -> bool {
    let line = line.trim();
    line.contains('|') && line.contains('-') && line.chars().all(|c| "|-: \t".contains(c))
}

/// Whether `rest` begins like an entity (`amp;`, `#60;`, `#x3C;`), which `&` would make one.
fn entity_follows(rest: &[char]) -> bool {
    let name = rest
        .iter()
        .take(32)
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '#')
        .count();
    name > 0 && rest.get(name) == Some(&';')
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
            "\\[x\\](y) (not a web link: javascript:alert(1))"
        );
    }

    /// The text a CommonMark reader with every extension (but typographic quotes) shows for `md`, and the first
    /// thing in it that is not text in paragraphs.
    fn read(md: &str) -> (String, Option<String>) {
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
        let mut text = String::new();
        let mut other = None;
        for e in Parser::new_ext(md, Options::all() - Options::ENABLE_SMART_PUNCTUATION) {
            match e {
                Event::Text(t) => text.push_str(&t),
                Event::SoftBreak | Event::HardBreak => text.push('\n'),
                Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) => {}
                e => {
                    other.get_or_insert(format!("{e:?}"));
                }
            }
        }
        (text, other)
    }

    #[test]
    fn hostile_text_is_shown_not_obeyed() {
        for text in hostile() {
            let md = block(&text, "");
            let (shown, other) = read(&md);
            assert_eq!(other, None, "only text, in {md:?}");
            let expected: Vec<String> = text
                .lines()
                .map(|l| l.trim().replace('\t', " ").replace('\u{202E}', "⟨U+202E⟩"))
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(shown, expected.join("\n"), "shown as written, from {md:?}");
            // GitHub links bare addresses; pulldown-cmark does not, so this is checked here.
            assert!(
                md.match_indices("://")
                    .all(|(i, _)| md[..i].ends_with('\\')),
                "{md}"
            );
            assert!(!md.to_lowercase().contains("www."), "{md}");
        }
    }

    #[test]
    fn escaping_leaves_what_would_not_act_as_it_is() {
        for as_written in [
            "A1: yes, 100%",
            "That's it (or you) \"quoted\"",
            "#interlibnet is the tag!",
            "snake_case and a - b and a * b",
            "version 1.2, 2.5 hours, 3) not a list here",
            "<3 and a < b and ~ 5",
            "@everyone and @here",
            "AT&T and & alone",
            "a = b + c",
            "C:\\Users and a\\b",
        ] {
            assert_eq!(escape(as_written), as_written);
            assert_eq!(read(as_written).1, None, "{as_written}");
        }
        for (text, escaped) in [
            ("1. first", "1\\. first"),
            ("2) second", "2\\) second"),
            ("# heading", "\\# heading"),
            ("> quote", "\\> quote"),
            ("- item", "\\- item"),
            ("* item", "\\* item"),
            ("---", "\\---"),
            ("*really*", "\\*really\\*"),
            ("_really_", "\\_really\\_"),
            ("~~gone~~ now", "\\~\\~gone\\~~ now"),
            ("`code`", "\\`code\\`"),
            ("[link](x)", "\\[link\\](x)"),
            ("<b>", "\\<b>"),
            ("&amp;", "\\&amp;"),
            ("see www.x.org", "see www\\.x.org"),
            ("https://x.org", "https\\://x.org"),
            ("bob@x.org", "bob\\@x.org"),
            ("a\u{202E}b", "a⟨U+202E⟩b"),
            ("👩‍👩‍👧", "👩‍👩‍👧"),
        ] {
            assert_eq!(escape(text), escaped, "{text}");
        }
    }

    #[test]
    fn attachments_link_only_to_web_urls() {
        assert_eq!(
            web_link("a.png", "https://cdn.example/a b(1).png"),
            "[a.png](<https://cdn.example/a%20b%281%29.png>)"
        );
        assert_eq!(
            web_link("x", "javascript:alert(1)"),
            "x (not a web link: javascript:alert(1))"
        );
    }
}
