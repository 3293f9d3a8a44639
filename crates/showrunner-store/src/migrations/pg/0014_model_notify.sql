-- Migration 14 for PostgreSQL: every change to what replicas serve (a model published or its
-- status changed, the live model promoted or rolled back, shadowing started or stopped, an
-- experiment started or stopped) sends a notification on the channel `showrunner_models`
-- when its transaction commits, so that `serve` replicas listening there reload at once
-- instead of at their next poll. Statement-level, with one payload, so that PostgreSQL folds
-- the notifications of one transaction into one. Written to be re-runnable.
CREATE OR REPLACE FUNCTION showrunner_notify_models() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('showrunner_models', 'changed');
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS models_notify ON models;
CREATE TRIGGER models_notify AFTER INSERT OR UPDATE OR DELETE ON models
    FOR EACH STATEMENT EXECUTE FUNCTION showrunner_notify_models();
DROP TRIGGER IF EXISTS model_live_notify ON model_live;
CREATE TRIGGER model_live_notify AFTER INSERT OR UPDATE OR DELETE ON model_live
    FOR EACH STATEMENT EXECUTE FUNCTION showrunner_notify_models();
DROP TRIGGER IF EXISTS model_shadow_notify ON model_shadow;
CREATE TRIGGER model_shadow_notify AFTER INSERT OR UPDATE OR DELETE ON model_shadow
    FOR EACH STATEMENT EXECUTE FUNCTION showrunner_notify_models();
DROP TRIGGER IF EXISTS experiments_notify ON experiments;
CREATE TRIGGER experiments_notify AFTER INSERT OR UPDATE OR DELETE ON experiments
    FOR EACH STATEMENT EXECUTE FUNCTION showrunner_notify_models();
