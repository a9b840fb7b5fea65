//! Archive ingest: messages per second through `Store::append_messages` on SQLite, against a
//! raw batched sqlx insert loop doing the same work in the same run.
//!
//! Both sides write batches of 1,000 realistic messages (about 5% with an attachment) with
//! fresh platform ids every iteration, into the same schema (the store's own SQLite
//! migrations), in a temporary file in WAL mode with `synchronous=NORMAL`, one transaction per
//! batch, multi-row INSERTs of 500 rows with `?` placeholders, attachment ids looked up
//! afterwards. The baseline runs the same algorithm on a typed `SqlitePool`, without the
//! store's in-batch de-duplication and `Any` driver layer; the ratio between the two is what
//! the store costs. Goal: store ≥ 0.8 × baseline and ≥ 50,000 messages/s.
//!
//! Run: `cargo bench --bench ingest`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bot_core::ids::Platform;
use bot_core::model::{
    ArchivedMessage, Attachment, IncomingMessage, NewSession, SessionId, SessionOrigin,
    SessionState,
};
use bot_core::store::Store;
use chrono::{DateTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row, SqlitePool};

const BATCH: usize = 1_000;
const CHUNK: usize = 500;

const FIRST_ID: u64 = 1_200_000_000_000_000_000;
static NEXT_ID: AtomicU64 = AtomicU64::new(FIRST_ID);

const WORDS: &[&str] = &[
    "libraries",
    "social",
    "media",
    "patrons",
    "outreach",
    "catalogue",
    "twitter",
    "mastodon",
    "events",
    "budget",
    "volunteers",
    "archive",
    "privacy",
    "community",
    "A1:",
    "A2:",
    "great",
    "point",
    "we",
    "tried",
    "this",
    "last",
    "year",
    "and",
    "it",
    "worked",
    "really",
    "well",
];

/// `n` messages as a busy chat produces them: Discord snowflakes, 20–240 character bodies,
/// some formatted, some replies, a few with an image.
fn realistic_batch(session_id: SessionId, start: DateTime<Utc>) -> Vec<ArchivedMessage> {
    (0..BATCH)
        .map(|i| {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let mut body = String::new();
            let words = 4 + (id % 37) as usize;
            for w in 0..words {
                if w > 0 {
                    body.push(' ');
                }
                body.push_str(WORDS[(id as usize + w * 7) % WORDS.len()]);
            }
            let author = id % 53;
            ArchivedMessage {
                session_id,
                point: Some((i % 6) as u32 + 1),
                message: IncomingMessage {
                    platform: Platform::Discord,
                    room: "1019283746501928374".to_owned(),
                    platform_msg_id: id.to_string(),
                    author_id: format!("80351110224678{author:03}"),
                    author_name: format!("participant {author}"),
                    avatar_url: (!author.is_multiple_of(5)).then(|| {
                        format!("https://cdn.discordapp.com/avatars/80351110224678{author:03}/a1b2c3d4e5f6.png")
                    }),
                    formatted_body: id.is_multiple_of(3).then(|| format!("<p>{body}</p>")),
                    body,
                    // Time moves on from batch to batch, as in a live chat.
                    sent_at: start + chrono::Duration::milliseconds((id - FIRST_ID) as i64 * 20),
                    reply_to: id.is_multiple_of(5).then(|| (id - 3).to_string()),
                    platform_label: Some("Discord".to_owned()),
                    permalink: Some(format!(
                        "https://discord.com/channels/1019283746501928300/1019283746501928374/{id}"
                    )),
                    attachments: if id.is_multiple_of(20) {
                        vec![Attachment {
                            url: format!("https://cdn.discordapp.com/attachments/1/{id}/photo.jpg"),
                            name: "photo.jpg".to_owned(),
                            content_type: Some("image/jpeg".to_owned()),
                            size_bytes: Some(183_224),
                        }]
                    } else {
                        Vec::new()
                    },
                },
            }
        })
        .collect()
}

/// Anonymous `?` placeholders: with `$N` names, sqlx's per-parameter name lookup makes binding
/// quadratic in the number of parameters on SQLite.
fn values_sql(head: &str, rows: usize, cols: usize) -> String {
    let mut sql = String::from(head);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            sql.push_str(if c == 0 { "?" } else { ", ?" });
        }
        sql.push(')');
    }
    sql
}

/// Ids of the given Discord messages that are stored, by platform id.
async fn raw_lookup(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    ids: &[&str],
) -> std::collections::HashMap<String, i64> {
    let mut sql = String::from(
        "SELECT id, platform_msg_id FROM messages WHERE platform = 'discord' \
         AND platform_msg_id IN ",
    );
    sql.push_str(&values_sql("", 1, ids.len()));
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(*id);
    }
    q.fetch_all(&mut **tx)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>(1), r.get::<i64, _>(0)))
        .collect()
}

