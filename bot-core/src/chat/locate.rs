//! Reading TOML with line numbers: errors located as `FILE:LINE: field: message`, and a small
//! typed walker over a span-preserving `toml_edit` document that collects every problem instead
//! of stopping at the first.

use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};

use toml_edit::{Item, TableLike, Value};

/// A problem in a file, reported as `FILE:LINE: field: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is with the file as a whole.
    pub line: usize,
    /// The key path, e.g. `points[2].text`; empty for whole-file problems.
    pub field: String,
    pub message: String,
}

impl LocatedError {
    pub fn new(
        file: impl Into<PathBuf>,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        LocatedError {
            file: file.into(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.field,
            self.message
        )
    }
}

/// Largest file read as a chat or config file.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a file as UTF-8 text, or says why not.
pub(crate) fn read_text(path: &Path) -> Result<String, LocatedError> {
    let whole = |message: String| LocatedError::new(path, 0, "file", message);
    let meta = std::fs::metadata(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(whole(format!(
            "too large ({} bytes; at most {MAX_FILE_BYTES})",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        whole(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parses TOML keeping spans; a syntax error becomes a located `toml` error.
pub(crate) fn parse_document(
    path: &Path,
    text: &str,
) -> Result<toml_edit::Document<String>, LocatedError> {
    toml_edit::Document::parse(text.to_owned()).map_err(|e| {
        let line = e
            .span()
            .map(|s| LineIndex::new(text).line_of(s.start))
            .unwrap_or(1);
        let message = e.message().trim().replace('\n', " ");
        LocatedError::new(path, line, "toml", format!("syntax error: {message}"))
    })
}

/// Byte offset → 1-based line number.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).max(1)
    }
}

/// A value read from the file, with where it was.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub line: usize,
    pub field: String,
}

/// A table (standard, inline or implicit) and its key path.
pub struct Node<'d> {
    pub(crate) table: &'d dyn TableLike,
    /// Key path prefix, e.g. `schedule` or `points[2]`; empty at the root.
    pub path: String,
    /// Line to blame for keys missing from this table.
    pub line: usize,
}

/// Collects located errors while walking a document.
pub struct Reader<'a> {
    pub file: &'a Path,
    lines: LineIndex,
    pub(crate) errors: Vec<LocatedError>,
}

impl<'d> Node<'d> {
    pub(crate) fn root(table: &'d dyn TableLike) -> Self {
        Node {
            table,
            path: String::new(),
            line: 1,
        }
    }
}

impl<'a> Reader<'a> {
    pub(crate) fn new(file: &'a Path, text: &str) -> Self {
        Reader {
            file,
            lines: LineIndex::new(text),
            errors: Vec::new(),
        }
    }

    pub(crate) fn line(&self, span: Option<Range<usize>>) -> Option<usize> {
        span.map(|s| self.lines.line_of(s.start))
    }

    pub fn error(&mut self, line: usize, field: impl Into<String>, message: impl Into<String>) {
        self.errors
            .push(LocatedError::new(self.file, line, field, message));
    }

    /// Errors in file order.
    pub(crate) fn into_errors(mut self) -> Vec<LocatedError> {
        self.errors.sort_by_key(|e| e.line);
        self.errors
    }

    pub fn field(path: &str, key: &str) -> String {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    }

    /// The item under `key` and the line of its value (or of its key, or of the table).
    fn entry<'d>(&self, node: &Node<'d>, key: &str) -> Option<(&'d Item, usize)> {
        let (k, item) = node.table.get_key_value(key)?;
        let line = self
            .line(item.span())
            .or_else(|| self.line(k.span()))
            .unwrap_or(node.line);
        Some((item, line))
    }

    /// Reports keys not in `accepted`, with a close match or the accepted list as a hint.
    pub fn unknown_keys(&mut self, node: &Node<'_>, accepted: &[&str]) {
        for (key, item) in node.table.iter() {
            if accepted.contains(&key) {
                continue;
            }
            let line = node
                .table
                .key(key)
                .and_then(|k| self.line(k.span()))
                .or_else(|| self.line(item.span()))
                .unwrap_or(node.line);
            let hint = match closest(key, accepted) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("accepted keys: {}", accepted.join(", ")),
            };
            self.error(
                line,
                Self::field(&node.path, key),
                format!("unknown key ({hint})"),
            );
        }
    }

