-- Up Migration
-- Per-user rollups of records at a one-minute grain (count, min, max and sum of data), for the
-- series over long windows (lambdas/adapters/pg-record-reader.ts). Partitioned by the bucket's
-- start like records (lambdas/core/partitions.ts), with catch-alls before and after, so that
-- ROLLUP_RETENTION_DAYS drops whole partitions too.
--
-- They are kept in the transaction that stores the records: a statement trigger on records adds
-- the rows that statement actually inserted (its transition table), whichever way they went in
-- (COPY, or INSERT … ON CONFLICT DO NOTHING, whose skipped duplicates are not in it). So a
-- redelivered batch adds nothing twice, any writer version keeps them, and a record older than
-- the raw retention still counts. The trigger runs as the owner: the functions' roles get no
-- right on the rollups but to read them.
CREATE TABLE record_rollups (
  bucket  timestamptz NOT NULL,
  user_id text        NOT NULL,
  count   bigint      NOT NULL,
  min     integer     NOT NULL,
  max     integer     NOT NULL,
  sum     bigint      NOT NULL,
  CONSTRAINT record_rollups_pkey PRIMARY KEY (bucket, user_id)
) PARTITION BY RANGE (bucket);
CREATE INDEX record_rollups_user_id_bucket_idx ON record_rollups (user_id, bucket);

CREATE FUNCTION roll_up_inserted_records() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  -- Rows that maintenance moves between partitions were counted when they were first stored.
  IF current_setting('data_handler.moving_rows', true) = 'on' THEN
    RETURN NULL;
  END IF;
  -- In key order, so that writers that share buckets take their row locks in one order.
  INSERT INTO record_rollups AS r (bucket, user_id, count, min, max, sum)
  SELECT date_bin('1 minute', date, timestamptz '2000-01-01 00:00:00+00'), user_id, count(*), min(data), max(data), sum(data)
    FROM inserted
   GROUP BY 1, 2
   ORDER BY 1, 2
  ON CONFLICT (bucket, user_id) DO UPDATE
    SET count = r.count + EXCLUDED.count,
        min = LEAST(r.min, EXCLUDED.min),
        max = GREATEST(r.max, EXCLUDED.max),
        sum = r.sum + EXCLUDED.sum;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION roll_up_inserted_records() FROM PUBLIC;

DO $$
DECLARE
  split timestamptz := date_trunc('day', now(), 'UTC');
BEGIN
  EXECUTE format('CREATE TABLE record_rollups_before PARTITION OF record_rollups FOR VALUES FROM (MINVALUE) TO (%L)', split);
  EXECUTE format('CREATE TABLE record_rollups_after PARTITION OF record_rollups FOR VALUES FROM (%L) TO (MAXVALUE)', split);
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'data_handler_reader') THEN
    GRANT SELECT ON record_rollups TO data_handler_reader;
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

-- Down Migration
DROP TRIGGER records_roll_up ON records;
DROP FUNCTION roll_up_inserted_records();
DROP TABLE record_rollups;
