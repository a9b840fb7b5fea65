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
/// Characters of context shown either side of the first match.
const EXCERPT_CONTEXT: usize = 60;

/// One matching message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub session_id: SessionId,
    pub session_uid: String,
    pub chat_slug: String,
    pub session_started_at: DateTime<Utc>,
    pub platform: String,
    pub platform_msg_id: String,
    pub author_name: String,
    pub sent_at: DateTime<Utc>,
    /// Plain text around the first matching word (not escaped: the caller escapes it).
    pub excerpt: String,
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

/// A short excerpt of `body` around the first occurrence of one of `terms`.
pub fn excerpt(body: &str, terms: &[String]) -> String {
    let chars: Vec<char> = body.chars().collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let first = terms
        .iter()
        .filter_map(|t| {
            let t: Vec<char> = t.chars().collect();
            if t.is_empty() || t.len() > lower.len() {
                return None;
            }
            (0..=lower.len() - t.len()).find(|&i| lower[i..i + t.len()] == t[..])
        })
        .min()
        .unwrap_or(0);
    let start = first.saturating_sub(EXCERPT_CONTEXT);
    let end = (first + EXCERPT_CONTEXT * 2).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(
        chars[start..end]
            .iter()
            .map(|&c| if c.is_control() { ' ' } else { c }),
    );
    if end < chars.len() {
        out.push('…');
    }
    out
}

impl Store {
    /// Messages matching `query` in sessions of the chats `chat_slugs`, newest session first,
    /// then in the order they were sent; at most `limit`. A query with no words, or no chats,
    /// finds nothing. User input never reaches the database as query syntax, so no query is an
    /// error.
    pub async fn search_messages(
        &self,
        query: &str,
        chat_slugs: &[String],
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let terms = search_terms(query);
        if terms.is_empty() || chat_slugs.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let (from, matches, arg) = match self.backend() {
            Backend::Sqlite => (
                "messages_fts f JOIN messages m ON m.id = f.rowid",
                "messages_fts MATCH $1",
                fts5_query(&terms),
            ),
            Backend::Postgres => (
                "messages m",
                "to_tsvector('simple', m.body) @@ plainto_tsquery('simple', $1)",
                terms.join(" "),
            ),
        };
        let mut sql = format!(
            "SELECT m.platform, m.platform_msg_id, m.author_name, m.body, m.sent_at, \
             s.id AS session_id, s.uid, s.chat_slug, s.started_at \
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
        let _ = write!(
            sql,
            ") ORDER BY s.started_at DESC, s.id DESC, m.sent_at, m.id LIMIT ${}",
            chat_slugs.len() + 2
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(arg);
        for slug in chat_slugs {
            q = q.bind(slug.clone());
        }
        q = q.bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let mut conn = self.conn().await?;
        let rows = q.fetch_all(&mut *conn).await.ctx("searching messages")?;
        rows.iter()
            .map(|r| {
                let body: String = col(r, "body")?;
                Ok(SearchHit {
                    session_id: col(r, "session_id")?,
                    session_uid: col(r, "uid")?,
                    chat_slug: col(r, "chat_slug")?,
                    session_started_at: col_time(r, "started_at")?,
                    platform: col(r, "platform")?,
                    platform_msg_id: col(r, "platform_msg_id")?,
                    author_name: col(r, "author_name")?,
                    sent_at: col_time(r, "sent_at")?,
                    excerpt: excerpt(&body, &terms),
                })
            })
            .collect()
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
    fn excerpts_centre_on_the_match() {
        let body = format!("{}needle{}", "x".repeat(200), "y".repeat(200));
        let e = excerpt(&body, &["needle".into()]);
        assert!(e.starts_with('…') && e.ends_with('…') && e.contains("needle"));
        assert_eq!(excerpt("short NEEDLE", &["needle".into()]), "short NEEDLE");
        assert_eq!(excerpt("a\nb", &["b".into()]), "a b");
    }
}
