//! NAB's file formats, over text the caller has read: data CSVs (`timestamp,value`), result
//! CSVs (`timestamp,value,anomaly_score,label,...`), `combined_windows.json` and
//! `profiles.json`. Timestamps are `YYYY-MM-DD HH:MM:SS` (windows add `.ffffff`), read as
//! seconds since the Unix epoch with no time zone.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::MonitorError;
use crate::nab::Profile;

/// One NAB data file: timestamps (seconds) and values, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataFile {
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Parses `YYYY-MM-DD HH:MM:SS` with an optional fraction (ignored below a second).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let bytes = text.as_bytes();
    if bytes.len() < 19 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[13] != b':' {
        return None;
    }
    if !matches!(bytes[10], b' ' | b'T') || bytes[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|byte| byte.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let rest = &text[19..];
    if !(rest.is_empty() || rest.starts_with('.') && rest[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Formats seconds since the epoch as NAB's `YYYY-MM-DD HH:MM:SS`.
pub fn format_timestamp(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Inverse of days_from_civil.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

fn parse_error(input: &str, line: usize, message: impl Into<String>) -> MonitorError {
    MonitorError::Parse {
        input: input.to_owned(),
        line,
        message: message.into(),
    }
}

/// The non-empty lines after the header, with their 1-based line numbers, and the header's
/// column names. Tolerates CRLF and a missing final newline.
fn csv_rows<'a>(
    input: &str,
    text: &'a str,
) -> Result<(Vec<&'a str>, impl Iterator<Item = (usize, &'a str)>), MonitorError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim_end_matches('\r')));
    let header = lines
        .next()
        .ok_or_else(|| parse_error(input, 1, "empty file: no header"))?
        .1;
    let columns = header.split(',').map(str::trim).collect();
    Ok((columns, lines.filter(|(_, line)| !line.trim().is_empty())))
}

fn column(input: &str, columns: &[&str], name: &str) -> Result<usize, MonitorError> {
    columns
        .iter()
        .position(|&column| column == name)
        .ok_or_else(|| parse_error(input, 1, format!("no {name:?} column in the header")))
}

/// Parses a data CSV with `timestamp` and `value` columns.
pub fn parse_data_csv(input: &str, text: &str) -> Result<DataFile, MonitorError> {
    let (columns, rows) = csv_rows(input, text)?;
    let timestamp_column = column(input, &columns, "timestamp")?;
    let value_column = column(input, &columns, "value")?;
    let mut file = DataFile::default();
    for (line, row) in rows {
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        let timestamp = fields
            .get(timestamp_column)
            .and_then(|field| parse_timestamp(field))
            .ok_or_else(|| parse_error(input, line, "bad or missing timestamp"))?;
        let value = fields
            .get(value_column)
            .and_then(|field| field.parse::<f64>().ok())
            .filter(|value| value.is_finite())
            .ok_or_else(|| parse_error(input, line, "bad or missing value"))?;
        file.timestamps.push(timestamp);
        file.values.push(value);
    }
    Ok(file)
}

/// Reads the `anomaly_score` column of a NAB result CSV.
pub fn parse_result_scores(input: &str, text: &str) -> Result<Vec<f64>, MonitorError> {
    let (columns, rows) = csv_rows(input, text)?;
    let score_column = column(input, &columns, "anomaly_score")?;
    rows.map(|(line, row)| {
        row.split(',')
            .nth(score_column)
            .and_then(|field| field.trim().parse::<f64>().ok())
            .ok_or_else(|| parse_error(input, line, "bad or missing anomaly_score"))
    })
    .collect()
}

