-- Migration 18 for PostgreSQL: nothing to change. SQLite's migration of the same number
-- moves its data keys from a table clustered by their random reference into one that
-- appends; PostgreSQL's tables are heaps already, with the reference in a separate index.
SELECT 1;
