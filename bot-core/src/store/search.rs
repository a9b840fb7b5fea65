//! Full-text search over archived message bodies: one API, each backend's own index.
//!
//! - SQLite: the FTS5 table `messages_fts` (external content, kept by triggers), queried with
//!   `MATCH` and a query string built here from quoted terms, so nothing a user types is FTS5
//!   syntax (no `NEAR(`, `*`, `OR`, column filters, unbalanced quotes).
//! - PostgreSQL: an expression GIN index on `to_tsvector('simple', body)`, queried with
//!   `plainto_tsquery('simple', …)`, which ignores operators by design.
//!
//! Both backends see the same terms ([`search_terms`]): words of letters and digits, at most
//! [`MAX_TERMS`], each at most [`MAX_TERM_CHARS`]. Every term must match (AND). Deleted and
//! hidden messages, and messages of anyone who opted out of transcripts, are never returned;
//! nor are messages of sessions that never started.
//!
//! Results come most recently archived first (the message's row id, descending) and are paged
//! by that id ([`SearchHit::message_id`] of the last hit seen). FTS5 walks its index in that
//! order and stops once a page is full; PostgreSQL walks back through the newest messages and
//! reads its word index for what is older (see [`POSTGRES_WALK`]). Either way a word in half
//! the archive costs no more than a rare one. A relevance rank (bm25, ts_rank) would have to
//! score every match first.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::codec::{col, col_time};
use super::{Backend, Context, Result, Store};
use crate::model::SessionId;

/// At most this many words of a query are searched for.
pub const MAX_TERMS: usize = 12;
/// Longer words are cut to this many characters.
pub const MAX_TERM_CHARS: usize = 64;
/// Only this much of a query is read.
const MAX_QUERY_CHARS: usize = 1024;
/// Where the database's own highlighting marks a matching word: private-use characters,
/// which no text people write is expected to hold (one that does is still shown as text,
/// escaped; at worst a word is marked that did not match).
const MATCH_START: char = '\u{E000}';
const MATCH_END: char = '\u{E001}';
/// Words of context the database keeps around the matches in an excerpt.
const EXCERPT_WORDS: u32 = 24;
/// On PostgreSQL a search first walks back through this many of the newest messages (by id)
/// and only then, if that did not fill the page, asks the word index for the older ones.
/// PostgreSQL's planner cannot tell a rare word from a common one well enough (it estimated
/// 0.5% for a word in 0.01% of five million messages) and chose to walk back through the whole
/// table for it: 700 ms. Bounding the walk makes a common word cost a short walk, and leaves
/// the index (`enable_indexscan = off`, so it is read as a bitmap, never walked) to words too
/// rare to fill a page from the newest messages, whose matches are few. Every plan is made for
/// its own arguments (`plan_cache_mode = force_custom_plan`): a cached generic plan cannot
/// know how big the window is or how rare the word.
const POSTGRES_WALK: i64 = 20_000;

/// One matching message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The message's row id: the order of results, and where the next page starts.
    pub message_id: i64,
    pub session_id: SessionId,
    pub session_uid: String,
    pub chat_slug: String,
    pub session_started_at: DateTime<Utc>,
    pub platform: String,
    pub platform_msg_id: String,
    pub author_name: String,
    pub sent_at: DateTime<Utc>,
    /// The discussion point the message answers (`None`: the introduction).
    pub point: Option<u32>,
    /// The text around the matches, as the database's own highlighting cut it (FTS5
    /// `snippet`, PostgreSQL `ts_headline`): pieces in order, `true` for a matching word. Not
    /// escaped: the caller escapes it.
    pub excerpt: Vec<(bool, String)>,
}

impl SearchHit {
    /// The excerpt as plain text.
    pub fn excerpt_text(&self) -> String {
        self.excerpt.iter().map(|(_, t)| t.as_str()).collect()
    }
}

/// The words of a user's query that are searched for: runs of letters and digits, lowercased,
/// in order, without duplicates. Everything else (quotes, operators, control characters, NUL)
/// separates words and is never passed to the database as syntax.
pub fn search_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in query
        .chars()
        .take(MAX_QUERY_CHARS)
        .collect::<String>()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word: String = word.chars().take(MAX_TERM_CHARS).collect::<String>();
        let word = word.to_lowercase();
        if !terms.contains(&word) {
            terms.push(word);
        }
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

