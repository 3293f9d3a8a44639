-- Migration 17: the data keys' index by master key grows at its end.
--
-- `data_keys_by_master` (migration 8) served the two reads by master key: the distinct
-- master keys at every open, and a rotation's "keys not under the current master". In a
-- table WITHOUT ROWID an index entry ends with the primary key, here the data key's
-- reference, an HMAC: so every new key (every new account a login names, every new member)
-- went to a random leaf of the index, and at ingest each commit wrote most of the index's
-- pages to the WAL again (about a sixth of the pages a commit wrote while credential
-- stuffing brought new accounts). Led by the master key and then the creation time, new
-- keys land at the end; both reads are served as before.
DROP INDEX IF EXISTS data_keys_by_master;
CREATE INDEX IF NOT EXISTS data_keys_by_master_age ON data_keys (master_id, created_at);
