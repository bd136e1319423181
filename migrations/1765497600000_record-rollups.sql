-- Up Migration
-- Per-user rollups of records at three grains, a minute, an hour and a day (record_rollups,
-- record_rollups_hourly, record_rollups_daily): count, min, max and sum of data, for the series
-- over long windows (lambdas/adapters/pg-record-reader.ts reads each window's whole days, hours
-- and minutes from the coarsest that fits), so that a series over a year or forty years stays
-- small whatever the records' density. Each is partitioned by the bucket's start like records
-- (lambdas/core/partitions.ts), with catch-alls before and after, so that ROLLUP_RETENTION_DAYS
-- drops whole partitions too.
--
-- They are kept in the transaction that stores the records: a statement trigger on records adds
-- the rows that statement actually inserted (its transition table), whichever way they went in
-- (COPY, or INSERT … ON CONFLICT DO NOTHING, whose skipped duplicates are not in it). So a
-- redelivered batch adds nothing twice, any writer version keeps them, and a record older than
-- the raw retention still counts. The trigger runs as the owner: the functions' roles get no
-- right on the rollups but to read them.
--
-- Each has its key, (user_id, bucket), for one user's series, and an index on bucket for a
-- series of all users.
CREATE TABLE record_rollups (
  bucket  timestamptz NOT NULL,
  user_id text        NOT NULL,
  count   bigint      NOT NULL,
  min     integer     NOT NULL,
  max     integer     NOT NULL,
  sum     bigint      NOT NULL,
  CONSTRAINT record_rollups_pkey PRIMARY KEY (user_id, bucket)
) PARTITION BY RANGE (bucket);
CREATE INDEX record_rollups_bucket_idx ON record_rollups (bucket);
CREATE TABLE record_rollups_hourly (LIKE record_rollups, CONSTRAINT record_rollups_hourly_pkey PRIMARY KEY (user_id, bucket)) PARTITION BY RANGE (bucket);
CREATE INDEX record_rollups_hourly_bucket_idx ON record_rollups_hourly (bucket);
CREATE TABLE record_rollups_daily (LIKE record_rollups, CONSTRAINT record_rollups_daily_pkey PRIMARY KEY (user_id, bucket)) PARTITION BY RANGE (bucket);
CREATE INDEX record_rollups_daily_bucket_idx ON record_rollups_daily (bucket);

CREATE FUNCTION roll_up_inserted_records() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  -- Rows that maintenance moves between partitions were counted when they were first stored.
  IF current_setting('data_handler.moving_rows', true) = 'on' THEN
    RETURN NULL;
  END IF;
  -- The inserted rows summed by the minute once; the hour and the day sum those. Each table is
  -- written in key order, so that writers that share buckets take their row locks in one order.
  -- The three upserts differ only in their table and grain (a static statement keeps its plan).
  WITH minutes AS (
    SELECT date_bin('1 minute', date, timestamptz '2000-01-01 00:00:00+00') AS bucket, user_id, count(*) AS count, min(data) AS min, max(data) AS max, sum(data) AS sum
      FROM inserted GROUP BY 1, 2
  ), by_minute AS (
    INSERT INTO record_rollups AS r SELECT * FROM minutes ORDER BY user_id, bucket
    ON CONFLICT (user_id, bucket) DO UPDATE
      SET count = r.count + EXCLUDED.count, min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max), sum = r.sum + EXCLUDED.sum
  ), by_hour AS (
    INSERT INTO record_rollups_hourly AS r
    SELECT date_bin('1 hour', bucket, timestamptz '2000-01-01 00:00:00+00'), user_id, sum(count), min(min), max(max), sum(sum) FROM minutes GROUP BY 1, 2 ORDER BY 2, 1
    ON CONFLICT (user_id, bucket) DO UPDATE
      SET count = r.count + EXCLUDED.count, min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max), sum = r.sum + EXCLUDED.sum
  )
  INSERT INTO record_rollups_daily AS r
  SELECT date_bin('1 day', bucket, timestamptz '2000-01-01 00:00:00+00'), user_id, sum(count), min(min), max(max), sum(sum) FROM minutes GROUP BY 1, 2 ORDER BY 2, 1
  ON CONFLICT (user_id, bucket) DO UPDATE
    SET count = r.count + EXCLUDED.count, min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max), sum = r.sum + EXCLUDED.sum;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION roll_up_inserted_records() FROM PUBLIC;

DO $$
DECLARE
  split timestamptz := date_trunc('day', now(), 'UTC');
  tbl text;
BEGIN
  FOREACH tbl IN ARRAY ARRAY['record_rollups', 'record_rollups_hourly', 'record_rollups_daily'] LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (MINVALUE) TO (%L)', tbl || '_before', tbl, split);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (MAXVALUE)', tbl || '_after', tbl, split);
  END LOOP;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'data_handler_reader') THEN
    GRANT SELECT ON record_rollups, record_rollups_hourly, record_rollups_daily TO data_handler_reader;
  END IF;
END $$;

-- The rows stored so far, rolled up in the same transaction that starts the trigger: inserts
-- wait for it (SHARE mode), so no row is counted twice or missed.
LOCK TABLE records IN SHARE MODE;
CREATE TRIGGER records_roll_up AFTER INSERT ON records REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION roll_up_inserted_records();
INSERT INTO record_rollups (bucket, user_id, count, min, max, sum)
SELECT date_bin('1 minute', date, timestamptz '2000-01-01 00:00:00+00'), user_id, count(*), min(data), max(data), sum(data)
  FROM records
 GROUP BY 1, 2;
INSERT INTO record_rollups_hourly (bucket, user_id, count, min, max, sum)
SELECT date_bin('1 hour', bucket, timestamptz '2000-01-01 00:00:00+00'), user_id, sum(count), min(min), max(max), sum(sum)
  FROM record_rollups
 GROUP BY 1, 2;
INSERT INTO record_rollups_daily (bucket, user_id, count, min, max, sum)
SELECT date_bin('1 day', bucket, timestamptz '2000-01-01 00:00:00+00'), user_id, sum(count), min(min), max(max), sum(sum)
  FROM record_rollups_hourly
 GROUP BY 1, 2;

-- Down Migration
DROP TRIGGER records_roll_up ON records;
DROP FUNCTION roll_up_inserted_records();
DROP TABLE record_rollups_daily;
DROP TABLE record_rollups_hourly;
DROP TABLE record_rollups;
