-- Migration 7 for PostgreSQL (see the SQLite migration of the same number): plays by the
-- recommendation request they cite, partial so that plays citing none cost nothing more.
CREATE INDEX plays_by_request ON plays (request_id, member_id, title_id)
    WHERE request_id IS NOT NULL;
