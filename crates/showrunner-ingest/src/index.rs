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

impl Hash for InlineId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(xxh3_64(&self.bytes[..usize::from(self.length)]));
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

/// `InlineId` with a `Debug` that shows the id, for the derived `Debug` above.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct InlineIdKey(InlineId);

impl std::fmt::Debug for InlineIdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = &self.0.bytes[..usize::from(self.0.length)];
        write!(f, "{:?}", String::from_utf8_lossy(bytes))
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
        match InlineId::new(id) {
            Some(inline) => self.members.contains(&InlineIdKey(inline)),
            None => self.long_members.contains(id),
        }
    }

    pub fn title(&self, id: &str) -> Option<KnownTitle> {
        match InlineId::new(id) {
            Some(inline) => self.titles.get(&InlineIdKey(inline)).copied(),
            None => self.long_titles.get(id).copied(),
        }
    }

    pub fn insert_member(&mut self, id: String) {
        match InlineId::new(&id) {
            Some(inline) => {
                self.members.insert(InlineIdKey(inline));
            }
            None => {
                self.long_members.insert(id);
            }
        }
    }

    pub fn insert_title(&mut self, id: String, title: KnownTitle) {
        match InlineId::new(&id) {
            Some(inline) => {
                self.titles.insert(InlineIdKey(inline), title);
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
