-- Migration 2 for PostgreSQL: what content analytics reads by title (see the SQLite
-- migration of the same number). One show's views, ratings and impressions over a range are
-- one index range scan per title.
CREATE INDEX views_by_title_start ON views (title_id, started_at);
CREATE INDEX titles_by_series ON titles (series_id) WHERE series_id IS NOT NULL;
CREATE INDEX ratings_by_title ON ratings (title_id, ts);
CREATE INDEX impressions_by_title ON impressions (title_id, ts);
