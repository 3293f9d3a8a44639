-- Migration 18: data keys are stored in the order they are made.
--
-- `data_keys` was a table WITHOUT ROWID keyed by the key's reference, the first 16 bytes of
-- an HMAC: every new key (each new account a login names, each new member) went to a
-- random leaf of the whole table, ~120 bytes a row, and at ingest a commit wrote a page of
-- the table per new key. During a credential-stuffing wave, with thousands of new accounts
-- a minute, that was nearly half of the pages a commit wrote. Now the rows append (rowid
-- table) and only a unique index of the references (~25 bytes an entry, a fifth of the
-- pages) is in random order. Lookups by reference go through that index; every statement
-- on the table reads as before.
CREATE TABLE data_keys_appended (
    id INTEGER PRIMARY KEY,
    reference BLOB NOT NULL UNIQUE,
    master_id BLOB NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO data_keys_appended (reference, master_id, wrapped, created_at)
    SELECT reference, master_id, wrapped, created_at FROM data_keys ORDER BY created_at;
DROP TABLE data_keys;
ALTER TABLE data_keys_appended RENAME TO data_keys;
CREATE INDEX IF NOT EXISTS data_keys_by_master_age ON data_keys (master_id, created_at);
