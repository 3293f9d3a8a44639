//! The cleaner's lookup index of known titles and members: exact, but laid out for the hot
//! path. Ids up to 31 bytes (nearly all) are stored inline in the table, so a lookup is one
//! XXH3 hash and one probe with no pointer to chase; `HashSet<String>` with SipHash cost
//! more than parsing the line. Longer ids fall back to an ordinary map.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use xxhash_rust::xxh3::xxh3_64;

use crate::clean::{KnownEntities, KnownTitle};

const INLINE_CAPACITY: usize = 31;

/// An id of at most 31 bytes, stored in place.
#[derive(Clone, Copy, PartialEq, Eq)]
struct InlineId {
    length: u8,
    bytes: [u8; INLINE_CAPACITY],
}

impl InlineId {
    fn new(id: &str) -> Option<Self> {
        let source = id.as_bytes();
        if source.len() > INLINE_CAPACITY {
            return None;
        }
        let mut bytes = [0u8; INLINE_CAPACITY];
        bytes[..source.len()].copy_from_slice(source);
        Some(InlineId {
            length: source.len() as u8,
            bytes,
        })
    }
}

/// Passes a precomputed 64-bit hash through (and hashes anything else with XXH3).
#[derive(Default)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64(bytes) ^ self.0.rotate_left(5);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type FastState = BuildHasherDefault<PassThroughHasher>;

#[derive(Debug, Default)]
pub(crate) struct EntityIndex {
    members: HashSet<InlineIdKey, FastState>,
    long_members: HashSet<String>,
    titles: HashMap<InlineIdKey, KnownTitle, FastState>,
    long_titles: HashMap<String, KnownTitle>,
}

/// An inline id with its hash, computed once: where the id is parsed (on a parser thread),
/// so the lookup on the thread that finishes rows in order neither hashes nor reads the
/// id's string (written by another core, so a cache miss).
#[derive(Clone, Copy, PartialEq, Eq)]
struct InlineIdKey {
    hash: u64,
    id: InlineId,
}

impl InlineIdKey {
    fn new(id: &str) -> Option<Self> {
        let id = InlineId::new(id)?;
        Some(InlineIdKey {
            hash: xxh3_64(&id.bytes[..usize::from(id.length)]),
            id,
        })
    }
}

impl Hash for InlineIdKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl std::fmt::Debug for InlineIdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = &self.id.bytes[..usize::from(self.id.length)];
        write!(f, "{:?}", String::from_utf8_lossy(bytes))
    }
}

/// The lookup key of a title or member id (`None` inside: longer than 31 bytes, looked up
/// by its string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdKey(Option<InlineIdKey>);

impl IdKey {
    pub fn new(id: &str) -> Self {
        IdKey(InlineIdKey::new(id))
    }
}

impl EntityIndex {
    pub fn from_known(known: KnownEntities) -> Self {
        let mut index = EntityIndex::default();
        index.members.reserve(known.members.len());
        index.titles.reserve(known.titles.len());
        for member in known.members {
            index.insert_member(member);
        }
        for (id, title) in known.titles {
            index.insert_title(id, title);
        }
        index
    }

    pub fn has_member(&self, id: &str) -> bool {
        self.has_member_key(IdKey::new(id), id)
    }

    /// `key` must be `IdKey::new(id)`.
    pub fn has_member_key(&self, key: IdKey, id: &str) -> bool {
        match key.0 {
            Some(inline) => self.members.contains(&inline),
            None => self.long_members.contains(id),
        }
    }

    pub fn title(&self, id: &str) -> Option<KnownTitle> {
        self.title_key(IdKey::new(id), id)
    }

    /// `key` must be `IdKey::new(id)`.
    pub fn title_key(&self, key: IdKey, id: &str) -> Option<KnownTitle> {
        match key.0 {
            Some(inline) => self.titles.get(&inline).copied(),
            None => self.long_titles.get(id).copied(),
        }
    }

    pub fn insert_member(&mut self, id: String) {
        match InlineIdKey::new(&id) {
            Some(inline) => {
                self.members.insert(inline);
            }
            None => {
                self.long_members.insert(id);
            }
        }
    }

    pub fn insert_title(&mut self, id: String, title: KnownTitle) {
        match InlineIdKey::new(&id) {
            Some(inline) => {
                self.titles.insert(inline, title);
            }
            None => {
                self.long_titles.insert(id, title);
            }
        }
    }

    pub fn member_count(&self) -> usize {
        self.members.len() + self.long_members.len()
    }

    pub fn title_count(&self) -> usize {
        self.titles.len() + self.long_titles.len()
    }
}
