-- Up Migration
-- Why the database refused a message's records, noted by the batch writer at each refusal, so
-- that the dead-letter listing (`npm run dlq`) shows the database's reason beside the message
-- once it is in the DLQ. Keyed by the SQS message id, which a move to the DLQ keeps.
CREATE TABLE dead_letters (
  message_id      text        PRIMARY KEY,
  reason          text        NOT NULL,
  sqlstate        text        NOT NULL,
  detail          text,
  constraint_name text,
  receive_count   integer     NOT NULL,
  first_seen      timestamptz NOT NULL DEFAULT now(),
  last_seen       timestamptz NOT NULL DEFAULT now()
);
-- The writer prunes notes older than the DLQ's retention by last_seen.
CREATE INDEX dead_letters_last_seen_idx ON dead_letters (last_seen);

-- Down Migration
DROP TABLE dead_letters;
