-- Up Migration
-- Queries page on (date, id) and filter by user: these indexes serve both the keyset order and
-- the plain date ranges that the (date) and (user_id, date) indexes served.
CREATE INDEX records_date_id_idx ON records (date, id);
CREATE INDEX records_user_id_date_id_idx ON records (user_id, date, id);
DROP INDEX records_date_idx;
DROP INDEX records_user_id_date_idx;

-- Down Migration
CREATE INDEX records_date_idx ON records (date);
CREATE INDEX records_user_id_date_idx ON records (user_id, date);
DROP INDEX records_date_id_idx;
DROP INDEX records_user_id_date_id_idx;
