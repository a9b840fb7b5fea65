//! The HTML transcript: one self-contained page per session.
//!
//! [`render`] streams the page to any [`Write`]: it makes one pass over the transcript to index
//! it (anchors, sections, reply targets, notes; a few bytes per message) and then writes each
//! piece as it goes, so a 100,000-message session never exists as one string in memory.
//!
//! What the page promises:
//! - **No request to anywhere.** The CSS is inline, the only script is [`SCRIPT`] (inline, no
//!   `src`), no remote image is ever referenced (avatars are initials until the media store can
//!   supply a local copy through [`MediaResolver`]), and the page carries its own
//!   Content-Security-Policy ([`CONTENT_SECURITY_POLICY`]) as a second line of defence. The only
//!   absolute URLs are in `<a href>`: the permalinks adapters recorded with the messages,
//!   attachment links and the links people wrote, each only when it is plain `http(s)` (or, for
//!   links people wrote, `mailto`).
//! - **Text is text.** Everything from the transcript goes through [`escape`]. A message's
//!   formatted body (the HTML subset of [`crate::rich`]) is sanitised again here, whatever the
//!   store or an imported document says was done to it, and drawn from its neutral form with
//!   the renderer's own tags: bold, italic, strike, underline, code and code blocks, links
//!   (absolute `http(s)` and `mailto` only, `rel="nofollow ugc noopener"`), quotes, lists, line
//!   breaks, and spoilers hidden until hovered or clicked (CSS only); no image, style, script,
//!   class or handler of a participant's ever reaches the page. A message without one (or
//!   whose formatted body has nothing left to read) is plain text with its line breaks
//!   (`white-space: pre-wrap`), its bare `http(s)` addresses made links. User text is
//!   bidi-isolated (`<bdi>`, `dir="auto"`), so a right-to-left override can't reorder the page
//!   around it.
//! - **Readable without JavaScript.** Times are written in the chat's zone with the zone's
//!   abbreviation; the script only rewrites them into the reader's zone when that differs.
//! - **Stable anchors.** Sections are `#intro`, `#q1`…, `#wrap-up`; each message is
//!   `#m-<platform>-<id>` (see [`anchors`]).

mod anchors;
mod body;
pub mod escape;

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

use crate::render::plain::format_local;
use crate::rich;
use crate::transcript::{
    AttachmentRecord, Author, Highlight, MessageRecord, NoteRecord, PointRecord, PostRecord,
    Transcript, WITHHELD,
};

pub use anchors::message_anchor;
use escape::{attr, text};

/// The page's only script: rewrites every `<time datetime>` into the reader's time zone, when it
/// differs from the chat's (`<html data-tz>`). Without it the times read in the chat's zone,
/// with the zone shown.
pub const SCRIPT: &str = "(function(){var h=document.documentElement,z;try{z=Intl.DateTimeFormat().resolvedOptions().timeZone}catch(e){return}if(!z||z===h.getAttribute('data-tz'))return;var s=new Intl.DateTimeFormat([],{hour:'2-digit',minute:'2-digit',timeZoneName:'short'}),l=new Intl.DateTimeFormat([],{weekday:'short',day:'numeric',month:'short',year:'numeric',hour:'2-digit',minute:'2-digit',timeZoneName:'short'});document.querySelectorAll('time[datetime]').forEach(function(t){var d=new Date(t.getAttribute('datetime'));if(isNaN(d))return;t.title=t.textContent;t.textContent=(t.className==='full'?l:s).format(d)})})();";

/// The CSP source for [`SCRIPT`]: `'sha256-…'` of its exact text (checked by a test).
pub const SCRIPT_CSP_HASH: &str = "'sha256-cn3Cng3BCwC3tOJbX4QP2DlNk1B8I9MbKf/XQ8fy7ds='";

/// The page's stylesheet, inlined in a `<style>` element.
pub const STYLE: &str = include_str!("transcript.css");

/// The CSP source for [`STYLE`] (checked by a test).
pub const STYLE_CSP_HASH: &str = "'sha256-uxLN3E/Lv0xYBOCwle2LaVxAmTNl3VQq4q4SQz0l3kI='";

/// The policy the page declares in a `<meta http-equiv>`, and that a web server serving it
/// should send as a header: nothing loads but the inline style and script (by hash) and images
/// that are `data:` URIs or local to the server.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; img-src 'self' data:; style-src 'sha256-uxLN3E/Lv0xYBOCwle2LaVxAmTNl3VQq4q4SQz0l3kI='; script-src 'sha256-cn3Cng3BCwC3tOJbX4QP2DlNk1B8I9MbKf/XQ8fy7ds='; base-uri 'none'; form-action 'none'";

/// Two messages of one author at most this far apart share one avatar and name.
pub const GROUP_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(7);