/// The baseline: the same algorithm as the store (note which messages with attachments exist,
/// multi-row INSERT … ON CONFLICT DO NOTHING, look up the new ids, insert their attachments),
/// written directly against a typed `SqlitePool`, for a batch from one platform.
async fn raw_insert(pool: &SqlitePool, batch: &[ArchivedMessage]) -> u64 {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let mut inserted = 0;
    for chunk in batch.chunks(CHUNK) {
        let with_attachments: Vec<&ArchivedMessage> = chunk
            .iter()
            .filter(|m| !m.message.attachments.is_empty())
            .collect();
        let ids: Vec<&str> = with_attachments
            .iter()
            .map(|m| m.message.platform_msg_id.as_str())
            .collect();
        let existing = if ids.is_empty() {
            Default::default()
        } else {
            raw_lookup(&mut tx, &ids).await
        };
        let mut sql = values_sql(
            "INSERT INTO messages (session_id, point, platform, room, platform_msg_id, \
             author_id, author_name, avatar_url, body, formatted_body, sent_at, reply_to, \
             platform_label, permalink) VALUES ",
            chunk.len(),
            14,
        );
        sql.push_str(" ON CONFLICT (platform, platform_msg_id) DO NOTHING");
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for a in chunk {
            let m = &a.message;
            q = q
                .bind(a.session_id)
                .bind(a.point.map(i64::from))
                .bind(m.platform.as_str())
                .bind(m.room.as_str())
                .bind(m.platform_msg_id.as_str())
                .bind(m.author_id.as_str())
                .bind(m.author_name.as_str())
                .bind(m.avatar_url.as_deref())
                .bind(m.body.as_str())
                .bind(m.formatted_body.as_deref())
                .bind(m.sent_at.timestamp_millis())
                .bind(m.reply_to.as_deref())
                .bind(m.platform_label.as_deref())
                .bind(m.permalink.as_deref());
        }
        inserted += q.execute(&mut *tx).await.unwrap().rows_affected();

        let new_ids: Vec<&str> = ids
            .into_iter()
            .filter(|id| !existing.contains_key(*id))
            .collect();
        if new_ids.is_empty() {
            continue;
        }
        let stored = raw_lookup(&mut tx, &new_ids).await;
        let atts: Vec<(i64, i64, &Attachment)> = with_attachments
            .iter()
            .filter_map(|a| {
                Some((
                    stored.get(&a.message.platform_msg_id)?,
                    &a.message.attachments,
                ))
            })
            .flat_map(|(&id, atts)| atts.iter().enumerate().map(move |(p, t)| (id, p as i64, t)))
            .collect();
        let mut sql = values_sql(
            "INSERT INTO attachments (message_id, position, url, name, content_type, size_bytes) \
             VALUES ",
            atts.len(),
            6,
        );
        sql.push_str(" ON CONFLICT (message_id, position) DO NOTHING");
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, pos, t) in atts {
            q = q
                .bind(id)
                .bind(pos)
                .bind(t.url.as_str())
                .bind(t.name.as_str())
                .bind(t.content_type.as_deref())
                .bind(t.size_bytes);
        }
        q.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    inserted
}

fn ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let start = Utc.with_ymd_and_hms(2025, 3, 4, 18, 0, 0).unwrap();

    let (store, session_id) = rt.block_on(async {
        let url = format!("sqlite://{}/store.db", dir.path().display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let id = store
            .create_session(&NewSession {
                chat_slug: "bench".to_owned(),
                origin: SessionOrigin::Command,
                state: SessionState::Running,
                scheduled_start: start,
                next_step: 2,
                next_due_at: None,
                rooms: Vec::new(),
                command: None,
            })
            .await
            .unwrap();
        (store, id)
    });

    let raw = rt.block_on(async {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("raw.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO sessions (id, chat_slug, state, origin, scheduled_start, next_step, \
             created_at) VALUES ($1, 'bench', 'running', 'command', 0, 2, 0)",
        )
        .bind(session_id)
        .execute(&pool)
        .await
        .unwrap();
        pool
    });

    let mut group = c.benchmark_group("archive ingest");
    group
        .throughput(Throughput::Elements(BATCH as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(12));

    group.bench_function("store append_messages (Any, sqlite)", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let store = store.clone();
            async move {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let batch = realistic_batch(session_id, start);
                    let t0 = Instant::now();
                    let n = store.append_messages(&batch).await.unwrap();
                    spent += t0.elapsed();
                    assert_eq!(n, BATCH as u64);
                }
                spent
            }
        })
    });

    group.bench_function("raw sqlx SqlitePool batched insert", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let pool = raw.clone();
            async move {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let batch = realistic_batch(session_id, start);
                    let t0 = Instant::now();
                    let n = raw_insert(&pool, &batch).await;
                    spent += t0.elapsed();
                    assert_eq!(n, BATCH as u64);
                }
                spent
            }
        })
    });
    group.finish();

    rt.block_on(async {
        store.close().await;
        raw.close().await;
    });
}

criterion_group!(benches, ingest);
criterion_main!(benches);
