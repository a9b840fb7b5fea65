//! When a chat runs.
//!
//! A schedule is a first local date-time in the chat's own zone, an optional repetition and an
//! optional last date. Occurrences are computed as *local* date-times and only then turned into
//! instants, so a chat at 19:00 stays at 19:00 local time across daylight-saving switches.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The first occurrence, as a local date-time in the chat's zone.
    pub first: NaiveDateTime,
    pub repeat: Option<Repeat>,
    /// Last local date on which an occurrence may fall (inclusive).
    pub until: Option<NaiveDate>,
}

/// How often a schedule repeats. A count of 0 is treated as 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Days(u32),
    Weeks(u32),
    /// Every n months on the same weekday of the month as the first occurrence: the same nth
    /// weekday (1st to 4th), or the last one when the first occurrence was a 5th weekday.
    Months(u32),
}

/// Earliest and latest years accepted in a schedule, so date arithmetic can never overflow.
pub const MIN_YEAR: i32 = 1970;
pub const MAX_YEAR: i32 = 9999;

impl Schedule {
    /// The first occurrence at or after `at`, or `None` when there are no more.
    ///
    /// Runs in constant time: it jumps arithmetically to the occurrences near `at`.
    pub fn next_at_or_after(&self, zone: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Some(repeat) = self.repeat else {
            let t = resolve_local(zone, self.first);
            return (t >= at && self.allows(self.first.date())).then_some(t);
        };
        let at_date = local_of(zone, at).date();
        let first_date = self.first.date();
        // Start one period early: local/UTC offsets move an occurrence by at most a day.
        let k0 = match repeat {
            Repeat::Days(_) | Repeat::Weeks(_) => {
                let days = (at_date - first_date).num_days();
                days.div_euclid(repeat.period_days()) - 1
            }
            Repeat::Months(n) => {
                let months = month_index(at_date) - month_index(first_date);
                months.div_euclid(i64::from(n.max(1))) - 1
            }
        }
        .max(0);
        // Occurrences are increasing, so the first one at or after `at` is found within a few
        // steps; the bound only guarantees termination on absurd input.
        for k in k0..k0.saturating_add(64) {
            let local = self.occurrence(k)?;
            if !self.allows(local.date()) {
                return None;
            }
            let t = resolve_local(zone, local);
            if t >= at {
                return Some(t);
            }
        }
        None
    }

    /// The next `count` occurrences at or after `at`.
    pub fn upcoming(&self, zone: Tz, at: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(count.min(64));
        let mut from = at;
        while out.len() < count {
            let Some(t) = self.next_at_or_after(zone, from) else {
                break;
            };
            out.push(t);
            match t.checked_add_signed(TimeDelta::seconds(1)) {
                Some(next) => from = next,
                None => break,
            }
        }
        out
    }

    /// The `k`th occurrence (0-based) as a local date-time, before any `until` check.
    pub fn occurrence(&self, k: i64) -> Option<NaiveDateTime> {
        if k < 0 {
            return None;
        }
        let date = match self.repeat {
            None => (k == 0).then_some(self.first.date())?,
            Some(repeat @ (Repeat::Days(_) | Repeat::Weeks(_))) => {
                let days = k.checked_mul(repeat.period_days())?;
                self.first
                    .date()
                    .checked_add_signed(TimeDelta::try_days(days)?)?
            }
            Some(Repeat::Months(n)) => {
                let index = month_index(self.first.date())
                    .checked_add(k.checked_mul(i64::from(n.max(1)))?)?;
                let year = i32::try_from(index.div_euclid(12)).ok()?;
                let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
                let (weekday, nth) = weekday_of_month(self.first.date());
                nth_weekday(year, month, weekday, nth)?
            }
        };
        if date.year() > MAX_YEAR {
            return None;
        }
        Some(date.and_time(self.first.time()))
    }

    fn allows(&self, date: NaiveDate) -> bool {
        self.until.is_none_or(|until| date <= until)
    }