/// Where the page gets local copies of media. The media store doesn't exist yet; until it does
/// no resolver is given, avatars are initials and attachments are links.
///
/// A resolver returns what goes into `<img src>`: a `data:image/…` URI (the page stays one
/// file) or a path relative to the page (served next to it). Anything else (a scheme, `//`, an
/// SVG data URI) is refused by the renderer, which then falls back as if `None` was returned.
pub trait MediaResolver {
    /// The local copy of an author's avatar.
    fn avatar(&self, platform: &str, author: &Author) -> Option<String>;
    /// The local copy of an image attachment.
    fn attachment(&self, message: &MessageRecord, attachment: &AttachmentRecord) -> Option<String>;
}

/// How to render a page.
#[derive(Clone)]
pub struct HtmlOptions {
    /// Shown in the footer.
    pub generated_at: DateTime<Utc>,
    /// Local media, when there is a store for it.
    pub media: Option<Arc<dyn MediaResolver + Send + Sync>>,
    /// Links at the top of the page, `(label, path)`, when it is served by the web archive:
    /// back to the archive, the chat's other sessions, search. Only site paths (`/…`, not
    /// `//…`) are written; an exported page has none.
    pub site_links: Vec<(String, String)>,
}

impl HtmlOptions {
    pub fn new(generated_at: DateTime<Utc>) -> Self {
        Self {
            generated_at,
            media: None,
            site_links: Vec::new(),
        }
    }
}

impl fmt::Debug for HtmlOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HtmlOptions")
            .field("generated_at", &self.generated_at)
            .field("media", &self.media.as_ref().map(|_| "MediaResolver"))
            .finish()
    }
}

/// Writes the transcript as one self-contained HTML page.
///
/// Output is buffered internally and flushed before returning; the only errors are `out`'s.
pub fn render(
    transcript: &Transcript,
    options: &HtmlOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(64 * 1024, out);
    let index = Index::build(transcript);
    let page = Page {
        t: transcript,
        options,
        index: &index,
        zone: transcript.chat.time_zone.parse().unwrap_or(Tz::UTC),
        last_time: RefCell::new((i64::MIN, String::new())),
    };
    page.write(&mut w)?;
    w.flush()
}

/// What the renderer needs to know before it writes the first message.
struct Index<'t> {
    /// Per message (by position in `transcript.messages`); empty for hidden ones.
    anchors: Vec<String>,
    /// `(platform, platform_message_id)` → position, for replies, notes and highlights.
    by_id: HashMap<(&'t str, &'t str), usize>,
    /// The bot's posts, by `(platform, platform_message_id)`.
    posts: HashMap<(&'t str, &'t str), &'t PostRecord>,
    sections: Vec<Section<'t>>,
    /// Notes shown right after a message.
    notes_after: HashMap<usize, Vec<&'t NoteRecord>>,
    highlights: HashMap<usize, &'t Highlight>,
    shown: usize,
    /// [`Transcript::participant_count`], computed once.
    participants: usize,
    /// The platforms of shown messages by their labels, sorted (as [`Transcript::platforms`],
    /// without sorting every message).
    platforms: Vec<&'t str>,
}

struct Section<'t> {
    /// `None`: the intro and messages before Q1.
    number: Option<u32>,
    point: Option<&'t PointRecord>,
    id: String,
    messages: Vec<u32>,
    notes: Vec<&'t NoteRecord>,
}

/// Splits `platform:id` (a note's or highlight's message key).
fn split_key(key: &str) -> Option<(&str, &str)> {
    key.split_once(':')
}

