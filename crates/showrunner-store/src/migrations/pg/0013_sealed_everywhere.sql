-- Migration 13 for PostgreSQL: personal data is sealed here too (see `vault.rs`). The
-- columns below hold `enc1:` ciphertexts under per-subject data keys (`data_keys`), and
-- `findings.subject` and `members.email_index` keyed hashes. Values written in the clear
-- before this migration are sealed in the same transaction by the opening store
-- (`pg/vault.rs`, `seal_plain_rows`), so no plain value survives the upgrade in a live row.
COMMENT ON COLUMN members.email IS 'sealed under the member''s data key';
COMMENT ON COLUMN members.name IS 'sealed under the member''s data key';
COMMENT ON COLUMN members.profiles IS 'JSON; profile names sealed under the member''s data key';
COMMENT ON COLUMN members.email_index IS 'HMAC of the lower-cased email under the blind index key';
COMMENT ON COLUMN logins.account IS 'sealed under the account''s data key';
COMMENT ON COLUMN logins.ip IS 'sealed under the account''s data key';
COMMENT ON COLUMN quarantine.raw IS 'sealed under the quarantine key';
COMMENT ON COLUMN quarantine.detail IS 'sealed under the quarantine key';
COMMENT ON COLUMN audit_log.ip IS 'sealed under the audit key (the chain hashes the plain value)';
COMMENT ON COLUMN findings.subject IS 'HMAC of the key under the blind index key';
COMMENT ON COLUMN findings.key IS 'sealed under the findings key';
COMMENT ON COLUMN findings.evidence IS 'sealed under the findings key';
