-- Up Migration
-- Monitors catch up by the time a record was stored: after a reconnect, and when a frame told
-- them what they missed (GET /api/data/records?time_field=stored_at). Rows of one batch share
-- their stored_at (the transaction's start), so the index grows at its right edge.
CREATE INDEX records_stored_at_id_idx ON records (stored_at, id);

-- Down Migration
DROP INDEX records_stored_at_id_idx;