impl<'t> Index<'t> {
    fn build(t: &'t Transcript) -> Self {
        let anchors = anchors::assign(&t.messages);
        let mut by_id = HashMap::with_capacity(t.messages.len());
        for (i, m) in t.messages.iter().enumerate() {
            by_id
                .entry((m.platform.as_str(), m.platform_message_id.as_str()))
                .or_insert(i);
        }
        let mut posts = HashMap::with_capacity(t.posts.len());
        for p in &t.posts {
            let platform = p.room.split_once(':').map_or("", |(platform, _)| platform);
            posts
                .entry((platform, p.platform_message_id.as_str()))
                .or_insert(p);
        }

        // Sections: the intro, each point in the chat's order, then any point a message names
        // that the transcript has no record of (kept, so no message is lost).
        let mut sections = vec![Section {
            number: None,
            point: None,
            id: "intro".to_owned(),
            messages: Vec::new(),
            notes: Vec::new(),
        }];
        let mut by_number: HashMap<u32, usize> = HashMap::new();
        for (k, p) in t.points.iter().enumerate() {
            let id = match by_number.entry(p.number) {
                // A duplicate number (never made by the builder): keep it, with an id of its own.
                Entry::Occupied(_) => format!("q{}-{}", p.number, k + 1),
                Entry::Vacant(v) => {
                    v.insert(sections.len());
                    format!("q{}", p.number)
                }
            };
            sections.push(Section {
                number: Some(p.number),
                point: Some(p),
                id,
                messages: Vec::new(),
                notes: Vec::new(),
            });
        }
        let mut orphans: Vec<u32> = t
            .shown_messages()
            .filter_map(|m| m.point)
            .filter(|n| !by_number.contains_key(n))
            .collect();
        orphans.sort_unstable();
        orphans.dedup();
        for n in orphans {
            by_number.insert(n, sections.len());
            sections.push(Section {
                number: Some(n),
                point: None,
                id: format!("q{n}"),
                messages: Vec::new(),
                notes: Vec::new(),
            });
        }

        let mut shown = 0;
        let mut platforms: Vec<&str> = Vec::new();
        for (i, m) in t.messages.iter().enumerate() {
            if !m.is_shown() {
                continue;
            }
            shown += 1;
            if !platforms.contains(&label(m)) {
                platforms.push(label(m));
            }
            let s = m
                .point
                .and_then(|n| by_number.get(&n).copied())
                .unwrap_or(0);
            sections[s].messages.push(i as u32);
            // Shown again under each further point it answers.
            for n in &m.also_answers {
                if let Some(&also) = by_number.get(n).filter(|&&also| also != s) {
                    sections[also].messages.push(i as u32);
                }
            }
        }

        let shown_at = |key: &str| {
            split_key(key)
                .and_then(|k| by_id.get(&k).copied())
                .filter(|&i| t.messages[i].is_shown())
        };
        let mut notes_after: HashMap<usize, Vec<&NoteRecord>> = HashMap::new();
        for n in &t.notes {
            match n.after_message.as_deref().and_then(shown_at) {
                Some(i) => notes_after.entry(i).or_default().push(n),
                None => {
                    // At the end of its point's section; a note on a point the transcript lacks,
                    // or on a message not shown, goes to the intro section rather than vanish.
                    let s = n.point.and_then(|p| by_number.get(&p).copied());
                    sections[s.unwrap_or(0)].notes.push(n);
                }
            }
        }
        let mut highlights = HashMap::new();
        for h in &t.highlights {
            if let Some(i) = shown_at(&h.message) {
                highlights.entry(i).or_insert(h);
            }
        }
        platforms.sort_unstable();
        Index {
            participants: t.participant_count(),
            platforms,
            anchors,
            by_id,
            posts,
            sections,
            notes_after,
            highlights,
            shown,
        }
    }
}

struct Page<'a> {
    t: &'a Transcript,
    options: &'a HtmlOptions,
    index: &'a Index<'a>,
    zone: Tz,
    /// The last short `<time>` element written, by its second: busy sessions have many
    /// messages a second, and the zone conversion and formatting are most of a message's cost.
    last_time: RefCell<(i64, String)>,
}

const LINK_REL: &str = r#" rel="noopener noreferrer nofollow" referrerpolicy="no-referrer""#;

