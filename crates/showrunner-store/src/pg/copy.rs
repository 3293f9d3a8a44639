//! Rows encoded in PostgreSQL's binary `COPY` format, so a batch's events reach the server
//! as one stream the server reads without parsing text or taking arrays apart.
//!
//! The format: a fixed signature, flags and header-extension length, then per row its
//! number of fields and per field its length in bytes (-1 for NULL) and the value in the
//! type's binary send format (big-endian integers and floats, one byte for a boolean, the
//! bytes of a text), and a field count of -1 to end. The values must have exactly the
//! types of the target columns; there is no cast.

/// `PGCOPY\n\377\r\n\0`, then no flags and no header extension.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A binary `COPY` stream being built, row by row.
pub(super) struct BinaryRows {
    buffer: Vec<u8>,
    fields: i16,
    rows: usize,
}

impl BinaryRows {
    /// A stream of rows of `fields` columns each.
    pub(super) fn new(fields: usize, expected_rows: usize) -> Self {
        let mut buffer = Vec::with_capacity(HEADER.len() + expected_rows * 16 * fields + 2);
        buffer.extend_from_slice(HEADER);
        BinaryRows {
            buffer,
            fields: i16::try_from(fields).unwrap_or(i16::MAX),
            rows: 0,
        }
    }

    /// Starts a row; its `fields` values follow.
    pub(super) fn row(&mut self) -> &mut Self {
        self.rows += 1;
        self.buffer.extend_from_slice(&self.fields.to_be_bytes());
        self
    }

    fn null(&mut self) {
        self.buffer.extend_from_slice(&(-1_i32).to_be_bytes());
    }

    fn value(&mut self, bytes: &[u8]) {
        // Texts come from parsed input lines and are far below PostgreSQL's 1 GB limit.
        let length = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
        self.buffer.extend_from_slice(&length.to_be_bytes());
        self.buffer.extend_from_slice(bytes);
    }

    /// A `bigint`.
    pub(super) fn int(&mut self, value: Option<i64>) {
        match value {
            Some(value) => self.value(&value.to_be_bytes()),
            None => self.null(),
        }
    }

    /// A `double precision`.
    pub(super) fn float(&mut self, value: Option<f64>) {
        match value {
            Some(value) => self.value(&value.to_bits().to_be_bytes()),
            None => self.null(),
        }
    }

    /// A `text`.
    pub(super) fn text(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.value(value.as_bytes()),
            None => self.null(),
        }
    }

    /// A `boolean`.
    pub(super) fn bool(&mut self, value: Option<bool>) {
        match value {
            Some(value) => self.value(&[u8::from(value)]),
            None => self.null(),
        }
    }

    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// The whole stream, with its trailer.
    pub(super) fn finish(mut self) -> Vec<u8> {
        self.buffer.extend_from_slice(&(-1_i16).to_be_bytes());
        self.buffer
    }
}
