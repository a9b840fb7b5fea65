//! REST faults and rate-limit bookkeeping: injected 429s per route, and the plausible
//! `X-RateLimit-*` headers every response carries.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A route pattern: `METHOD /path` where a `*` segment matches any one segment and a trailing
/// `**` matches the rest, e.g. `POST /channels/*/messages` or `* /webhooks/**`. The path has no
/// `/api/v10` prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutePattern {
    method: String,
    segments: Vec<String>,
}

impl RoutePattern {
    /// Parses `"POST /channels/*/messages"`; a pattern without a method matches any method.
    pub fn new(pattern: &str) -> Self {
        let (method, path) = match pattern.trim().split_once(' ') {
            Some((m, p)) => (m.trim().to_ascii_uppercase(), p.trim()),
            None => ("*".to_string(), pattern.trim()),
        };
        let segments = path
            .trim_start_matches("/api/v10")
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Self { method, segments }
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "*" && !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut i = 0;
        for (n, p) in self.segments.iter().enumerate() {
            if p == "**" && n == self.segments.len() - 1 {
                return true;
            }
            match segs.get(i) {
                Some(s) if p == "*" || p == s => i += 1,
                _ => return false,
            }
        }
        i == segs.len()
    }
}

impl From<&str> for RoutePattern {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// "Answer the next `remaining` requests matching `pattern` with 429."
#[derive(Clone, Debug)]
pub(crate) struct RateLimitRule {
    pub pattern: RoutePattern,
    pub remaining: u32,
    pub retry_after: Duration,
    pub global: bool,
}

/// "Carry out the next `remaining` requests matching `pattern`, then answer 500."
#[derive(Clone, Debug)]
pub(crate) struct LostAnswers {
    pub pattern: RoutePattern,
    pub remaining: u32,
}

/// The injected answer for a rate-limited request.
pub(crate) struct Limited {
    pub retry_after: Duration,
    pub global: bool,
}

#[derive(Default)]
pub(crate) struct Faults {
    pub rules: Vec<RateLimitRule>,
    /// Per-bucket windows for the X-RateLimit headers: bucket → (window start, requests in it).
    buckets: HashMap<String, (Instant, u32)>,
    /// While set, every REST request answers 502 (Discord unreachable through a proxy).
    pub rest_down: bool,
    pub lost_answers: Vec<LostAnswers>,
}

/// Each bucket allows this many requests per window; the fake reports but never enforces it.
const BUCKET_LIMIT: u32 = 50;
const BUCKET_WINDOW: Duration = Duration::from_secs(1);

/// The `X-RateLimit-*` values for one response.
pub(crate) struct RateHeaders {
    pub limit: u32,
    pub remaining: u32,
    pub reset_after: f64,
    pub reset_epoch: f64,
    pub bucket: String,
}

impl Faults {
    /// Consumes one injected 429 for this request, if a rule matches.
    pub fn take_429(&mut self, method: &str, path: &str) -> Option<Limited> {
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.remaining > 0 && r.pattern.matches(method, path))?;
        rule.remaining -= 1;
        let out = Limited {
            retry_after: rule.retry_after,
            global: rule.global,
        };
        self.rules.retain(|r| r.remaining > 0);
        Some(out)
    }

    /// Whether this request's answer is to be lost (used up if so).
    pub fn take_lost_answer(&mut self, method: &str, path: &str) -> bool {
        let Some(rule) = self
            .lost_answers
            .iter_mut()
            .find(|r| r.remaining > 0 && r.pattern.matches(method, path))
        else {
            return false;
        };
        rule.remaining -= 1;
        self.lost_answers.retain(|r| r.remaining > 0);
        true
    }

    /// Counts a request against its bucket (route template with major parameters, as Discord
    /// groups them) and returns the headers to send.
    pub fn count(&mut self, bucket_key: &str) -> RateHeaders {
        let now = Instant::now();
        let e = self
            .buckets
            .entry(bucket_key.to_string())
            .or_insert((now, 0));
        if now.duration_since(e.0) >= BUCKET_WINDOW {
            *e = (now, 0);
        }
        e.1 += 1;
        let reset_after = BUCKET_WINDOW.saturating_sub(now.duration_since(e.0));
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            + reset_after;
        RateHeaders {
            limit: BUCKET_LIMIT,
            remaining: BUCKET_LIMIT.saturating_sub(e.1),
            reset_after: reset_after.as_secs_f64(),
            reset_epoch: epoch.as_secs_f64(),
            bucket: format!("{:016x}", fnv(bucket_key)),
        }
    }
}

/// A stable hash for bucket ids (Discord's are opaque hex strings).
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_single_segments_and_trailing_rest() {
        let p = RoutePattern::new("POST /channels/*/messages");
        assert!(p.matches("POST", "/channels/123/messages"));
        assert!(!p.matches("GET", "/channels/123/messages"));
        assert!(!p.matches("POST", "/channels/123/messages/9"));
        let any = RoutePattern::new("* /webhooks/**");
        assert!(any.matches("PATCH", "/webhooks/1/tok/messages/@original"));
        assert!(RoutePattern::new("/api/v10/users/@me").matches("GET", "/users/@me"));
    }

    #[test]
    fn injected_429s_are_used_up_in_order() {
        let mut f = Faults::default();
        f.rules.push(RateLimitRule {
            pattern: "POST /channels/*/messages".into(),
            remaining: 2,
            retry_after: Duration::from_millis(1500),
            global: false,
        });
        assert!(f.take_429("POST", "/channels/1/messages").is_some());
        assert!(f.take_429("GET", "/channels/1/messages").is_none());
        assert!(f.take_429("POST", "/channels/2/messages").is_some());
        assert!(f.take_429("POST", "/channels/1/messages").is_none());
    }
}
