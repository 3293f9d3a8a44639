-- Migration 17 for PostgreSQL: nothing to change. SQLite's migration of the same number
-- re-orders its index of data keys by master key, whose entries ended with the key's random
-- reference; PostgreSQL's `data_keys_by_master` has no such suffix (equal keys are ordered
-- by the row's heap position, so new keys already land at the end).
SELECT 1;