impl Page<'_> {
    fn write<W: Write>(&self, w: &mut W) -> io::Result<()> {
        self.head(w)?;
        self.header(w)?;
        w.write_all(b"<main>\n")?;
        for section in &self.index.sections {
            self.section(w, section)?;
        }
        if let Some(wrap_up) = &self.t.wrap_up {
            w.write_all(b"<section id=\"wrap-up\" aria-labelledby=\"wrap-up-h\">\n<h2 id=\"wrap-up-h\">Wrap-up</h2>\n<p class=\"post\" dir=\"auto\">")?;
            text(w, wrap_up)?;
            w.write_all(b"</p>\n</section>\n")?;
        }
        w.write_all(b"</main>\n")?;
        self.footer(w)?;
        w.write_all(b"<script>")?;
        w.write_all(SCRIPT.as_bytes())?;
        w.write_all(b"</script>\n</body>\n</html>\n")
    }

    fn head<W: Write>(&self, w: &mut W) -> io::Result<()> {
        let chat = &self.t.chat;
        w.write_all(b"<!DOCTYPE html>\n<html lang=\"en\" data-tz=\"")?;
        attr(w, self.zone.name())?;
        w.write_all(b"\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"")?;
        attr(w, CONTENT_SECURITY_POLICY)?;
        w.write_all(b"\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"color-scheme\" content=\"light dark\">\n<meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"generator\" content=\"hashchat\">\n<title>")?;
        text(w, &chat.title)?;
        w.write_all(b" (")?;
        text(w, &chat.hashtag)?;
        w.write_all(b"), ")?;
        text(w, &format_local(self.session_start(), self.zone))?;
        w.write_all(b"</title>\n<style>")?;
        w.write_all(STYLE.as_bytes())?;
        w.write_all(b"</style>\n</head>\n<body>\n")
    }

    fn session_start(&self) -> DateTime<Utc> {
        let s = &self.t.session;
        s.started_at.unwrap_or(s.scheduled_start)
    }

    fn header<W: Write>(&self, w: &mut W) -> io::Result<()> {
        let chat = &self.t.chat;
        let links: Vec<&(String, String)> = self
            .options
            .site_links
            .iter()
            .filter(|(_, path)| path.starts_with('/') && !path.starts_with("//"))
            .collect();
        if !links.is_empty() {
            w.write_all(b"<nav class=\"site\" aria-label=\"Archive\">")?;
            for (label, path) in links {
                w.write_all(b"<a href=\"")?;
                attr(w, path)?;
                w.write_all(b"\">")?;
                text(w, label)?;
                w.write_all(b"</a>")?;
            }
            w.write_all(b"</nav>\n")?;
        }
        w.write_all(b"<header class=\"top\" id=\"top\">\n<p class=\"hashtag\"><bdi>")?;
        text(w, &chat.hashtag)?;
        w.write_all(b"</bdi></p>\n<h1 dir=\"auto\">")?;
        text(w, &chat.title)?;
        w.write_all(b"</h1>\n<p class=\"when\">")?;
        self.time(w, self.session_start(), true)?;
        let session = &self.t.session;
        if let (Some(started), Some(ended)) = (session.started_at, session.ended_at) {
            w.write_all(" – ".as_bytes())?;
            let day = |at: DateTime<Utc>| at.with_timezone(&self.zone).date_naive();
            self.time(w, ended, day(ended) != day(started))?;
            write!(
                w,
                " <span class=\"took\">({})</span>",
                duration_words(ended - started)
            )?;
        }
        w.write_all(b"</p>\n")?;
        if let Some(host) = &session.host {
            w.write_all(b"<p class=\"host\">Hosted by <bdi>")?;
            text(w, &host.name)?;
            w.write_all(b"</bdi></p>\n")?;
        }
        self.session_link(w)?;
        if !chat.description.is_empty() {
            w.write_all(b"<p class=\"desc\" dir=\"auto\">")?;
            text(w, &chat.description)?;
            w.write_all(b"</p>\n")?;
        }
        let participants = self.index.participants;
        write!(
            w,
            "<ul class=\"stats\">\n<li><strong>{participants}</strong> {}</li>\n<li><strong>{}</strong> {}</li>\n",
            plural(participants, "participant", "participants"),
            self.index.shown,
            plural(self.index.shown, "message", "messages"),
        )?;
        let platforms = &self.index.platforms;
        if !platforms.is_empty() {
            w.write_all(b"<li>on ")?;
            for (i, p) in platforms.iter().enumerate() {
                if i > 0 {
                    w.write_all(if i + 1 == platforms.len() {
                        b" and "
                    } else {
                        b", "
                    })?;
                }
                text(w, p)?;
            }
            w.write_all(b"</li>\n")?;
        }
        w.write_all(b"</ul>\n")?;
        if !self.t.points.is_empty() {
            w.write_all(b"<nav class=\"toc\" aria-label=\"Discussion points\">\n<h2>Discussion points</h2>\n<ol>\n")?;
            for s in self.index.sections.iter().filter(|s| s.point.is_some()) {
                let p = s.point.expect("filtered");
                w.write_all(b"<li><a href=\"#")?;
                attr(w, &s.id)?;
                write!(w, "\">Q{}</a>: <span dir=\"auto\">", p.number)?;
                text(w, &p.text)?;
                w.write_all(b"</span></li>\n")?;
            }
            w.write_all(b"</ol>\n</nav>\n")?;
        }
        w.write_all(b"</header>\n")
    }

    fn footer<W: Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"<footer class=\"bottom\">\n<p>Generated ")?;
        self.time(w, self.options.generated_at, true)?;
        let participants = self.index.participants;
        write!(
            w,
            " by hashchat: {} {} from {participants} {}, {} {}.</p>\n</footer>\n",
            self.index.shown,
            plural(self.index.shown, "message", "messages"),
            plural(participants, "participant", "participants"),
            self.t.points.len(),
            plural(self.t.points.len(), "discussion point", "discussion points"),
        )
    }

    fn section<W: Write>(&self, w: &mut W, s: &Section<'_>) -> io::Result<()> {
        let intro = s.number.is_none();
        if intro && self.t.intro.is_none() && s.messages.is_empty() && s.notes.is_empty() {
            return Ok(());
        }
        w.write_all(b"<section id=\"")?;
        attr(w, &s.id)?;
        w.write_all(b"\" aria-labelledby=\"")?;
        attr(w, &s.id)?;
        w.write_all(b"-h\">\n<h2 id=\"")?;
        attr(w, &s.id)?;
        w.write_all(b"-h\">")?;
        match (s.number, s.point) {
            (None, _) => w.write_all(b"Introduction</h2>\n")?,
            (Some(n), Some(p)) => {
                write!(w, "<span class=\"qn\">Q{n}</span> <span dir=\"auto\">")?;
                text(w, &p.text)?;
                w.write_all(b"</span></h2>\n")?;
            }
            (Some(n), None) => writeln!(w, "<span class=\"qn\">Q{n}</span></h2>")?,
        }
        if intro {
            if let Some(intro) = &self.t.intro {
                w.write_all(b"<p class=\"post\" dir=\"auto\">")?;
                text(w, intro)?;
                w.write_all(b"</p>\n")?;
            }
        }
        if s.number.is_some() {
            w.write_all(b"<p class=\"posted\">")?;
            match s.point.and_then(|p| p.posted_at) {
                Some(at) => {
                    w.write_all(b"Posted ")?;
                    self.time(w, at, false)?;
                }
                None if s.point.is_some() => w.write_all(b"Not reached")?,
                None => w.write_all(b"A point not in this transcript's chat")?,
            }
            let n = s.messages.len();
            writeln!(w, " · {n} {}</p>", plural(n, "message", "messages"))?;
            if n == 0 && s.point.is_some_and(|p| p.posted_at.is_some()) {
                w.write_all(b"<p class=\"empty\">No answers.</p>\n")?;
            }
        }

        // Groups: consecutive messages of one author, each within GROUP_WINDOW of the previous
        // one; a note after a message ends its group.
        let mut prev: Option<&MessageRecord> = None;
        for &i in &s.messages {
            let i = i as usize;
            let m = &self.t.messages[i];
            let continues = prev.is_some_and(|p| {
                p.platform == m.platform
                    && p.author.id == m.author.id
                    && m.sent_at - p.sent_at <= GROUP_WINDOW
            });
            if prev.is_some() && !continues {
                w.write_all(b"</div>\n</div>\n")?;
            }
            if !continues {
                self.group_start(w, m)?;
            }
            self.message(w, i, m, s.number)?;
            prev = Some(m);
            let filed_here = m.point == s.number || s.number.is_none();
            if let Some(notes) = self.index.notes_after.get(&i).filter(|_| filed_here) {
                w.write_all(b"</div>\n</div>\n")?;
                for n in notes {
                    self.note(w, n)?;
                }
                prev = None;
            }
        }
        if prev.is_some() {
            w.write_all(b"</div>\n</div>\n")?;
        }
        for n in &s.notes {
            self.note(w, n)?;
        }
        w.write_all(b"</section>\n")
    }

    fn group_start<W: Write>(&self, w: &mut W, m: &MessageRecord) -> io::Result<()> {
        w.write_all(b"<div class=\"group\">\n")?;
        let local = self
            .options
            .media
            .as_ref()
            .and_then(|r| r.avatar(&m.platform, &m.author))
            .filter(|src| escape::is_local_src(src));
        match local {
            Some(src) => {
                w.write_all(b"<img class=\"avatar\" alt=\"\" width=\"40\" height=\"40\" src=\"")?;
                attr(w, &src)?;
                w.write_all(b"\">\n")?;
            }
            None => {
                write!(
                    w,
                    "<span class=\"avatar c{}\" aria-hidden=\"true\">",
                    colour(&m.platform, &m.author.id)
                )?;
                text(w, &initials(&m.author.name))?;
                w.write_all(b"</span>\n")?;
            }
        }
        w.write_all(b"<div class=\"g\">\n<p class=\"who\"><bdi class=\"name\">")?;
        text(w, display_name(&m.author.name))?;
        w.write_all(b"</bdi>")?;
        // Where it was written, only when that differs between messages.
        if self.index.platforms.len() > 1 {
            w.write_all(b"<span class=\"badge")?;
            if is_known_platform(&m.platform) {
                w.write_all(b" p-")?;
                attr(w, &m.platform)?;
            }
            w.write_all(b"\">")?;
            text(w, label(m))?;
            w.write_all(b"</span>")?;
        }
        w.write_all(b"</p>\n")
    }

    /// Message `i`, shown under point `under`: where that is not the point it is filed under,
    /// it is shown again, with an anchor of its own and a link to where it is filed.
    fn message<W: Write>(
        &self,
        w: &mut W,
        i: usize,
        m: &MessageRecord,
        under: Option<u32>,
    ) -> io::Result<()> {
        let filed = &self.index.anchors[i];
        let again = under.is_some() && m.point != under;
        let anchor = match under {
            Some(n) if again => format!("{filed}-q{n}"),
            _ => filed.clone(),
        };
        let anchor = &anchor;
        let highlight = self.index.highlights.get(&i);
        w.write_all(b"<article class=\"msg")?;
        if m.withheld {
            w.write_all(b" withheld")?;
        }
        if highlight.is_some() {
            w.write_all(b" hl")?;
        }
        w.write_all(b"\" id=\"")?;
        attr(w, anchor)?;
        w.write_all(b"\">\n")?;
        if highlight.is_some() {
            w.write_all(b"<p class=\"hl-label\">\xE2\x98\x85 Highlighted</p>\n")?;
        }
        // The time is the link to the message's own anchor, as in the chat apps.
        w.write_all(b"<p class=\"meta\"><a class=\"stamp\" href=\"#")?;
        attr(w, anchor)?;
        w.write_all(b"\">")?;
        self.time(w, m.sent_at, false)?;
        w.write_all(b"</a>")?;
        if !m.withheld {
            if let Some(at) = m.edited_at {
                w.write_all(b"<span class=\"edited\">(edited ")?;
                self.time(w, at, false)?;
                w.write_all(b")</span>")?;
            } else if !m.edits.is_empty() {
                w.write_all(b"<span class=\"edited\">(edited)</span>")?;
            }
        }
        self.permalink(w, m)?;
        w.write_all(b"</p>\n")?;
        let marks = self.t.answer_marks(m, under);
        if !marks.is_empty() {
            w.write_all(b"<p class=\"marks\">")?;
            for (k, mark) in marks.iter().enumerate() {
                if k > 0 {
                    w.write_all(" · ".as_bytes())?;
                }
                if k == 0 && again {
                    // "answers Q6 too (filed under Q1)": the place it is filed is a link there.
                    w.write_all(b"<a href=\"#")?;
                    attr(w, filed)?;
                    w.write_all(b"\">")?;
                    text(w, mark)?;
                    w.write_all(b"</a>")?;
                } else {
                    text(w, mark)?;
                }
            }
            w.write_all(b"</p>\n")?;
        }
        if let Some(parent) = &m.reply_to {
            self.reply(w, m, parent)?;
        }
        self.body(w, m)?;
        if !m.withheld && !m.attachments.is_empty() {
            self.attachments(w, m)?;
        }
        if !m.reactions.is_empty() {
            w.write_all(b"<p class=\"reactions\">")?;
            for (i, r) in m.reactions.iter().enumerate() {
                if i > 0 {
                    w.write_all(b" ")?;
                }
                w.write_all(b"<span class=\"reaction\"><bdi>")?;
                text(w, &r.key)?;
                write!(w, "</bdi> {}</span>", r.count)?;
            }
            w.write_all(b"</p>\n")?;
        }
        w.write_all(b"</article>\n")
    }

    /// What the person wrote: formatted when the message has a formatted body with something
    /// to read in it, else plain text with its line breaks; withheld text is only the notice.
    fn body<W: Write>(&self, w: &mut W, m: &MessageRecord) -> io::Result<()> {
        if m.withheld {
            w.write_all(b"<p class=\"body\" dir=\"auto\">")?;
            text(w, WITHHELD)?;
            return w.write_all(b"</p>\n");
        }
        message_body(w, &m.body, m.formatted_body.as_deref())
    }

    /// Where the session took place (a Discord thread), as its adapter recorded it: a link only
    /// when the URL is a web URL (an imported document may carry anything), else the label.
    fn session_link<W: Write>(&self, w: &mut W) -> io::Result<()> {
        let Some(link) = &self.t.session.link else {
            return Ok(());
        };
        w.write_all(b"<p class=\"where\">Took place in ")?;
        if escape::is_web_url(&link.url) {
            w.write_all(b"<a href=\"")?;
            attr(w, &link.url)?;
            w.write_all(b"\"")?;
            w.write_all(LINK_REL.as_bytes())?;
            w.write_all(b"><bdi>")?;
            text(w, &link.label)?;
            w.write_all(b"</bdi></a>")?;
        } else {
            w.write_all(b"<bdi>")?;
            text(w, &link.label)?;
            w.write_all(b"</bdi>")?;
        }
        w.write_all(b"</p>\n")
    }

    /// The link to the message on its platform, as its adapter recorded it: only a web URL
    /// becomes a link (an imported document may carry anything).
    fn permalink<W: Write>(&self, w: &mut W, m: &MessageRecord) -> io::Result<()> {
        let Some(url) = m.permalink.as_deref().filter(|u| escape::is_web_url(u)) else {
            return Ok(());
        };
        w.write_all(b"<a class=\"perma\" href=\"")?;
        attr(w, url)?;
        w.write_all(b"\"")?;
        w.write_all(LINK_REL.as_bytes())?;
        w.write_all(b">on ")?;
        text(w, label(m))?;
        w.write_all(b"</a>")
    }

    fn reply<W: Write>(&self, w: &mut W, m: &MessageRecord, parent: &str) -> io::Result<()> {
        let key = (m.platform.as_str(), parent);
        w.write_all(b"<blockquote class=\"reply\">")?;
        if let Some(&pi) = self.index.by_id.get(&key) {
            let p = &self.t.messages[pi];
            if p.is_shown() {
                w.write_all(b"<a href=\"#")?;
                attr(w, &self.index.anchors[pi])?;
                w.write_all(b"\">\xE2\x86\xAA <bdi>")?;
                text(w, display_name(&p.author.name))?;
                w.write_all(b"</bdi>: <span dir=\"auto\">")?;
                let body = if p.withheld { WITHHELD } else { &p.body };
                text(w, &excerpt(body, 90))?;
                w.write_all(b"</span></a>")?;
            } else {
                w.write_all(b"\xE2\x86\xAA replying to a message not shown")?;
            }
        } else if let Some(post) = self.index.posts.get(&key) {
            match (post.kind.as_str(), post.point) {
                ("point", Some(n)) => write!(w, "<a href=\"#q{n}\">\u{21AA} replying to Q{n}</a>")?,
                ("intro", _) => {
                    w.write_all(b"<a href=\"#intro\">\xE2\x86\xAA replying to the intro</a>")?
                }
                ("wrap_up", _) if self.t.wrap_up.is_some() => {
                    w.write_all(b"<a href=\"#wrap-up\">\xE2\x86\xAA replying to the wrap-up</a>")?
                }
                _ => w.write_all(b"\xE2\x86\xAA replying to the bot")?,
            }
        } else {
            w.write_all(b"\xE2\x86\xAA replying to a message not in this transcript")?;
        }
        w.write_all(b"</blockquote>\n")
    }

    fn attachments<W: Write>(&self, w: &mut W, m: &MessageRecord) -> io::Result<()> {
        w.write_all(b"<ul class=\"attachments\">\n")?;
        for a in &m.attachments {
            w.write_all(b"<li>")?;
            let local = self
                .options
                .media
                .as_ref()
                .filter(|_| is_image(a))
                .and_then(|r| r.attachment(m, a))
                .filter(|src| escape::is_local_src(src));
            if let Some(src) = local {
                w.write_all(b"<figure><img loading=\"lazy\" src=\"")?;
                attr(w, &src)?;
                w.write_all(b"\" alt=\"")?;
                attr(w, &a.name)?;
                w.write_all(b"\"><figcaption dir=\"auto\">")?;
                text(w, &a.name)?;
                w.write_all(b"</figcaption></figure>")?;
            } else if escape::is_web_url(&a.url) {
                w.write_all(b"<a href=\"")?;
                attr(w, &a.url)?;
                w.write_all(b"\"")?;
                w.write_all(LINK_REL.as_bytes())?;
                w.write_all(b"><bdi>")?;
                text(w, attachment_name(a))?;
                w.write_all(b"</bdi></a>")?;
            } else {
                w.write_all(b"<bdi>")?;
                text(w, attachment_name(a))?;
                w.write_all(b"</bdi>")?;
            }
            let kind = if is_image(a) { "image" } else { "file" };
            match a.size_bytes {
                Some(size) if size >= 0 => write!(w, " ({kind}, {})", human_size(size))?,
                _ => write!(w, " ({kind})")?,
            }
            w.write_all(b"</li>\n")?;
        }
        w.write_all(b"</ul>\n")
    }

    fn note<W: Write>(&self, w: &mut W, n: &NoteRecord) -> io::Result<()> {
        w.write_all(b"<aside class=\"note\" aria-label=\"Curator's note\">\n<p class=\"note-label\">Curator\xE2\x80\x99s note</p>\n<p class=\"note-text\" dir=\"auto\">")?;
        text(w, &n.text)?;
        w.write_all(b"</p>\n<p class=\"note-by\">\xE2\x80\x94 <bdi>")?;
        text(w, n.credit())?;
        w.write_all(b"</bdi>, ")?;
        self.time(w, n.at, false)?;
        w.write_all(b"</p>\n</aside>\n")
    }

    /// `<time datetime="2026-12-01T19:02:00Z">19:02 GMT</time>`, in the chat's zone; `full`
    /// adds the date.
    fn time<W: Write>(&self, w: &mut W, at: DateTime<Utc>, full: bool) -> io::Result<()> {
        if full {
            write_time(w, at, self.zone, true)
        } else {
            let mut cache = self.last_time.borrow_mut();
            let second = at.timestamp();
            if cache.0 != second {
                let mut buf = Vec::with_capacity(64);
                write_time(&mut buf, at, self.zone, false)?;
                cache.1 = String::from_utf8(buf).expect("escaped UTF-8");
                cache.0 = second;
            }
            w.write_all(cache.1.as_bytes())
        }
    }
}