    /// Human text, e.g. "every 2 weeks on Tuesday at 19:00 (Europe/London), from 1 December 2026
    /// until 30 June 2027".
    pub fn describe(&self, zone: Tz) -> String {
        let time = self.first.format("%H:%M");
        let first = self.first.date();
        let weekday = weekday_name(first.weekday());
        let mut text = match self.repeat {
            None => {
                return format!(
                    "once, on {weekday} {} at {time} ({zone})",
                    first.format("%-d %B %Y")
                )
            }
            Some(Repeat::Days(n)) => format!("every {} at {time} ({zone})", count(n, "day")),
            Some(Repeat::Weeks(n)) => {
                format!("every {} on {weekday} at {time} ({zone})", count(n, "week"))
            }
            Some(Repeat::Months(n)) => {
                let (_, nth) = weekday_of_month(first);
                let ordinal = match nth {
                    1 => "first",
                    2 => "second",
                    3 => "third",
                    4 => "fourth",
                    _ => "last",
                };
                format!(
                    "every {} on the {ordinal} {weekday} at {time} ({zone})",
                    count(n, "month")
                )
            }
        };
        text.push_str(&format!(", from {}", first.format("%-d %B %Y")));
        if let Some(until) = self.until {
            text.push_str(&format!(" until {}", until.format("%-d %B %Y")));
        }
        text
    }

    /// The iCalendar (RFC 5545) recurrence rule, without the `RRULE:` prefix, for a `DTSTART`
    /// given as `first` with `TZID` = the chat's zone. `None` for a one-off schedule.
    pub fn to_rrule(&self, zone: Tz) -> Option<String> {
        let repeat = self.repeat?;
        let mut rule = match repeat {
            Repeat::Days(n) => format!("FREQ=DAILY;INTERVAL={}", n.max(1)),
            Repeat::Weeks(n) => format!(
                "FREQ=WEEKLY;INTERVAL={};BYDAY={}",
                n.max(1),
                ical_day(self.first.weekday())
            ),
            Repeat::Months(n) => {
                let (weekday, nth) = weekday_of_month(self.first.date());
                let nth = if nth == 5 { -1 } else { i32::from(nth) };
                format!(
                    "FREQ=MONTHLY;INTERVAL={};BYDAY={nth}{}",
                    n.max(1),
                    ical_day(weekday)
                )
            }
        };
        if let Some(until) = self.until {
            // With a TZID start, UNTIL must be in UTC: the end of the last allowed local day.
            let end = until.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
            let end = resolve_local(zone, end);
            rule.push_str(&format!(";UNTIL={}", end.format("%Y%m%dT%H%M%SZ")));
        }
        Some(rule)
    }
}

impl Repeat {
    fn period_days(self) -> i64 {
        match self {
            Repeat::Days(n) => i64::from(n.max(1)),
            Repeat::Weeks(n) => 7 * i64::from(n.max(1)),
            // Not a fixed length; only used as an approximation.
            Repeat::Months(n) => 28 * i64::from(n.max(1)),
        }
    }
}

impl fmt::Display for Repeat {
    /// The chat-file form: `day`, `3 days`, `week`, `2 weeks`, `month`, `6 months`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match *self {
            Repeat::Days(n) => (n, "day"),
            Repeat::Weeks(n) => (n, "week"),
            Repeat::Months(n) => (n, "month"),
        };
        if n == 1 {
            f.write_str(unit)
        } else {
            write!(f, "{n} {unit}s")
        }
    }
}

/// Largest counts accepted in `every`.
const MAX_DAYS: u32 = 366;
const MAX_WEEKS: u32 = 52;
const MAX_MONTHS: u32 = 12;

impl FromStr for Repeat {
    type Err = String;

    /// Parses `day`, `N days`, `week`, `N weeks`, `month`, `N months` (also `1 week`, and an
    /// optional leading `every`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = "expected `day`, `N days`, `week`, `N weeks`, `month` or `N months`";
        let lower = s.trim().to_ascii_lowercase();
        let text = lower.strip_prefix("every ").unwrap_or(&lower).trim();
        let words: Vec<&str> = text.split_whitespace().collect();
        let (n, unit) = match words.as_slice() {
            [unit] => (1, *unit),
            [n, unit] => match n.parse::<u32>() {
                Ok(n) => (n, *unit),
                Err(_) => return Err(format!("`{s}`: `{n}` is not a whole number; {expected}")),
            },
            _ => return Err(format!("`{s}`: {expected}")),
        };
        let (repeat, max): (fn(u32) -> Repeat, u32) = match unit {
            "day" | "days" => (Repeat::Days, MAX_DAYS),
            "week" | "weeks" => (Repeat::Weeks, MAX_WEEKS),
            "month" | "months" => (Repeat::Months, MAX_MONTHS),
            _ => return Err(format!("`{s}`: unknown unit `{unit}`; {expected}")),
        };
        if n == 0 || n > max {
            return Err(format!("`{s}`: the count must be 1 to {max}"));
        }
        Ok(repeat(n))
    }
}

