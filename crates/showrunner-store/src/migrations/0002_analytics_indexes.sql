-- Migration 2: what content analytics reads by title. One title's dashboard reads its views,
-- ratings and impressions, and a series' parts, without scanning whole tables. Each index
-- costs one b-tree insert per new view, rating or impression at ingest (measured in
-- docs/benchmarks.md); plays, the largest table, get none.

CREATE INDEX views_by_title ON views (title_id, started_at);
CREATE INDEX titles_by_series ON titles (series_id) WHERE series_id IS NOT NULL;
CREATE INDEX ratings_by_title ON ratings (title_key, ts);
-- Impressions are many: the index covers what is read, so no row is fetched.
CREATE INDEX impressions_by_title ON impressions (title_key, ts, member_key);