/// `<time datetime="2026-12-01T19:02:00Z">19:02 GMT</time>`, in `zone`; `full` adds the date.
fn write_time<W: Write>(w: &mut W, at: DateTime<Utc>, zone: Tz, full: bool) -> io::Result<()> {
    let local = at.with_timezone(&zone);
    write!(
        w,
        "<time{} datetime=\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z\">",
        if full { " class=\"full\"" } else { "" },
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
    )?;
    if full {
        text(w, &format_local(at, zone))?;
    } else {
        write!(w, "{:02}:{:02} ", local.hour(), local.minute())?;
        text(w, &local.offset().to_string())?;
    }
    w.write_all(b"</time>")
}

fn is_known_platform(p: &str) -> bool {
    matches!(p, "discord" | "matrix" | "web" | "loopback")
}

/// The platform's name as its adapter recorded it with the message; its id where none was.
fn label(m: &MessageRecord) -> &str {
    m.platform_label.as_deref().unwrap_or(&m.platform)
}

use crate::render::duration_words;

fn plural<'s>(n: usize, one: &'s str, many: &'s str) -> &'s str {
    if n == 1 {
        one
    } else {
        many
    }
}

fn display_name(name: &str) -> &str {
    if name.trim().is_empty() {
        "(no name)"
    } else {
        name
    }
}