/// Parses a schedule start: `YYYY-MM-DD HH:MM` or `YYYY-MM-DDTHH:MM`, optionally with `:SS`.
pub fn parse_start(s: &str) -> Result<NaiveDateTime, String> {
    let text = s.trim();
    let parsed = [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok());
    let Some(start) = parsed else {
        let hint = if text.ends_with('Z') || text.rfind(['+']).is_some_and(|i| i > 10) {
            " (give the local time without an offset: the chat's time_zone applies)"
        } else {
            ""
        };
        return Err(format!(
            "`{s}` is not a local date and time like `2026-12-01 19:00`{hint}"
        ));
    };
    check_year(start.date(), s)?;
    Ok(start)
}

/// Parses a schedule's last date: `YYYY-MM-DD`.
pub fn parse_until(s: &str) -> Result<NaiveDate, String> {
    let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date like `2027-06-30`"))?;
    check_year(date, s)?;
    Ok(date)
}

fn check_year(date: NaiveDate, s: &str) -> Result<(), String> {
    if (MIN_YEAR..=MAX_YEAR).contains(&date.year()) {
        Ok(())
    } else {
        Err(format!("`{s}`: the year must be {MIN_YEAR} to {MAX_YEAR}"))
    }
}

/// The instant of a local date-time in `zone`.
///
/// A local time that does not exist (in the gap when clocks go forward) moves forward by the
/// length of the gap (02:30 in a 02:00→03:00 gap becomes 03:30); one that occurs twice (when
/// clocks go back) takes the earlier instant.
pub fn resolve_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        chrono::LocalResult::None => {
            // In a gap: read the local time with the offset in force before the gap (the
            // smaller one, as clocks went forward). Offsets a day either side bracket the gap.
            let offset_at = |naive: Option<NaiveDateTime>| {
                naive.map(|n| zone.offset_from_utc_datetime(&n).fix().local_minus_utc())
            };
            let before = offset_at(local.checked_sub_signed(TimeDelta::days(1)));
            let after = offset_at(local.checked_add_signed(TimeDelta::days(1)));
            let offset = match (before, after) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => 0,
            };
            let utc = local
                .checked_sub_signed(TimeDelta::seconds(i64::from(offset)))
                .unwrap_or(local);
            Utc.from_utc_datetime(&utc)
        }
    }
}

/// `at` as a local date-time in `zone`, without panicking at the ends of chrono's range.
fn local_of(zone: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    let utc = at.naive_utc();
    utc.checked_add_offset(zone.offset_from_utc_datetime(&utc).fix())
        .unwrap_or(utc)
}

fn month_index(date: NaiveDate) -> i64 {
    i64::from(date.year()) * 12 + i64::from(date.month0())
}

/// The weekday of `date` and which one of the month it is: 1 to 4, or 5 for a fifth (which
/// recurs as "last").
fn weekday_of_month(date: NaiveDate) -> (Weekday, u8) {
    (date.weekday(), (date.day0() / 7 + 1) as u8)
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, nth: u8) -> Option<NaiveDate> {
    if nth <= 4 {
        return NaiveDate::from_weekday_of_month_opt(year, month, weekday, nth);
    }
    let (next_year, next_month) = if month == 12 {
        (year.checked_add(1)?, 1)
    } else {
        (year, month + 1)
    };
    let last = NaiveDate::from_ymd_opt(next_year, next_month, 1)?.pred_opt()?;
    let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    last.checked_sub_signed(TimeDelta::days(i64::from(back)))
}

