//! The on-disk form of a model, as bytes: a JSON manifest and one binary blob of arrays.
//!
//! The blob is the concatenation of little-endian arrays (`f32`, `u32`, `u64`, `i64`) and
//! UTF-8 string lists (newline-joined); the manifest lists each with its offset and length
//! and carries the blob's length and XXH3-64 checksum, so a truncated or altered blob is
//! refused on load. Loading reads the blob once and converts each array in one pass.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::RecommendError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F32,
    U32,
    U64,
    I64,
    Strings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayEntry {
    pub name: String,
    pub dtype: Dtype,
    /// Elements (strings for `Strings`).
    pub len: u64,
    pub offset: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobIndex {
    pub arrays: Vec<ArrayEntry>,
    pub blob_bytes: u64,
    /// XXH3-64 of the blob, in hex.
    pub blob_xxh3: String,
}

/// Collects arrays into one blob.
#[derive(Debug, Default)]
pub struct BlobWriter {
    blob: Vec<u8>,
    arrays: Vec<ArrayEntry>,
}

impl BlobWriter {
    fn push(&mut self, name: &str, dtype: Dtype, len: usize, bytes: impl IntoIterator<Item = u8>) {
        let offset = self.blob.len();
        self.blob.extend(bytes);
        self.arrays.push(ArrayEntry {
            name: name.into(),
            dtype,
            len: len as u64,
            offset: offset as u64,
            bytes: (self.blob.len() - offset) as u64,
        });
    }

    pub fn f32s(&mut self, name: &str, v: &[f32]) {
        self.push(
            name,
            Dtype::F32,
            v.len(),
            v.iter().flat_map(|x| x.to_le_bytes()),
        );
    }

    pub fn u32s(&mut self, name: &str, v: &[u32]) {
        self.push(
            name,
            Dtype::U32,
            v.len(),
            v.iter().flat_map(|x| x.to_le_bytes()),
        );
    }

    pub fn u64s(&mut self, name: &str, v: &[u64]) {
        self.push(
            name,
            Dtype::U64,
            v.len(),
            v.iter().flat_map(|x| x.to_le_bytes()),
        );
    }

    pub fn i64s(&mut self, name: &str, v: &[i64]) {
        self.push(
            name,
            Dtype::I64,
            v.len(),
            v.iter().flat_map(|x| x.to_le_bytes()),
        );
    }

    pub fn strings(&mut self, name: &str, v: &[String]) {
        let joined = v.join("\n");
        self.push(name, Dtype::Strings, v.len(), joined.into_bytes());
    }

    pub fn finish(self) -> (BlobIndex, Vec<u8>) {
        let index = BlobIndex {
            arrays: self.arrays,
            blob_bytes: self.blob.len() as u64,
            blob_xxh3: format!("{:016x}", xxh3_64(&self.blob)),
        };
        (index, self.blob)
    }
}

/// Reads arrays back out of a checked blob.
#[derive(Debug)]
pub struct BlobReader<'a> {
    index: &'a BlobIndex,
    blob: &'a [u8],
}

fn bad(problem: String) -> RecommendError {
    RecommendError::BadModel {
        what: "data".into(),
        problem,
    }
}

impl<'a> BlobReader<'a> {
    pub fn new(index: &'a BlobIndex, blob: &'a [u8]) -> Result<Self, RecommendError> {
        if blob.len() as u64 != index.blob_bytes {
            return Err(bad(format!(
                "is {} bytes where the manifest says {} (truncated or from another model)",
                blob.len(),
                index.blob_bytes
            )));
        }
        let sum = format!("{:016x}", xxh3_64(blob));
        if sum != index.blob_xxh3 {
            return Err(bad(
                "checksum does not match the manifest (the file is damaged)".into(),
            ));
        }
        Ok(BlobReader { index, blob })
    }

    fn raw(&self, name: &str, dtype: Dtype, width: u64) -> Result<(&'a [u8], u64), RecommendError> {
        let entry = self
            .index
            .arrays
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| bad(format!("has no array {name}")))?;
        if entry.dtype != dtype {
            return Err(bad(format!(
                "array {name} has type {:?}, expected {dtype:?}",
                entry.dtype
            )));
        }
        let end = entry
            .offset
            .checked_add(entry.bytes)
            .filter(|&e| e <= self.blob.len() as u64);
        let Some(end) = end else {
            return Err(bad(format!("array {name} lies outside the blob")));
        };
        if width > 0 && entry.bytes != entry.len * width {
            return Err(bad(format!(
                "array {name} has a length that does not match its type"
            )));
        }
        Ok((&self.blob[entry.offset as usize..end as usize], entry.len))
    }

    pub fn f32s(&self, name: &str) -> Result<Vec<f32>, RecommendError> {
        let (raw, _) = self.raw(name, Dtype::F32, 4)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    pub fn u32s(&self, name: &str) -> Result<Vec<u32>, RecommendError> {
        let (raw, _) = self.raw(name, Dtype::U32, 4)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    pub fn u64s(&self, name: &str) -> Result<Vec<u64>, RecommendError> {
        let (raw, _) = self.raw(name, Dtype::U64, 8)?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect())
    }

    pub fn i64s(&self, name: &str) -> Result<Vec<i64>, RecommendError> {
        let (raw, _) = self.raw(name, Dtype::I64, 8)?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect())
    }

    pub fn strings(&self, name: &str) -> Result<Vec<String>, RecommendError> {
        let (raw, len) = self.raw(name, Dtype::Strings, 0)?;
        let text =
            std::str::from_utf8(raw).map_err(|_| bad(format!("array {name} is not UTF-8")))?;
        let out: Vec<String> = if len == 0 {
            Vec::new()
        } else {
            text.split('\n').map(str::to_owned).collect()
        };
        if out.len() as u64 != len {
            return Err(bad(format!(
                "array {name} has {} strings, expected {len}",
                out.len()
            )));
        }
        Ok(out)
    }
}