fn attachment_name(a: &AttachmentRecord) -> &str {
    if a.name.trim().is_empty() {
        "attachment"
    } else {
        &a.name
    }
}

fn is_image(a: &AttachmentRecord) -> bool {
    match &a.content_type {
        Some(ct) => ct.len() > 6 && ct.as_bytes()[..6].eq_ignore_ascii_case(b"image/"),
        None => {
            let lower = a.name.to_ascii_lowercase();
            [".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif"]
                .iter()
                .any(|ext| lower.ends_with(ext))
        }
    }
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.0} kB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// Up to two initials from a display name ("Ada Lovelace" → "AL"), or `?`.
/// A message's body as the transcript shows it (and the browser room, which shows messages as
/// they will be archived): formatted when `formatted_body` has something to read in it, else
/// plain text with its line breaks and its bare web addresses made links.
pub fn message_body<W: Write>(
    w: &mut W,
    plain: &str,
    formatted_body: Option<&str>,
) -> io::Result<()> {
    let formatted = formatted_body
        .map(rich::parse)
        .filter(|blocks| rich::has_text(blocks));
    match formatted {
        Some(blocks) => {
            w.write_all(b"<div class=\"body rich\" dir=\"auto\">")?;
            body::formatted(w, &blocks)?;
            w.write_all(b"</div>\n")
        }
        None => {
            w.write_all(b"<p class=\"body\" dir=\"auto\">")?;
            body::plain(w, plain)?;
            w.write_all(b"</p>\n")
        }
    }
}

