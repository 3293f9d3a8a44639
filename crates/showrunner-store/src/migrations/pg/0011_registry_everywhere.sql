-- Migration 11 for PostgreSQL: before this backend kept the model registry, publishing a
-- model only inserted it (as a candidate) and the newest version was served. Where no
-- model has been made live since, the newest becomes live and the others retire, as
-- SQLite's migration 6 did when the registry was added.
UPDATE models SET status = 'retired'
    WHERE NOT EXISTS (SELECT 1 FROM model_live);
UPDATE models SET status = 'live'
    WHERE version = (SELECT max(version) FROM models)
      AND NOT EXISTS (SELECT 1 FROM model_live);
INSERT INTO model_live (version, at, actor, reason)
    SELECT version, published_at, 'migration', 'the newest model when the registry was added'
    FROM models
    WHERE status = 'live' AND NOT EXISTS (SELECT 1 FROM model_live);
