//! The storage key of an event, the basis of exactly-once storage.
//!
//! An event's key is `(unix_seconds << 31) | (xxh3_64(id) & 0x7FFF_FFFF)`: the high bits are
//! the time, so keys of a time-ordered import grow and every insert appends to the right
//! edge of the table's b-tree (no random page writes, no secondary unique index on `id`);
//! the low 31 bits spread the events of one second. Two different events that share a key
//! (the same second and the same 31 hash bits) are resolved by linear probing: the later one
//! goes to the next free key, and a lookup compares the stored id at each key on the way.

use showrunner_model::Timestamp;
use xxhash_rust::xxh3::xxh3_64;

/// Low bits of the key that come from the id's hash.
pub(crate) const HASH_BITS: u32 = 31;

/// The first key an event is tried at, or `None` when its time cannot be keyed (before
/// 1970 or from 2106 on; the importer rejects such times long before).
pub fn event_key(ts: Timestamp, id: &str) -> Option<i64> {
    let seconds = ts.seconds();
    if !(0..(1_i64 << 32)).contains(&seconds) {
        return None;
    }
    let hash_bits = (xxh3_64(id.as_bytes()) & 0x7FFF_FFFF) as i64;
    Some((seconds << HASH_BITS) | hash_bits)
}

/// The smallest key of any event at or after `ts` (clamped to the keyable range), for time
/// range scans over the primary key.
pub(crate) fn first_key_at(ts: Timestamp) -> i64 {
    ts.seconds().clamp(0, 1_i64 << 32) << HASH_BITS
}
