//! Reading lines with bounded memory: a line longer than the limit is not collected but
//! skipped to its newline, keeping only a prefix for the quarantine.

use std::io::{self, BufRead};

use memchr::memchr;
use showrunner_model::Quarantined;

pub(crate) enum Line<'b> {
    Complete(&'b [u8]),
    /// Longer than the limit: the first bytes, and the full length.
    TooLong {
        prefix: &'b [u8],
        length: u64,
    },
}

pub(crate) struct LineReader<R> {
    reader: R,
    buffer: Vec<u8>,
    max_line_bytes: usize,
    /// 1-based number of the line last returned.
    pub line_number: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(reader: R, max_line_bytes: usize) -> Self {
        LineReader {
            reader,
            buffer: Vec::with_capacity(4096),
            max_line_bytes,
            line_number: 0,
        }
    }

    /// The next line without its `\n` / `\r\n`, or `None` at the end of input.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buffer.clear();
        let mut length: u64 = 0;
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk_end, found_newline) = match memchr(b'\n', available) {
                Some(position) => (position, true),
                None => (available.len(), false),
            };
            let chunk = &available[..chunk_end];
            length += chunk.len() as u64;
            if !too_long {
                if self.buffer.len() + chunk.len() > self.max_line_bytes {
                    too_long = true;
                    // Keep just what the quarantine will store.
                    let keep = Quarantined::MAX_RAW_BYTES.saturating_sub(self.buffer.len());
                    self.buffer
                        .extend_from_slice(&chunk[..keep.min(chunk.len())]);
                    self.buffer.truncate(Quarantined::MAX_RAW_BYTES);
                } else {
                    self.buffer.extend_from_slice(chunk);
                }
            }
            let consumed = chunk_end + usize::from(found_newline);
            self.reader.consume(consumed);
            if found_newline {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        self.line_number += 1;
        if too_long {
            return Ok(Some(Line::TooLong {
                prefix: &self.buffer,
                length,
            }));
        }
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        Ok(Some(Line::Complete(&self.buffer)))
    }
}
