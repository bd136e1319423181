-- Up Migration
-- records becomes partitioned by the record's own date (lambdas/core/partitions.ts). A
-- redelivered record has the same date, so it meets its first copy in the same partition: the
-- primary key is (date, id), and the writer's ON CONFLICT still finds every duplicate.
--
-- Two catch-alls cover every instant from the start, so no row is ever refused for its date:
-- records_before up to the start of today (UTC) and records_after from there on. The
-- maintenance pass (npm run maintain; a schedule on AWS; every MAINTENANCE_INTERVAL_MS locally)
-- makes the fixed partitions between them and drops those past the retention.
--
-- The existing table is not copied: it becomes records_before as it is. Its rows dated today or
-- later (normally none) move to records_after first; then one index is built, (date, id), and
-- the attach scans the table once. The writer waits for the lock meanwhile and retries; uploads
-- are accepted throughout, since they go to the queue.
ALTER TABLE records RENAME TO records_before;
ALTER INDEX records_pkey RENAME TO records_before_id_key;
ALTER INDEX records_date_id_idx RENAME TO records_before_date_id_plain;
ALTER INDEX records_user_id_date_id_idx RENAME TO records_before_user_id_date_id_idx;
ALTER INDEX records_stored_at_id_idx RENAME TO records_before_stored_at_id_idx;

CREATE TABLE records (
  id          uuid        NOT NULL,
  user_id     text        NOT NULL,
  data        integer     NOT NULL,
  date        timestamptz NOT NULL,
  accepted_at timestamptz NOT NULL,
  stored_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT records_pkey PRIMARY KEY (date, id)
) PARTITION BY RANGE (date);
-- The primary key serves the keyset order on (date, id) and plain date ranges; these two serve
-- a user's records in date order, and the catch-up by stored_at.
CREATE INDEX records_user_id_date_id_idx ON records (user_id, date, id);
CREATE INDEX records_stored_at_id_idx ON records (stored_at, id);

DO $$
DECLARE
  split timestamptz := date_trunc('day', now(), 'UTC');
BEGIN
  EXECUTE format('CREATE TABLE records_after PARTITION OF records FOR VALUES FROM (%L) TO (MAXVALUE)', split);
  INSERT INTO records_after SELECT id, user_id, data, date, accepted_at, stored_at FROM records_before WHERE date >= split;
  DELETE FROM records_before WHERE date >= split;

  -- The old table's key becomes (date, id) as the parent's; its other indexes match the
  -- parent's and are attached to them rather than built again.
  CREATE UNIQUE INDEX records_before_pkey ON records_before (date, id);
  ALTER TABLE records_before DROP CONSTRAINT records_before_id_key;
  ALTER TABLE records_before ADD CONSTRAINT records_before_pkey PRIMARY KEY USING INDEX records_before_pkey;
  DROP INDEX records_before_date_id_plain;
  ALTER TABLE records_before ALTER COLUMN stored_at SET DEFAULT now();
  EXECUTE format('ALTER TABLE records ATTACH PARTITION records_before FOR VALUES FROM (MINVALUE) TO (%L)', split);

  -- The functions' roles reach the rows through the parent only (see 1765065600000_app-roles).
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'data_handler_writer') THEN
    REVOKE ALL ON records_before FROM data_handler_writer;
    GRANT SELECT, INSERT ON records TO data_handler_writer;
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'data_handler_reader') THEN
    REVOKE ALL ON records_before FROM data_handler_reader;
    GRANT SELECT ON records TO data_handler_reader;
  END IF;
END $$;

-- Down Migration
-- Back to one table, by copying: every row is kept.
CREATE TABLE records_flat (
  id          uuid        PRIMARY KEY,
  user_id     text        NOT NULL,
  data        integer     NOT NULL,
  date        timestamptz NOT NULL,
  accepted_at timestamptz NOT NULL,
  stored_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO records_flat SELECT id, user_id, data, date, accepted_at, stored_at FROM records;
DROP TABLE records;
ALTER TABLE records_flat RENAME TO records;
ALTER INDEX records_flat_pkey RENAME TO records_pkey;
CREATE INDEX records_date_id_idx ON records (date, id);
CREATE INDEX records_user_id_date_id_idx ON records (user_id, date, id);
CREATE INDEX records_stored_at_id_idx ON records (stored_at, id);
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'data_handler_writer') THEN
    GRANT SELECT, INSERT ON records TO data_handler_writer;
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'data_handler_reader') THEN
    GRANT SELECT ON records TO data_handler_reader;
  END IF;
END $$;
