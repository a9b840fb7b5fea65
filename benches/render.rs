//! Rendering a 100,000-message transcript to HTML.
//!
//! The transcript is shaped like a very busy session: 6 points, 300 authors on Discord and
//! Matrix, 4–40-word bodies, a fifth of them replies (to earlier messages, some to the point
//! posts), 1 in 20 edited, 1 in 50 with an attachment, 1 in 200 hidden, a few withheld, notes
//! and highlights. It is built once, before measuring.
//!
//! Time: criterion medians of `render::html::render` into `std::io::sink()` and into a `Vec`,
//! and of `serde_json::to_writer` of the same transcript into a sink (the baseline: the JSON
//! export's cost, so the HTML figure reads as a ratio).
//!
//! Memory: this binary's global allocator counts live bytes and keeps a high-water mark. Before
//! the timed runs, each path runs once with the mark reset to the live bytes at its start; the
//! peak above that is what rendering itself needs (the transcript, already in memory, is not
//! counted; its own size is printed beside). Rendering into a `Vec` includes the page itself.
//!
//! Run: `cargo bench --bench render`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bot_core::render::html::{self, HtmlOptions};
use bot_core::transcript::{
    AttachmentRecord, Author, ChatRecord, EditRecord, Highlight, MessageRecord, NoteRecord,
    PointRecord, PostRecord, SessionRecord, Transcript, SCHEMA_VERSION, WITHHELD,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MESSAGES: usize = 100_000;
const POINTS: u32 = 6;
const AUTHORS: usize = 300;

/// A small deterministic generator (xorshift64*), so every run renders the same transcript.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "library",
    "post",
    "we",
    "our",
    "patrons",
    "daily",
    "weekly",
    "Twitter",
    "Mastodon",
    "events",
    "catalogue",
    "photos",
    "and",
    "the",
    "a",
    "to",
    "of",
    "works",
    "best",
    "when",
    "staff",
    "share",
    "stories",
    "I",
    "think",
    "reading",
    "club",
    "books",
    "new",
    "local",
    "history",
    "archive",
    "#interlibnet",
    "A1:",
    "great",
    "idea",
    "agree",
    "&",
    "<3",
    "questions",
];

fn body(rng: &mut Rng) -> String {
    let n = 4 + rng.below(37) as usize;
    let mut s = String::with_capacity(n * 7);
    for i in 0..n {
        if i > 0 {
            s.push(if rng.below(25) == 0 { '\n' } else { ' ' });
        }
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    s
}

fn transcript() -> Transcript {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap();
    let authors: Vec<(String, Author)> = (0..AUTHORS)
        .map(|i| {
            if i % 3 == 0 {
                let id = format!("@user{i}:example.org");
                (
                    "matrix".to_owned(),
                    Author {
                        name: format!("Matrix Person {i}"),
                        avatar_url: Some(format!("mxc://example.org/{i}")),
                        id,
                    },
                )
            } else {
                (
                    "discord".to_owned(),
                    Author {
                        id: format!("{}", 300_000_000_000_000_000u64 + i as u64),
                        name: format!("Discord Person {i}"),
                        avatar_url: Some(format!("https://cdn.discordapp.com/avatars/{i}.png")),
                    },
                )
            }
        })
        .collect();
    let point_at = |n: u32| start + TimeDelta::minutes(5 + 10 * i64::from(n - 1));
    let points: Vec<PointRecord> = (1..=POINTS)
        .map(|n| PointRecord {
            number: n,
            text: format!("Discussion point {n}: how does your library use social media?"),
            posted_at: Some(point_at(n)),
        })
        .collect();
    let mut posts = Vec::new();
    for n in 1..=POINTS {
        posts.push(PostRecord {
            kind: "point".into(),
            point: Some(n),
            room: "discord:900".into(),
            platform_message_id: format!("{}", 900_000 + n),
            posted_at: point_at(n),
        });
        posts.push(PostRecord {
            kind: "point".into(),
            point: Some(n),
            room: "matrix:!room:example.org".into(),
            platform_message_id: format!("$post{n}"),
            posted_at: point_at(n),
        });
    }
    // 100,000 messages over an hour: about 36 ms apart.
    let span_ms = 60 * 60 * 1000;
    let mut messages: Vec<MessageRecord> = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let sent_at = start + TimeDelta::milliseconds((i * span_ms / MESSAGES) as i64);
        // Runs of one author now and then, so grouping has something to group.
        let a = if i > 0 && rng.below(4) == 0 {
            (i - 1) % AUTHORS
        } else {
            rng.below(AUTHORS as u64) as usize
        };
        let (platform, author) = &authors[a];
        let id = if platform == "matrix" {
            format!("${i:x}Ab{}cDeFgH", rng.next() % 1_000_000)
        } else {
            format!("{}", 1_182_736_450_912_000_000u64 + i as u64)
        };
        let point = (1..=POINTS).rev().find(|&n| point_at(n) <= sent_at);
        let reply_to = match rng.below(10) {
            0 | 1 => {
                // A reply to an earlier message of the same platform, or to the point's post.
                let same: Option<&MessageRecord> = (0..8)
                    .map(|_| i.saturating_sub(1 + rng.below(200) as usize))
                    .filter_map(|j| messages.get(j))
                    .find(|m| m.platform == *platform);
                match (same, point) {
                    (Some(m), _) if rng.below(4) != 0 => Some(m.platform_message_id.clone()),
                    (_, Some(n)) if platform == "matrix" => Some(format!("$post{n}")),
                    (_, Some(n)) => Some(format!("{}", 900_000 + n)),
                    _ => None,
                }
            }
            _ => None,
        };
        let withheld = rng.below(1000) == 0;
        let edited = !withheld && rng.below(20) == 0;
        let mut m = MessageRecord {
            platform: platform.clone(),
            room: if platform == "matrix" {
                "!room:example.org".into()
            } else {
                "900".into()
            },
            platform_label: Some(
                if platform == "matrix" {
                    "Matrix"
                } else {
                    "Discord"
                }
                .into(),
            ),
            permalink: (platform == "matrix").then(|| {
                format!(
                    "https://matrix.to/#/!room%3Aexample.org/{}",
                    id.replace('$', "%24")
                )
            }),
            platform_message_id: id,
            author: author.clone(),
            body: if withheld {
                WITHHELD.into()
            } else {
                body(&mut rng)
            },
            formatted_body: None,
            sent_at,
            point,
            also_answers: Vec::new(),
            reply_to,
            edits: vec![],
            edited_at: None,
            attachments: vec![],
            reactions: vec![],
            withheld,
            hidden: rng.below(200) == 0,
        };
        if edited {
            m.edits.push(EditRecord {
                body: body(&mut rng),
                formatted_body: None,
                replaced_at: sent_at + TimeDelta::seconds(30),
            });
            m.edited_at = Some(sent_at + TimeDelta::seconds(30));
        }
        if platform == "matrix" && rng.below(3) == 0 {
            m.formatted_body = Some(format!("<p>{}</p>", m.body));
        }
        if !withheld && rng.below(50) == 0 {
            m.attachments.push(AttachmentRecord {
                url: format!("https://media.example/{i}.png"),
                name: format!("photo-{i}.png"),
                content_type: Some("image/png".into()),
                size_bytes: Some(150_000),
            });
        }
        messages.push(m);
    }
    let notes = (0..12)
        .map(|k| NoteRecord {
            text: format!("Curator's note {k}: a theme that came up again and again."),
            point: Some(1 + k % POINTS),
            after_message: (k % 2 == 0).then(|| {
                let m = &messages[k as usize * 7919];
                m.key()
            }),
            by: "matrix:@curator:example.org".into(),
            by_name: Some("Curator".into()),
            at: start + TimeDelta::hours(2),
        })
        .collect();
    let highlights = (0..30)
        .map(|k| Highlight {
            message: messages[k * 3331].key(),
            by: "discord:42".into(),
            at: start + TimeDelta::hours(2),
        })
        .collect();
    Transcript {
        schema_version: SCHEMA_VERSION,
        chat: ChatRecord {
            slug: "interlibnet".into(),
            title: "Libraries and social media".into(),
            hashtag: "#interlibnet".into(),
            description: "A monthly chat about libraries online.".into(),
            time_zone: "Europe/London".into(),
        },
        session: SessionRecord {
            uid: "bench".into(),
            state: "ended".into(),
            scheduled_start: start,
            started_at: Some(start),
            ended_at: Some(start + TimeDelta::minutes(65)),
            rooms: vec!["discord:900".into(), "matrix:!room:example.org".into()],
            link: None,
            host: None,
        },
        intro: Some("Welcome to #interlibnet!".into()),
        points,
        wrap_up: Some("Thanks, everyone!".into()),
        posts,
        messages,
        notes,
        highlights,
    }
}