pub fn initials(name: &str) -> String {
    let mut out = String::new();
    for word in name.split_whitespace().take(2) {
        if let Some(c) = word.chars().find(|c| c.is_alphanumeric()) {
            out.extend(c.to_uppercase());
        }
    }
    if out.is_empty() {
        out.push('?');
    }
    out
}

/// The avatar colour class (0..12) for an author: the same person gets the same colour in
/// every transcript.
pub fn colour(platform: &str, author_id: &str) -> u64 {
    anchors::fnv1a(&[platform.as_bytes(), b":", author_id.as_bytes()]) % 12
}

/// The first `max` characters of `body` on one line, with an ellipsis if cut.
fn excerpt(body: &str, max: usize) -> String {
    let mut out = String::with_capacity(max + 4);
    let mut count = 0;
    let mut space = false;
    for c in body.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if count >= max {
            out.push('\u{2026}');
            return out;
        }
        if space {
            out.push(' ');
            count += 1;
            space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_from_names() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("grace"), "G");
        assert_eq!(initials("  "), "?");
        assert_eq!(initials("<script>"), "S");
        assert_eq!(initials("émile zola third"), "ÉZ");
        assert_eq!(initials("\u{202E}"), "?");
    }

    #[test]
    fn excerpts_fold_whitespace_and_cut() {
        assert_eq!(excerpt("  a\n\n b  ", 10), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc\u{2026}");
        assert_eq!(excerpt("abc", 3), "abc");
    }

    #[test]
    fn colours_are_stable() {
        assert_eq!(colour("matrix", "@a:x"), colour("matrix", "@a:x"));
        assert!(colour("discord", "1") < 12);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(2048), "2 kB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MB");
    }
}
