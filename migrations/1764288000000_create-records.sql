-- Up Migration
CREATE TABLE records (
  id          uuid        PRIMARY KEY,
  user_id     text        NOT NULL,
  data        integer     NOT NULL,
  date        timestamptz NOT NULL,
  accepted_at timestamptz NOT NULL,
  stored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX records_date_idx ON records (date);
CREATE INDEX records_user_id_date_idx ON records (user_id, date);

-- Down Migration
DROP TABLE records;