    fn missing(&mut self, node: &Node<'_>, key: &str, what: &str) {
        let field = Self::field(&node.path, key);
        self.error(node.line, field, format!("missing (required: {what})"));
    }

    fn wrong_type(&mut self, line: usize, field: String, expected: &str, item: &Item) {
        self.error(
            line,
            field,
            format!("expected {expected}, found {}", describe_type(item)),
        );
    }

    /// A string value; `required` says what to put in the "missing" message, or `None` if the
    /// key is optional.
    pub fn string(
        &mut self,
        node: &Node<'_>,
        key: &str,
        required: Option<&str>,
    ) -> Option<Spanned<String>> {
        let field = Self::field(&node.path, key);
        let Some((item, line)) = self.entry(node, key) else {
            if let Some(what) = required {
                self.missing(node, key, what);
            }
            return None;
        };
        match item.as_str() {
            Some(s) => Some(Spanned {
                value: s.to_owned(),
                line,
                field,
            }),
            None => {
                self.wrong_type(line, field, "a string", item);
                None
            }
        }
    }

    /// A non-empty string of at most `max` characters (counted as chars, not bytes).
    pub fn text(
        &mut self,
        node: &Node<'_>,
        key: &str,
        required: Option<&str>,
        max: usize,
        why: &str,
    ) -> Option<Spanned<String>> {
        let s = self.string(node, key, required)?;
        if s.value.trim().is_empty() {
            self.error(s.line, s.field, "must not be empty");
            return None;
        }
        let chars = s.value.chars().count();
        if chars > max {
            self.error(
                s.line,
                s.field,
                format!("too long: {chars} characters (at most {max}{why})"),
            );
            return None;
        }
        Some(s)
    }

    /// A command prefix (`!chat`): `default` when absent; `None` (reported) when it is empty,
    /// longer than 32 characters or holds a space. Every platform that reads text commands
    /// takes its prefix this way.
    pub fn command_prefix(&mut self, node: &Node<'_>, key: &str, default: &str) -> Option<String> {
        match self.text(node, key, None, 32, "") {
            Some(p) if p.value.contains(char::is_whitespace) => {
                self.error(
                    p.line,
                    p.field,
                    "a command prefix has no spaces, e.g. `!chat`",
                );
                None
            }
            Some(p) => Some(p.value),
            None if node.table.contains_key(key) => None,
            None => Some(default.to_owned()),
        }
    }

    /// A string or a TOML date/time literal, as text.
    pub fn string_or_datetime(
        &mut self,
        node: &Node<'_>,
        key: &str,
        required: Option<&str>,
    ) -> Option<Spanned<String>> {
        let field = Self::field(&node.path, key);
        let Some((item, line)) = self.entry(node, key) else {
            if let Some(what) = required {
                self.missing(node, key, what);
            }
            return None;
        };
        let value = if let Some(s) = item.as_str() {
            s.to_owned()
        } else if let Some(d) = item.as_datetime() {
            d.to_string()
        } else {
            self.wrong_type(line, field, "a string", item);
            return None;
        };
        Some(Spanned { value, line, field })
    }