/// Parses `combined_windows.json`: corpus path to its `[start, end]` windows (seconds).
pub fn parse_windows_json(
    input: &str,
    text: &str,
) -> Result<BTreeMap<String, Vec<(i64, i64)>>, MonitorError> {
    let raw: BTreeMap<String, Vec<(String, String)>> = serde_json::from_str(text)
        .map_err(|error| parse_error(input, error.line(), error.to_string()))?;
    raw.into_iter()
        .map(|(file, windows)| {
            let windows = windows
                .iter()
                .map(
                    |(start, end)| match (parse_timestamp(start), parse_timestamp(end)) {
                        (Some(start), Some(end)) => Ok((start, end)),
                        _ => Err(parse_error(
                            input,
                            0,
                            format!("{file}: bad window [{start:?}, {end:?}]"),
                        )),
                    },
                )
                .collect::<Result<Vec<_>, _>>()?;
            Ok((file, windows))
        })
        .collect()
}

/// Parses NAB's `profiles.json` (`{name: {"CostMatrix": {tpWeight, fpWeight, fnWeight}}}`).
pub fn parse_profiles_json(input: &str, text: &str) -> Result<Vec<Profile>, MonitorError> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "CostMatrix")]
        cost_matrix: CostMatrix,
    }
    #[derive(serde::Deserialize)]
    struct CostMatrix {
        #[serde(rename = "tpWeight")]
        tp_weight: f64,
        #[serde(rename = "fpWeight")]
        fp_weight: f64,
        #[serde(rename = "fnWeight")]
        fn_weight: f64,
    }
    // serde_json's map keeps insertion order only with a feature; keep NAB's canonical order.
    let raw: BTreeMap<String, Entry> = serde_json::from_str(text)
        .map_err(|error| parse_error(input, error.line(), error.to_string()))?;
    let order = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"];
    let mut profiles: Vec<Profile> = raw
        .into_iter()
        .map(|(name, entry)| Profile {
            name,
            tp_weight: entry.cost_matrix.tp_weight,
            fp_weight: entry.cost_matrix.fp_weight,
            fn_weight: entry.cost_matrix.fn_weight,
        })
        .collect();
    profiles.sort_by_key(|profile| {
        order
            .iter()
            .position(|&name| name == profile.name)
            .unwrap_or(order.len())
    });
    Ok(profiles)
}

/// Writes a NAB result file: `timestamp,value,anomaly_score,label`, where `label` is 1 inside
/// an anomaly window (inclusive row ranges).
pub fn result_csv(data: &DataFile, scores: &[f64], windows: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(data.values.len() * 48);
    out.push_str("timestamp,value,anomaly_score,label\n");
    for (row, ((&timestamp, &value), &score)) in data
        .timestamps
        .iter()
        .zip(&data.values)
        .zip(scores)
        .enumerate()
    {
        let label = u8::from(
            windows
                .iter()
                .any(|&(start, end)| (start..=end).contains(&row)),
        );
        let _ = writeln!(
            out,
            "{},{value},{score},{label}",
            format_timestamp(timestamp)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        for text in [
            "1970-01-01 00:00:00",
            "2014-02-28 23:59:59",
            "2014-03-01 00:00:00",
            "2016-02-29 12:30:05",
            "2000-12-31 01:02:03",
        ] {
            let seconds = parse_timestamp(text).expect(text);
            assert_eq!(format_timestamp(seconds), text);
        }
        assert_eq!(
            parse_timestamp("2014-04-10 07:15:00.000000"),
            Some(1_397_114_100)
        );
        assert_eq!(parse_timestamp("2014-04-10 07:15"), None);
        assert_eq!(parse_timestamp("2014-13-10 07:15:00"), None);
    }

    #[test]
    fn data_csv_with_crlf_and_no_final_newline() {
        let text = "timestamp,value\r\n2014-01-01 00:00:00,1.5\r\n2014-01-01 00:05:00,-2";
        let file = parse_data_csv("x.csv", text).expect("parses");
        assert_eq!(file.values, vec![1.5, -2.0]);
        assert_eq!(file.timestamps[1] - file.timestamps[0], 300);
        let error = parse_data_csv("x.csv", "timestamp,value\n2014-01-01 00:00:00,abc\n");
        assert!(error.is_err_and(|error| error.to_string().contains("line 2")));
    }
}