/// The FTS5 query for `terms`: each one an FTS5 string (double-quoted, quotes doubled), joined
/// by spaces (implicit AND).
fn fts5_query(terms: &[String]) -> String {
    let mut q = String::new();
    for t in terms {
        if !q.is_empty() {
            q.push(' ');
        }
        q.push('"');
        q.push_str(&t.replace('"', "\"\""));
        q.push('"');
    }
    q
}

/// The database's highlighted excerpt cut into pieces at its marks, control characters shown
/// as spaces.
fn excerpt_pieces(marked: &str) -> Vec<(bool, String)> {
    let mut pieces: Vec<(bool, String)> = Vec::new();
    let mut matched = false;
    let mut current = String::new();
    for c in marked.chars() {
        match c {
            MATCH_START | MATCH_END => {
                if !current.is_empty() {
                    pieces.push((matched, std::mem::take(&mut current)));
                }
                matched = c == MATCH_START;
            }
            c if c.is_control() => current.push(' '),
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        pieces.push((matched, current));
    }
    pieces
}

impl Store {
    /// Messages matching `query` in sessions of the chats `chat_slugs`, most recently archived
    /// first, only those archived before message `before` when it is given; at most `limit`.
    /// A query with no words, or no chats, finds nothing. User input never reaches the database
    /// as query syntax, so no query is an error.
    pub async fn search_messages(
        &self,
        query: &str,
        chat_slugs: &[String],
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let terms = search_terms(query);
        if terms.is_empty() || chat_slugs.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        // After the query: the chats ($2..), the limit ($N+2), `before` ($N+3), the excerpt's
        // arguments ($N+4, and $N+5), the lower bound.
        let n = chat_slugs.len();
        let (from, matches, arg, excerpt) = match self.backend() {
            Backend::Sqlite => (
                "messages_fts f JOIN messages m ON m.id = f.rowid",
                "messages_fts MATCH $1",
                fts5_query(&terms),
                format!(
                    "snippet(messages_fts, 0, ${}, ${}, '…', {EXCERPT_WORDS})",
                    n + 4,
                    n + 5
                ),
            ),
            Backend::Postgres => (
                "messages m",
                "m.body_words @@ plainto_tsquery('simple', $1)",
                terms.join(" "),
                format!(
                    "ts_headline('simple', m.body, plainto_tsquery('simple', $1), ${})",
                    n + 4
                ),
            ),
        };
        let mut sql = format!(
            "SELECT m.id AS message_id, m.platform, m.platform_msg_id, m.author_name, m.sent_at, m.point, \
             {excerpt} AS excerpt, s.id AS session_id, s.uid, s.chat_slug, s.started_at \
             FROM {from} JOIN sessions s ON s.id = m.session_id \
             WHERE {matches} AND m.deleted_at IS NULL AND s.started_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.message_id = m.id) \
             AND NOT EXISTS (SELECT 1 FROM opt_outs o \
                             WHERE o.user_ref = m.platform || ':' || m.author_id) \
             AND s.chat_slug IN ("
        );
        for i in 0..chat_slugs.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}", i + 2);
        }
        // On SQLite the row id is FTS5's own order (`f.rowid`), which it walks without sorting.
        let id = match self.backend() {
            Backend::Sqlite => "f.rowid",
            Backend::Postgres => "m.id",
        };
        // The lower bound comes after the excerpt's arguments.
        let from_param = match self.backend() {
            Backend::Sqlite => n + 6,
            Backend::Postgres => n + 5,
        };
        let _ = write!(
            sql,
            ") AND {id} < ${} AND {id} >= ${from_param} ORDER BY {id} DESC LIMIT ${}",
            n + 3,
            n + 2
        );
        let headline = format!(
            "StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords={EXCERPT_WORDS}, \
             MinWords={}, ShortWord=1, MaxFragments=2, FragmentDelimiter=\" … \"",
            EXCERPT_WORDS / 2
        );
        let run = |from_id: i64, before_id: i64, limit: usize| {
            let mut q = sqlx::query(AssertSqlSafe(sql.clone())).bind(arg.clone());
            for slug in chat_slugs {
                q = q.bind(slug.clone());
            }
            q = q.bind(i64::try_from(limit).unwrap_or(i64::MAX));
            q = q.bind(before_id);
            q = match self.backend() {
                Backend::Sqlite => q.bind(MATCH_START.to_string()).bind(MATCH_END.to_string()),
                Backend::Postgres => q.bind(headline.clone()),
            };
            q.bind(from_id)
        };
        let rows = match self.backend() {
            Backend::Sqlite => {
                let mut conn = self.conn().await?;
                run(i64::MIN, before.unwrap_or(i64::MAX), limit)
                    .fetch_all(&mut *conn)
                    .await
                    .ctx("searching messages")?
            }
            Backend::Postgres => {
                // See POSTGRES_WALK: the newest messages by walking back, then the rest
                // through the word index if that did not fill the page.
                let mut tx = self.pool.begin().await.ctx("starting a search")?;
                sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
                    .execute(&mut *tx)
                    .await
                    .ctx("searching messages")?;
                let before_id = match before {
                    Some(id) => id,
                    None => {
                        let row =
                            sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM messages")
                                .fetch_one(&mut *tx)
                                .await
                                .ctx("searching messages")?;
                        col(&row, "next")?
                    }
                };
                let walked_from = before_id.saturating_sub(POSTGRES_WALK);
                let mut rows = run(walked_from, before_id, limit)
                    .fetch_all(&mut *tx)
                    .await
                    .ctx("searching messages")?;
                if rows.len() < limit && walked_from > 0 {
                    sqlx::query("SET LOCAL enable_indexscan = off")
                        .execute(&mut *tx)
                        .await
                        .ctx("searching messages")?;
                    rows.extend(
                        run(i64::MIN, walked_from, limit - rows.len())
                            .fetch_all(&mut *tx)
                            .await
                            .ctx("searching messages")?,
                    );
                }
                tx.commit().await.ctx("ending a search")?;
                rows
            }
        };
        rows.iter().map(decode_hit).collect()
    }

    /// A trivial query, for health checks: `Ok` when the database answers.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query("SELECT 1 AS one")
            .fetch_one(&mut *conn)
            .await
            .ctx("pinging the database")?;
        Ok(())
    }
}