/// Runs `f` once; returns (peak bytes allocated above the live bytes at the start, time).
fn peak_of(f: impl FnOnce()) -> (usize, Duration) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    f();
    let elapsed = t.elapsed();
    (PEAK.load(Ordering::Relaxed) - base, elapsed)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn bench(c: &mut Criterion) {
    let before = LIVE.load(Ordering::Relaxed);
    let t = transcript();
    let transcript_bytes = LIVE.load(Ordering::Relaxed) - before;
    let options = HtmlOptions::new(Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap());

    let (sink_peak, sink_time) = peak_of(|| {
        html::render(&t, &options, &mut io::sink()).unwrap();
    });
    let mut page_len = 0;
    let (vec_peak, vec_time) = peak_of(|| {
        let mut out = Vec::new();
        html::render(&t, &options, &mut out).unwrap();
        page_len = out.len();
    });
    let (json_peak, json_time) = peak_of(|| {
        serde_json::to_writer(io::sink(), &t).unwrap();
    });
    println!(
        "transcript: {} messages ({} shown), {:.1} MiB in memory; page {:.1} MiB",
        t.messages.len(),
        t.shown_messages().count(),
        mib(transcript_bytes),
        mib(page_len)
    );
    println!(
        "peak allocated during one run (first, untimed-by-criterion run):\n  html → sink: {:.1} MiB ({:.0} ms)\n  html → Vec:  {:.1} MiB ({:.0} ms)\n  serde_json → sink: {:.1} MiB ({:.0} ms)",
        mib(sink_peak),
        sink_time.as_secs_f64() * 1e3,
        mib(vec_peak),
        vec_time.as_secs_f64() * 1e3,
        mib(json_peak),
        json_time.as_secs_f64() * 1e3,
    );
    if let Some(hwm) = vm_hwm_kib() {
        println!(
            "process VmHWM so far (transcript + one page in a Vec + runtime): {:.1} MiB",
            hwm as f64 / 1024.0
        );
    }

    let mut g = c.benchmark_group("render 100k");
    g.throughput(Throughput::Elements(MESSAGES as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("html to sink", |b| {
        b.iter(|| html::render(black_box(&t), &options, &mut io::sink()).unwrap())
    });
    g.bench_function("html to Vec", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            html::render(black_box(&t), &options, &mut out).unwrap();
            out
        })
    });
    g.bench_function("serde_json to sink (baseline)", |b| {
        b.iter(|| serde_json::to_writer(io::sink(), black_box(&t)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
