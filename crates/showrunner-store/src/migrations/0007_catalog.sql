-- Migration 7: what the take rate reads. A play citing a recommendation's `request_id` is
-- matched to the impressions of that request by (request, member, title); the index is
-- partial, so plays that cite no request (most of them) cost nothing more at ingest.
CREATE INDEX IF NOT EXISTS plays_by_request ON plays (request_id, member_key, title_key)
    WHERE request_id IS NOT NULL;
