-- Migration 16 for PostgreSQL: every text column of showrunner's tables compares byte by
-- byte (collation "C"), as SQLite's BINARY does.
--
-- Ids, keys and names were compared with the database's default collation, whatever the
-- server was created with (often a glibc locale such as en_US.UTF-8 or C.UTF-8). Every index
-- on text (event keys, sessions, members, titles, request ids) then called the C library's
-- strcoll for each comparison, a large share of an ingest's time, and sorted text
-- differently from SQLite. "C" compares with memcmp and orders as SQLite does.
--
-- All text columns change together: comparing two columns of different collations is an
-- error in PostgreSQL, so a join between an id changed here and one left alone would fail.
-- Changing a column's collation keeps its rows (no table rewrite) and rebuilds the indexes
-- that use it, once per table. Tables added by later migrations declare COLLATE "C" on their
-- text columns; a test checks that none is left on another collation.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.table_name,
               string_agg(format('ALTER COLUMN %I TYPE text COLLATE "C"', c.column_name), ', '
                          ORDER BY c.ordinal_position) AS changes
        FROM information_schema.columns c
        JOIN information_schema.tables tb
          ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
        WHERE c.table_schema = current_schema()
          AND tb.table_type = 'BASE TABLE'
          AND c.data_type = 'text'
          AND c.collation_name IS DISTINCT FROM 'C'
        GROUP BY c.table_name
    LOOP
        EXECUTE format('ALTER TABLE %I %s', t.table_name, t.changes);
    END LOOP;
END
$$;