    /// An integer in `range`; `default` when absent, `None` (after an error) when bad.
    pub fn integer(
        &mut self,
        node: &Node<'_>,
        key: &str,
        range: RangeInclusive<u32>,
    ) -> Option<Option<u32>> {
        let field = Self::field(&node.path, key);
        let Some((item, line)) = self.entry(node, key) else {
            return Some(None);
        };
        let Some(n) = item.as_integer() else {
            self.wrong_type(line, field, "a whole number", item);
            return None;
        };
        match u32::try_from(n) {
            Ok(n) if range.contains(&n) => Some(Some(n)),
            _ => {
                self.error(
                    line,
                    field,
                    format!("{n} is out of range ({} to {})", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// A boolean: `Some(None)` when absent, `None` (after an error) when not `true`/`false`.
    pub fn boolean(&mut self, node: &Node<'_>, key: &str) -> Option<Option<bool>> {
        let field = Self::field(&node.path, key);
        let Some((item, line)) = self.entry(node, key) else {
            return Some(None);
        };
        match item.as_bool() {
            Some(b) => Some(Some(b)),
            None => {
                self.wrong_type(line, field, "true or false", item);
                None
            }
        }
    }

    /// A sub-table (`[name]`, `name = { … }` or dotted keys), if present.
    pub fn table<'d>(&mut self, node: &Node<'d>, key: &str) -> Option<Node<'d>> {
        let (item, line) = self.entry(node, key)?;
        let path = Self::field(&node.path, key);
        match item.as_table_like() {
            Some(table) => Some(Node { table, path, line }),
            None => {
                self.wrong_type(line, path, "a table", item);
                None
            }
        }
    }

    /// The elements of an array (`[...]`), each with its line and 1-based field name.
    pub(crate) fn array<'d>(
        &mut self,
        node: &Node<'d>,
        key: &str,
        required: Option<&str>,
    ) -> Option<Vec<(&'d Value, usize, String)>> {
        let field = Self::field(&node.path, key);
        let Some((item, line)) = self.entry(node, key) else {
            if let Some(what) = required {
                self.missing(node, key, what);
            }
            return None;
        };
        let Some(array) = item.as_array() else {
            self.wrong_type(line, field, "an array", item);
            return None;
        };
        Some(
            array
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let l = self.line(v.span()).unwrap_or(line);
                    (v, l, format!("{field}[{}]", i + 1))
                })
                .collect(),
        )
    }

    /// The elements of an array of strings.
    pub fn strings(
        &mut self,
        node: &Node<'_>,
        key: &str,
        required: Option<&str>,
    ) -> Option<Vec<Spanned<String>>> {
        let items = self.array(node, key, required)?;
        let mut out = Vec::with_capacity(items.len());
        for (value, line, field) in items {
            match value.as_str() {
                Some(s) => out.push(Spanned {
                    value: s.to_owned(),
                    line,
                    field,
                }),
                None => self.error(
                    line,
                    field,
                    format!("expected a string, found {}", value.type_name()),
                ),
            }
        }
        Some(out)
    }

    /// The tables of `[[key]]` blocks or of an array of inline tables, with their lines and
    /// 1-based field names (`points[1]`, …).
    pub(crate) fn tables<'d>(
        &mut self,
        node: &Node<'d>,
        key: &str,
        required: Option<&str>,
    ) -> Option<Vec<(&'d dyn TableLike, usize, String)>> {
        let field = Self::field(&node.path, key);
        let Some((item, line)) = self.entry(node, key) else {
            if let Some(what) = required {
                self.missing(node, key, what);
            }
            return None;
        };
        if let Some(aot) = item.as_array_of_tables() {
            return Some(
                aot.iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let l = self.line(t.span()).unwrap_or(line);
                        (t as &dyn TableLike, l, format!("{field}[{}]", i + 1))
                    })
                    .collect(),
            );
        }
        let Some(array) = item.as_array() else {
            self.wrong_type(line, field, "an array of tables", item);
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        for (i, v) in array.iter().enumerate() {
            let l = self.line(v.span()).unwrap_or(line);
            let f = format!("{field}[{}]", i + 1);
            match v.as_inline_table() {
                Some(t) => out.push((t as &dyn TableLike, l, f)),
                None => self.error(l, f, format!("expected a table, found {}", v.type_name())),
            }
        }
        Some(out)
    }
}

fn describe_type(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "a number",
            Value::Float(_) => "a decimal number",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date/time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "a table",
        },
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

/// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
pub(crate) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let word = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word, &c.to_lowercase()), *c))
        .filter(|&(d, c)| d <= 2.max(c.chars().count() / 4))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines() {
        let index = LineIndex::new("a\nbb\n\nc");
        assert_eq!(index.line_of(0), 1);
        assert_eq!(index.line_of(1), 1);
        assert_eq!(index.line_of(2), 2);
        assert_eq!(index.line_of(5), 3);
        assert_eq!(index.line_of(6), 4);
        assert_eq!(index.line_of(100), 4);
    }

    #[test]
    fn close_matches_are_suggested_only_when_close() {
        let keys = ["title", "hashtag", "time_zone", "minutes_between_points"];
        assert_eq!(closest("titel", &keys), Some("title"));
        assert_eq!(closest("timezone", &keys), Some("time_zone"));
        assert_eq!(
            closest("minutes_between_point", &keys),
            Some("minutes_between_points")
        );
        assert_eq!(closest("colour", &keys), None);
    }
}