fn decode_hit(r: &super::Row) -> Result<SearchHit> {
    let excerpt: String = col(r, "excerpt")?;
    Ok(SearchHit {
        message_id: col(r, "message_id")?,
        session_id: col(r, "session_id")?,
        session_uid: col(r, "uid")?,
        chat_slug: col(r, "chat_slug")?,
        session_started_at: col_time(r, "started_at")?,
        platform: col(r, "platform")?,
        platform_msg_id: col(r, "platform_msg_id")?,
        author_name: col(r, "author_name")?,
        sent_at: col_time(r, "sent_at")?,
        point: super::codec::col_opt_u32(r, "point")?,
        excerpt: excerpt_pieces(&excerpt),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_words_only() {
        assert_eq!(search_terms("Hello, \"World\"!"), ["hello", "world"]);
        assert_eq!(search_terms("NEAR( a* ) OR (b"), ["near", "a", "or", "b"]);
        assert!(search_terms("\" * ( ) \0 -").is_empty());
        assert_eq!(search_terms("a\0b"), ["a", "b"]);
        assert_eq!(search_terms(&"x ".repeat(5000)), ["x"]);
        let many: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(search_terms(&many).len(), MAX_TERMS);
        assert_eq!(
            search_terms(&"a".repeat(10_000))[0].chars().count(),
            MAX_TERM_CHARS
        );
    }

    #[test]
    fn fts5_strings_are_quoted() {
        assert_eq!(fts5_query(&["a".into(), "b\"c".into()]), "\"a\" \"b\"\"c\"");
    }

    #[test]
    fn the_databases_marks_become_pieces() {
        let marked =
            format!("…the {MATCH_START}Zebras{MATCH_END} and\nthe {MATCH_START}zebra{MATCH_END}");
        assert_eq!(
            excerpt_pieces(&marked),
            [
                (false, "…the ".to_owned()),
                (true, "Zebras".to_owned()),
                (false, " and the ".to_owned()),
                (true, "zebra".to_owned()),
            ]
        );
        assert_eq!(excerpt_pieces("no marks"), [(false, "no marks".to_owned())]);
    }
}