fn count(n: u32, unit: &str) -> String {
    if n <= 1 {
        unit.to_owned()
    } else {
        format!("{n} {unit}s")
    }
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn ical_day(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        parse_start(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        Utc.from_utc_datetime(&local(s))
    }

    fn weekly(start: &str, n: u32) -> Schedule {
        Schedule {
            first: local(start),
            repeat: Some(Repeat::Weeks(n)),
            until: None,
        }
    }

    /// The occurrences strictly after each previous one, starting at `from`.
    fn run(s: &Schedule, zone: Tz, from: &str, count: usize) -> Vec<DateTime<Utc>> {
        s.upcoming(zone, utc(from), count)
    }

    #[test]
    fn weekly_london_stays_at_19_local_across_both_dst_switches() {
        // Sundays 29 March and 25 October 2026 are the switches; Tuesdays around them.
        let s = weekly("2026-03-17 19:00", 1);
        let got = run(&s, chrono_tz::Europe::London, "2026-03-17 00:00", 3);
        assert_eq!(
            got,
            [
                utc("2026-03-17 19:00"),
                utc("2026-03-24 19:00"),
                utc("2026-03-31 18:00")
            ]
        );
        let got = run(&s, chrono_tz::Europe::London, "2026-10-19 00:00", 3);
        assert_eq!(
            got,
            [
                utc("2026-10-20 18:00"),
                utc("2026-10-27 19:00"),
                utc("2026-11-03 19:00")
            ]
        );
    }

    #[test]
    fn weekly_new_york_stays_at_19_local_across_both_dst_switches() {
        // 8 March and 1 November 2026.
        let s = weekly("2026-03-03 19:00", 1);
        let zone = chrono_tz::America::New_York;
        assert_eq!(
            run(&s, zone, "2026-03-03 00:00", 2),
            [utc("2026-03-04 00:00"), utc("2026-03-10 23:00")]
        );
        assert_eq!(
            run(&s, zone, "2026-10-26 00:00", 2),
            [utc("2026-10-27 23:00"), utc("2026-11-04 00:00")]
        );
    }

    #[test]
    fn zones_without_dst_are_steady() {
        let s = weekly("2026-01-06 19:00", 1);
        for (zone, hour) in [
            (chrono_tz::Asia::Tokyo, "10:00"),
            (chrono_tz::America::Phoenix, "02:00"),
        ] {
            let got = run(&s, zone, "2026-01-01 00:00", 52);
            assert_eq!(got.len(), 52);
            for t in got {
                assert_eq!(t.format("%H:%M").to_string(), hour, "{zone} {t}");
            }
        }
    }

    #[test]
    fn every_other_week_skips_the_weeks_between() {
        let s = weekly("2026-12-01 19:00", 2);
        let zone = chrono_tz::Europe::London;
        assert_eq!(
            run(&s, zone, "2026-12-01 19:01", 3),
            [
                utc("2026-12-15 19:00"),
                utc("2026-12-29 19:00"),
                utc("2027-01-12 19:00")
            ]
        );
        // Asking during an off week lands on the next on week.
        assert_eq!(
            s.next_at_or_after(zone, utc("2026-12-08 12:00")),
            Some(utc("2026-12-15 19:00"))
        );
        // Exactly at an occurrence returns it.
        assert_eq!(
            s.next_at_or_after(zone, utc("2026-12-15 19:00")),
            Some(utc("2026-12-15 19:00"))
        );
    }

    #[test]
    fn every_n_days_counts_from_the_start() {
        let s = Schedule {
            first: local("2026-01-01 08:00"),
            repeat: Some(Repeat::Days(3)),
            until: None,
        };
        assert_eq!(
            run(&s, chrono_tz::UTC, "2026-01-02 00:00", 2),
            [utc("2026-01-04 08:00"), utc("2026-01-07 08:00")]
        );
    }

    #[test]
    fn monthly_keeps_the_nth_weekday_of_the_month() {
        // 1 December 2026 is the first Tuesday.
        let s = Schedule {
            first: local("2026-12-01 19:00"),
            repeat: Some(Repeat::Months(1)),
            until: None,
        };
        let got = run(&s, chrono_tz::UTC, "2026-12-01 00:00", 4);
        assert_eq!(
            got,
            [
                utc("2026-12-01 19:00"),
                utc("2027-01-05 19:00"),
                utc("2027-02-02 19:00"),
                utc("2027-03-02 19:00")
            ]
        );
        // Third Thursday, every 2 months.
        let s = Schedule {
            first: local("2026-01-15 12:00"),
            repeat: Some(Repeat::Months(2)),
            until: None,
        };
        assert_eq!(
            run(&s, chrono_tz::UTC, "2026-01-16 00:00", 2),
            [utc("2026-03-19 12:00"), utc("2026-05-21 12:00")]
        );
    }

    #[test]
    fn monthly_from_a_fifth_weekday_recurs_on_the_last() {
        // 29 December 2026 is the fifth Tuesday; then the last Tuesdays of Jan, Feb, Mar 2027.
        let s = Schedule {
            first: local("2026-12-29 19:00"),
            repeat: Some(Repeat::Months(1)),
            until: None,
        };
        assert_eq!(
            run(&s, chrono_tz::UTC, "2026-12-30 00:00", 3),
            [
                utc("2027-01-26 19:00"),
                utc("2027-02-23 19:00"),
                utc("2027-03-30 19:00")
            ]
        );
    }

    #[test]
    fn until_is_the_last_local_date_included() {
        let s = Schedule {
            first: local("2026-12-01 19:00"),
            repeat: Some(Repeat::Weeks(1)),
            until: Some(parse_until("2026-12-15").unwrap()),
        };
        let got = run(&s, chrono_tz::Europe::London, "2026-01-01 00:00", 10);
        assert_eq!(
            got,
            [
                utc("2026-12-01 19:00"),
                utc("2026-12-08 19:00"),
                utc("2026-12-15 19:00")
            ]
        );
        assert_eq!(
            s.next_at_or_after(chrono_tz::Europe::London, utc("2026-12-15 19:00:01")),
            None
        );
    }

    #[test]
    fn a_one_off_returns_its_instant_then_none() {
        let s = Schedule {
            first: local("2026-07-01 19:00"),
            repeat: None,
            until: None,
        };
        let zone = chrono_tz::Europe::London;
        assert_eq!(
            s.next_at_or_after(zone, utc("2020-01-01 00:00")),
            Some(utc("2026-07-01 18:00"))
        );
        assert_eq!(
            s.next_at_or_after(zone, utc("2026-07-01 18:00")),
            Some(utc("2026-07-01 18:00"))
        );
        assert_eq!(s.next_at_or_after(zone, utc("2026-07-01 18:00:01")), None);
    }

    #[test]
    fn a_local_time_in_the_spring_gap_moves_forward_by_the_gap() {
        // London: 01:00 → 02:00 on 29 March 2026; 01:30 local does not exist.
        assert_eq!(
            resolve_local(chrono_tz::Europe::London, local("2026-03-29 01:30")),
            utc("2026-03-29 01:30") // = 02:30 BST
        );
        // New York: 02:00 → 03:00 on 8 March 2026; 02:30 EST-equivalent is 07:30 UTC = 03:30 EDT.
        assert_eq!(
            resolve_local(chrono_tz::America::New_York, local("2026-03-08 02:30")),
            utc("2026-03-08 07:30")
        );
        // Samoa skipped 30 December 2011 entirely (-10 → +14).
        let t = resolve_local(chrono_tz::Pacific::Apia, local("2011-12-30 12:00"));
        assert_eq!(
            t.with_timezone(&chrono_tz::Pacific::Apia).naive_local(),
            local("2011-12-31 12:00")
        );
    }

    #[test]
    fn an_ambiguous_local_time_takes_the_earlier_instant() {
        // London: 02:00 BST → 01:00 GMT on 25 October 2026; 01:30 happens twice.
        assert_eq!(
            resolve_local(chrono_tz::Europe::London, local("2026-10-25 01:30")),
            utc("2026-10-25 00:30")
        );
        assert_eq!(
            resolve_local(chrono_tz::America::New_York, local("2026-11-01 01:30")),
            utc("2026-11-01 05:30")
        );
    }

    #[test]
    fn a_weekly_schedule_in_the_gap_hour_keeps_its_week() {
        let s = weekly("2026-03-22 01:30", 1);
        let got = run(&s, chrono_tz::Europe::London, "2026-03-22 00:00", 3);
        assert_eq!(
            got,
            [
                utc("2026-03-22 01:30"),
                utc("2026-03-29 01:30"),
                utc("2026-04-05 00:30")
            ]
        );
    }

    #[test]
    fn next_occurrence_of_a_chat_started_years_ago_is_found_quickly() {
        let zone = chrono_tz::Europe::London;
        let weekly = Schedule {
            first: local("1971-01-05 19:00"),
            repeat: Some(Repeat::Weeks(2)),
            until: None,
        };
        let monthly = Schedule {
            first: local("1971-01-05 19:00"),
            repeat: Some(Repeat::Months(1)),
            until: None,
        };
        let daily = Schedule {
            first: local("1970-01-01 06:00"),
            repeat: Some(Repeat::Days(1)),
            until: None,
        };
        let at = utc("2026-06-10 12:00");
        let started = std::time::Instant::now();
        let mut last = (None, None, None);
        for _ in 0..10_000 {
            last = (
                weekly.next_at_or_after(zone, at),
                monthly.next_at_or_after(zone, at),
                daily.next_at_or_after(zone, at),
            );
        }
        // 30,000 look-ups; iterating from 1971 would take far longer.
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // 5 Jan 1971 + 2-week steps: 2026-06-16 is 20251 days later = 1446.5 fortnights, so
        // the on-week Tuesdays are 2026-06-09 and 2026-06-23.
        assert_eq!(last.0, Some(utc("2026-06-23 18:00")));
        // First Tuesday of July 2026 (June's was the 2nd, already past).
        assert_eq!(last.1, Some(utc("2026-07-07 18:00")));
        assert_eq!(last.2, Some(utc("2026-06-11 05:00")));
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let s = weekly("9999-12-28 19:00", 1);
        for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            for zone in [chrono_tz::Pacific::Kiritimati, chrono_tz::Etc::GMTPlus12] {
                let _ = s.next_at_or_after(zone, at);
                let _ = resolve_local(zone, NaiveDateTime::MAX);
                let _ = resolve_local(zone, NaiveDateTime::MIN);
            }
        }
        let odd = Schedule {
            first: local("2026-01-31 10:00"),
            repeat: Some(Repeat::Months(0)),
            until: None,
        };
        assert!(odd
            .next_at_or_after(chrono_tz::UTC, DateTime::<Utc>::MAX_UTC)
            .is_none());
    }

    #[test]
    fn repeat_text_parses_and_round_trips() {
        for (text, repeat) in [
            ("day", Repeat::Days(1)),
            ("3 days", Repeat::Days(3)),
            ("week", Repeat::Weeks(1)),
            ("2 weeks", Repeat::Weeks(2)),
            ("month", Repeat::Months(1)),
            ("6 months", Repeat::Months(6)),
        ] {
            assert_eq!(text.parse::<Repeat>(), Ok(repeat));
            assert_eq!(repeat.to_string(), text);
        }
        assert_eq!("every 2 Weeks".parse::<Repeat>(), Ok(Repeat::Weeks(2)));
        assert_eq!("1 week".parse::<Repeat>(), Ok(Repeat::Weeks(1)));
        for bad in [
            "",
            "fortnight",
            "0 weeks",
            "-1 weeks",
            "two weeks",
            "99 months",
            "1 2 3",
        ] {
            assert!(bad.parse::<Repeat>().is_err(), "{bad}");
        }
    }

    #[test]
    fn start_accepts_space_or_t_and_rejects_offsets() {
        assert_eq!(local("2026-12-01T19:00"), local("2026-12-01 19:00"));
        assert_eq!(local("2026-12-01T19:00:00"), local("2026-12-01 19:00"));
        assert!(parse_start("2026-12-01T19:00:00Z")
            .unwrap_err()
            .contains("without an offset"));
        assert!(parse_start("2026-13-01 19:00").is_err());
        assert!(parse_start("1969-12-31 19:00").is_err());
        assert!(parse_start("tomorrow").is_err());
    }

    #[test]
    fn describe_and_rrule_read_naturally() {
        let zone = chrono_tz::Europe::London;
        let mut s = weekly("2026-12-01 19:00", 2);
        assert_eq!(
            s.describe(zone),
            "every 2 weeks on Tuesday at 19:00 (Europe/London), from 1 December 2026"
        );
        assert_eq!(s.to_rrule(zone).unwrap(), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU");
        s.until = Some(parse_until("2027-06-30").unwrap());
        assert_eq!(
            s.to_rrule(zone).unwrap(),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;UNTIL=20270630T225959Z"
        );
        s.repeat = Some(Repeat::Months(1));
        s.first = local("2026-12-29 19:00");
        assert!(s
            .describe(zone)
            .starts_with("every month on the last Tuesday at 19:00 (Europe/London)"));
        assert_eq!(
            s.to_rrule(zone).unwrap(),
            "FREQ=MONTHLY;INTERVAL=1;BYDAY=-1TU;UNTIL=20270630T225959Z"
        );
        s.repeat = None;
        assert_eq!(
            s.describe(zone),
            "once, on Tuesday 29 December 2026 at 19:00 (Europe/London)"
        );
        assert_eq!(s.to_rrule(zone), None);
    }
}
