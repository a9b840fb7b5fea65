//! Timestamps in the JSON document: RFC 3339, UTC, always with milliseconds
//! (`2026-12-01T19:02:00.000Z`), so the same instant is always written the same way.
//!
//! Reading accepts any RFC 3339 time with an offset; it is converted to UTC and cut to the
//! millisecond, the precision the store keeps.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// The one way a time is written.
pub fn format(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads an RFC 3339 time, in UTC, to the millisecond.
pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(3))
        .map_err(|e| {
            format!("`{text}` is not an RFC 3339 time such as 2026-12-01T19:02:00.000Z ({e})")
        })
}

pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*at))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// The same for `Option<DateTime<Utc>>`: `null` when absent.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_str(&format(*at)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_always_carry_milliseconds_in_utc() {
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 19, 2, 0).unwrap();
        assert_eq!(format(t), "2026-12-01T19:02:00.000Z");
        let t = t + chrono::Duration::microseconds(123_456);
        assert_eq!(format(t), "2026-12-01T19:02:00.123Z");
        assert_eq!(
            parse("2026-12-01T20:02:00.123456+01:00").unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 19, 2, 0).unwrap()
                + chrono::Duration::milliseconds(123)
        );
        assert!(parse("2026-12-01 19:02").is_err());
    }
}
