-- Personal data at rest (see `vault.rs`): every subject's data key, wrapped under a master
-- key that is never stored here. `reference` is a keyed hash of the subject, so subjects
-- (member ids, login accounts) are not stored in the clear either; the all-zero reference
-- is the store-wide blind index key. Erasing a subject deletes its row.
CREATE TABLE IF NOT EXISTS data_keys (
    reference BLOB NOT NULL PRIMARY KEY,
    master_id BLOB NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS data_keys_by_master ON data_keys (master_id);

-- The keyed lookup index of a member's email (HMAC under the blind index key), so members
-- can be found by email while the email itself is stored sealed.
ALTER TABLE members ADD COLUMN email_index BLOB;
CREATE INDEX IF NOT EXISTS members_by_email_index ON members (email_index);
