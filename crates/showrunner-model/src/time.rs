//! Timestamps: UTC milliseconds since the Unix epoch, with a fast RFC 3339 formatter and
//! parser for the hot paths (synthesis and import) and a tolerant parser for the other
//! formats people put in files.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, UTC, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// Milliseconds in common spans, to keep arithmetic readable.
pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised timestamp {text:?}: {why}")]
pub struct TimestampError {
    pub text: String,
    pub why: &'static str,
}

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub const fn from_seconds(seconds: i64) -> Self {
        Timestamp(seconds * SECOND_MS)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub const fn seconds(self) -> i64 {
        self.0.div_euclid(SECOND_MS)
    }

    /// Days since the epoch (the UTC calendar day this instant falls on).
    pub const fn day_number(self) -> i64 {
        self.0.div_euclid(DAY_MS)
    }

    /// Builds a timestamp from a UTC civil date and time. Returns `None` for an impossible date.
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        millis: u32,
    ) -> Option<Self> {
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
            || millis > 999
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let second = second.min(59); // a leap second folds onto :59
        Some(Timestamp(
            days * DAY_MS
                + i64::from(hour) * HOUR_MS
                + i64::from(minute) * MINUTE_MS
                + i64::from(second) * SECOND_MS
                + i64::from(millis),
        ))
    }

    /// The UTC civil date `(year, month, day)` of this instant.
    pub fn civil_date(self) -> (i64, u32, u32) {
        civil_from_days(self.day_number())
    }

    /// Appends the RFC 3339 form (`2026-10-01T20:15:03.120Z`, milliseconds only when non-zero)
    /// to `out`. Used by the synthesiser, which writes millions of these a second.
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        let days = self.day_number();
        let in_day = self.0 - days * DAY_MS;
        let (year, month, day) = civil_from_days(days);
        let hour = in_day / HOUR_MS;
        let minute = (in_day % HOUR_MS) / MINUTE_MS;
        let second = (in_day % MINUTE_MS) / SECOND_MS;
        let millis = in_day % SECOND_MS;
        if (0..=9999).contains(&year) {
            push_digits(out, year as u64, 4);
        } else {
            out.extend_from_slice(year.to_string().as_bytes());
        }
        out.push(b'-');
        push_digits(out, u64::from(month), 2);
        out.push(b'-');
        push_digits(out, u64::from(day), 2);
        out.push(b'T');
        push_digits(out, hour as u64, 2);
        out.push(b':');
        push_digits(out, minute as u64, 2);
        out.push(b':');
        push_digits(out, second as u64, 2);
        if millis != 0 {
            out.push(b'.');
            push_digits(out, millis as u64, 3);
        }
        out.push(b'Z');
    }

    pub fn to_rfc3339(self) -> String {
        let mut out = Vec::with_capacity(24);
        self.write_rfc3339(&mut out);
        // Only ASCII digits and separators were written.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Parses the timestamp formats found in event and catalog files, normalising to UTC:
    ///
    /// - RFC 3339 / ISO 8601 with `T` or a space, optional fraction, `Z` or `±HH:MM` offset
    ///   (no offset means UTC);
    /// - a bare date `YYYY-MM-DD` (midnight UTC);
    /// - Unix epoch seconds or milliseconds as digits (10 digits or fewer are seconds,
    ///   13 are milliseconds), with an optional fraction on seconds;
    /// - the long English form `September 25, 2021` used by catalog exports.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let trimmed = text.trim();
        let err = |why| TimestampError {
            text: truncate_for_message(trimmed),
            why,
        };
        if trimmed.is_empty() {
            return Err(err("empty"));
        }
        let bytes = trimmed.as_bytes();
        if bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.') && bytes[0].is_ascii_digit() {
            return parse_epoch(trimmed).ok_or_else(|| err("not a valid epoch number"));
        }
        if bytes.len() >= 10 && bytes[4] == b'-' && bytes[7] == b'-' {
            return parse_iso(bytes).ok_or_else(|| err("not a valid ISO 8601 / RFC 3339 time"));
        }
        if bytes[0].is_ascii_alphabetic() {
            return parse_long_english(trimmed)
                .ok_or_else(|| err("not a valid 'Month D, YYYY' date"));
        }
        Err(err("unknown format"))
    }

    /// Parses the same formats from a JSON number (epoch seconds, or milliseconds when the
    /// value is at least 1e11, i.e. after 1973 in milliseconds).
    pub fn from_epoch_number(value: f64) -> Option<Self> {
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        if value >= 1e11 {
            Some(Timestamp(value as i64))
        } else {
            Some(Timestamp((value * 1000.0).round() as i64))
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Number(f64),
            #[serde(borrow)]
            Text(std::borrow::Cow<'a, str>),
        }
        match Either::deserialize(deserializer)? {
            Either::Number(value) => Timestamp::from_epoch_number(value)
                .ok_or_else(|| serde::de::Error::custom("invalid epoch timestamp")),
            Either::Text(text) => Timestamp::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

fn truncate_for_message(text: &str) -> String {
    text.chars().take(64).collect()
}

fn push_digits(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0')),
    )
}

fn parse_epoch(text: &str) -> Option<Timestamp> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    if whole.len() > 13 {
        return None;
    }
    let whole_value: i64 = whole.parse().ok()?;
    if whole.len() >= 12 {
        // Milliseconds; a fraction of a millisecond is dropped.
        return Some(Timestamp(whole_value));
    }
    let mut millis = whole_value.checked_mul(SECOND_MS)?;
    if let Some(fraction) = fraction {
        let fraction = fraction.as_bytes();
        if fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut scale = 100;
        for digit in fraction.iter().take(3) {
            millis += i64::from(digit - b'0') * scale;
            scale /= 10;
        }
    }
    Some(Timestamp(millis))
}

fn parse_iso(bytes: &[u8]) -> Option<Timestamp> {
    let year = i64::from(digits(&bytes[0..4])?);
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    let rest = &bytes[10..];
    if rest.is_empty() {
        return Timestamp::from_civil(year, month, day, 0, 0, 0, 0);
    }
    if rest[0] != b'T' && rest[0] != b't' && rest[0] != b' ' {
        return None;
    }
    let rest = &rest[1..];
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let hour = digits(&rest[0..2])?;
    let minute = digits(&rest[3..5])?;
    let mut rest = &rest[5..];
    let mut second = 0;
    if rest.first() == Some(&b':') {
        second = digits(rest.get(1..3)?)?;
        rest = &rest[3..];
    }
    let mut millis = 0u32;
    if matches!(rest.first(), Some(b'.') | Some(b',')) {
        let fraction_len = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if fraction_len == 0 {
            return None;
        }
        let mut scale = 100;
        for digit in &rest[1..1 + fraction_len.min(3)] {
            millis += u32::from(digit - b'0') * scale;
            scale /= 10;
        }
        rest = &rest[1 + fraction_len..];
    }
    let offset_ms: i64 = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (hours, minutes) = match tail {
                [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                [h1, h2, m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let magnitude = i64::from(hours) * HOUR_MS + i64::from(minutes) * MINUTE_MS;
            if *sign == b'+' { magnitude } else { -magnitude }
        }
        _ => return None,
    };
    let local = Timestamp::from_civil(year, month, day, hour, minute, second, millis)?;
    Some(Timestamp(local.0 - offset_ms))
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn parse_long_english(text: &str) -> Option<Timestamp> {
    // "September 25, 2021" or "Sep 25, 2021"
    let mut parts = text.split([' ', ',']).filter(|p| !p.is_empty());
    let month_word = parts.next()?.to_ascii_lowercase();
    let day: u32 = parts.next()?.parse().ok()?;
    let year: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || month_word.len() < 3 {
        return None;
    }
    let month = MONTHS
        .iter()
        .position(|name| name.starts_with(&month_word))? as u32
        + 1;
    Timestamp::from_civil(year, month, day, 0, 0, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        let got = Timestamp::parse(input).ok().map(|ts| ts.to_rfc3339());
        assert_eq!(got.as_deref(), expected, "parsing {input:?}");
    }

    #[test]
    fn parses_common_formats_to_utc() {
        check("2026-10-01T20:15:03Z", Some("2026-10-01T20:15:03Z"));
        check("2026-10-01T20:15:03.120Z", Some("2026-10-01T20:15:03.120Z"));
        check("2026-10-01 20:15:03", Some("2026-10-01T20:15:03Z"));
        check("2026-10-01T22:15:03+02:00", Some("2026-10-01T20:15:03Z"));
        check("2026-10-01T15:15:03-0500", Some("2026-10-01T20:15:03Z"));
        check("2026-10-01", Some("2026-10-01T00:00:00Z"));
        check("1790000000", Some("2026-09-21T14:13:20Z"));
        check("1790000000123", Some("2026-09-21T14:13:20.123Z"));
        check("1790000000.5", Some("2026-09-21T14:13:20.500Z"));
        check("September 25, 2021", Some("2021-09-25T00:00:00Z"));
        check(" Sep 5, 2021 ", Some("2021-09-05T00:00:00Z"));
        check("2024-02-29T00:00:00Z", Some("2024-02-29T00:00:00Z"));
    }

    #[test]
    fn rejects_impossible_times() {
        check("2023-02-29T00:00:00Z", None);
        check("2026-13-01T00:00:00Z", None);
        check("2026-10-01T24:00:00Z", None);
        check("2026-10-01T20:15:03+25:00", None);
        check("yesterday", None);
        check("", None);
        check("12:00", None);
        check("2026-10-01T20:15:03Zjunk", None);
    }

    #[test]
    fn civil_round_trip_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }
}
