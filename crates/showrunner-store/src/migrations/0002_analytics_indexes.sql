-- Migration 2: what content analytics reads by title. One title's dashboard reads its views,
-- ratings and impressions, and a series' parts, without scanning whole tables. Each index
-- costs one b-tree insert per new view, rating or impression at ingest, and the views index
-- is rewritten whenever a batch updates a view (its columns are in the upsert's SET list);
-- the cost is measured in docs/benchmarks.md. Plays, the largest table, get none.

-- Views by UTC day of their start, then title: a batch's new views land in the pages of
-- the current days, and one show's views over a range are one seek per day.
CREATE INDEX views_by_day_title ON views (started_at / 86400000, title_id);
CREATE INDEX titles_by_series ON titles (series_id) WHERE series_id IS NOT NULL;
CREATE INDEX ratings_by_title ON ratings (title_key, ts);
-- Impressions are many (a fifth of all events): their index leads with the UTC day, so a
-- batch's inserts land in the few pages of the current days rather than all over the
-- index, and one show's impressions over a range are one seek per day. It covers what is
-- read, so no row is fetched.
CREATE INDEX impressions_by_day_title ON impressions (ts / 86400000, title_key, member_key, ts);
