//! Hand-written JSON for events: the generator writes millions of lines a second, so it
//! appends bytes to a buffer instead of going through serde. Strings that may hold quotes,
//! backslashes or control characters (titles, queries, user agents) go through
//! [`push_escaped`]; identifiers the generator builds itself are plain ASCII and are written
//! as they are.

use showrunner_model::Timestamp;

/// Starts an event line: `{"type":"<kind>","ts":"<rfc3339>"`.
pub fn begin_event(out: &mut Vec<u8>, kind: &str, ts: i64) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"ts\":\"");
    Timestamp::from_millis(ts).write_rfc3339(out);
    out.push(b'"');
}

pub fn end_event(out: &mut Vec<u8>) {
    out.extend_from_slice(b"}\n");
}

fn push_key(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A string field whose value the generator built from ASCII letters, digits, `-`, `.`,
/// `/`, `_` and `:` only, so it needs no escaping.
pub fn field_plain(out: &mut Vec<u8>, key: &str, value: &str) {
    debug_assert!(
        value
            .bytes()
            .all(|b| b.is_ascii() && b != b'"' && b != b'\\' && b >= 0x20),
        "field {key} needs escaping: {value:?}"
    );
    push_key(out, key);
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
}

/// A string field with arbitrary text.
pub fn field_text(out: &mut Vec<u8>, key: &str, value: &str) {
    push_key(out, key);
    push_escaped(out, value);
}

pub fn field_u64(out: &mut Vec<u8>, key: &str, value: u64) {
    push_key(out, key);
    push_u64(out, value);
}

pub fn field_bool(out: &mut Vec<u8>, key: &str, value: bool) {
    push_key(out, key);
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// A coordinate with four decimals (about 10 m), written without going through `f64`
/// formatting.
pub fn field_coordinate(out: &mut Vec<u8>, key: &str, value: f64) {
    push_key(out, key);
    let scaled = (value * 10_000.0).round() as i64;
    if scaled < 0 {
        out.push(b'-');
    }
    let magnitude = scaled.unsigned_abs();
    push_u64(out, magnitude / 10_000);
    out.push(b'.');
    let fraction = magnitude % 10_000;
    for divisor in [1000, 100, 10, 1] {
        out.push(b'0' + ((fraction / divisor) % 10) as u8);
    }
}

/// A star rating in half stars (`9` half stars is written `4.5`).
pub fn field_half_stars(out: &mut Vec<u8>, key: &str, half_stars: u32) {
    push_key(out, key);
    push_u64(out, u64::from(half_stars / 2));
    if half_stars % 2 == 1 {
        out.extend_from_slice(b".5");
    }
}

/// Appends a non-negative integer in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut position = digits.len();
    loop {
        position -= 1;
        digits[position] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[position..]);
}

/// Appends `text` as a quoted JSON string. Non-ASCII UTF-8 is copied as is (JSON allows it);
/// quotes, backslashes and control characters are escaped.
pub fn push_escaped(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut copied_up_to = 0;
    for (position, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[copied_up_to..position]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        copied_up_to = position + 1;
    }
    out.extend_from_slice(&bytes[copied_up_to..]);
    out.push(b'"');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) {
        let mut out = Vec::new();
        push_escaped(&mut out, text);
        let back: String = serde_json::from_slice(&out).expect("escaped text is valid JSON");
        assert_eq!(back, text);
    }

    #[test]
    fn escaping_round_trips_through_serde_json() {
        round_trip("plain");
        round_trip("The \"Last\" Summer");
        round_trip("back\\slash and\nnew line\t\u{1}");
        round_trip("Café Lumière 東京 서울");
        round_trip("");
    }

    #[test]
    fn numbers_are_valid_json() {
        let mut out = b"{\"a\":0".to_vec();
        field_coordinate(&mut out, "lat", -33.8688);
        field_coordinate(&mut out, "lon", 0.05);
        field_half_stars(&mut out, "stars", 9);
        field_u64(&mut out, "n", 1_234_567);
        out.push(b'}');
        let value: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(value["lat"], -33.8688);
        assert_eq!(value["lon"], 0.05);
        assert_eq!(value["stars"], 4.5);
        assert_eq!(value["n"], 1_234_567);
    }
}
