//! Conversions between the model's types and the columns that hold them.
//!
//! Everything read back is checked: a value that does not decode becomes
//! [`StoreError::Corrupt`] naming the table and column, never a panic.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{Result, Row, StoreError};
use crate::ids::{Platform, RoomRef, UserRef};

/// Unix milliseconds, the store's time representation.
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn opt_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(to_ms)
}

pub(crate) fn opt_u32(v: Option<u32>) -> Option<i64> {
    v.map(i64::from)
}

/// A typed column read that reports a type mismatch (possible on SQLite, which stores what it
/// is given) as corruption.
pub(crate) fn col<'r, T>(row: &'r Row, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get::<T, _>(name)
        .map_err(|e| StoreError::Corrupt(format!("column `{name}`: {e}")))
}

pub(crate) fn col_time(row: &Row, name: &str) -> Result<DateTime<Utc>> {
    let ms: i64 = col(row, name)?;
    ms_to_time(ms, name)
}

pub(crate) fn col_opt_time(row: &Row, name: &str) -> Result<Option<DateTime<Utc>>> {
    col::<Option<i64>>(row, name)?
        .map(|ms| ms_to_time(ms, name))
        .transpose()
}

fn ms_to_time(ms: i64, name: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("column `{name}`: timestamp {ms} out of range")))
}

pub(crate) fn col_u32(row: &Row, name: &str) -> Result<u32> {
    let v: i64 = col(row, name)?;
    to_u32(v, name)
}

pub(crate) fn col_opt_u32(row: &Row, name: &str) -> Result<Option<u32>> {
    col::<Option<i64>>(row, name)?
        .map(|v| to_u32(v, name))
        .transpose()
}

fn to_u32(v: i64, name: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        StoreError::Corrupt(format!("column `{name}`: {v} is not a valid number here"))
    })
}

/// A text column holding one of the model's enumerations.
pub(crate) fn col_parse<T: FromStr>(row: &Row, name: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let text: String = col(row, name)?;
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("column `{name}`: {e}")))
}

/// `platform:id`, as written by [`RoomRef`]'s `Display`. Only the platform is checked: an id
/// stored once is given back as it was, whatever it looks like.
pub(crate) fn parse_room(text: &str) -> Result<RoomRef> {
    let (platform, id) = split_ref(text, "room")?;
    Ok(RoomRef::new(platform, id))
}

pub(crate) fn parse_user(text: &str) -> Result<UserRef> {
    let (platform, id) = split_ref(text, "user")?;
    Ok(UserRef::new(platform, id))
}

fn split_ref<'a>(text: &'a str, what: &str) -> Result<(Platform, &'a str)> {
    let (platform, id) = text
        .split_once(':')
        .ok_or_else(|| StoreError::Corrupt(format!("{what} `{text}` has no `platform:` prefix")))?;
    let platform: Platform = platform
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("{what} `{text}`: {e}")))?;
    if id.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "{what} `{text}` has an empty id"
        )));
    }
    Ok((platform, id))
}

/// A `u32` argument as the `BIGINT` it is stored in.
pub(crate) fn u32_arg(v: u32) -> i64 {
    i64::from(v)
}
