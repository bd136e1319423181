-- Up Migration
-- Least privilege for the functions (lambdas/adapters/pg-roles.ts): the batch writer connects as
-- data_handler_writer, the query functions as data_handler_reader; only migrations run as the
-- owner. Neither role may change the schema, delete or rewrite records, or reach anything else.
--
-- The migrate function creates both roles, with their passwords, before this runs. Where
-- migrations run without it (`npm run migrate`, the tests' fresh databases) a missing role is
-- made here without a login, so the grants have a grantee. An owner that may not create roles
-- (no CREATEROLE) gets a warning and no grants: the local stack then runs every function as that
-- owner (see local/database-roles.ts).
DO $$
DECLARE
  missing text[] := ARRAY(
    SELECT r FROM unnest(ARRAY['data_handler_writer', 'data_handler_reader']) AS r
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r));
  role_name text;
BEGIN
  IF cardinality(missing) > 0 AND NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
    RAISE WARNING 'roles % are missing and % may not create roles: no grants made, the functions must connect as the owner', missing, current_user;
    RETURN;
  END IF;
  FOREACH role_name IN ARRAY missing LOOP
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- made meanwhile by a migration of another database on the same server
    END;
  END LOOP;

  -- PUBLIC may connect to a new database and make temporary tables in it: only the roles
  -- connect, and nobody makes anything. Only the database's owner can change that.
  IF (SELECT pg_has_role(datdba, 'MEMBER') FROM pg_database WHERE datname = current_database()) THEN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO data_handler_writer, data_handler_reader', current_database());
  ELSE
    RAISE WARNING '% does not own database %: its connect rights are left as they are', current_user, current_database();
  END IF;
  -- PostgreSQL 15 and later no longer grant this by default; a database made from an older
  -- template (or restored from an older dump) may still carry it.
  REVOKE CREATE ON SCHEMA public FROM PUBLIC;

  -- The writer inserts (ON CONFLICT DO NOTHING, RETURNING), and notes, prunes and reads refusals
  -- (lambdas/adapters/pg-record-store.ts, pg-dead-letter-log.ts; `npm run dlq` reads them too).
  GRANT SELECT, INSERT ON records TO data_handler_writer;
  GRANT SELECT, INSERT, UPDATE, DELETE ON dead_letters TO data_handler_writer;
  -- The readers page through and analyse records (lambdas/adapters/pg-record-reader.ts).
  GRANT SELECT ON records TO data_handler_reader;
END $$;

-- Down Migration
-- The roles stay: they belong to the server, and other databases on it may use them.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'data_handler_writer') THEN
    REVOKE ALL ON records, dead_letters FROM data_handler_writer;
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM data_handler_writer', current_database());
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'data_handler_reader') THEN
    REVOKE ALL ON records, dead_letters FROM data_handler_reader;
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM data_handler_reader', current_database());
  END IF;
  -- PostgreSQL's defaults for a database; CREATE on the public schema stays revoked, as in 15+.
  IF (SELECT pg_has_role(datdba, 'MEMBER') FROM pg_database WHERE datname = current_database()) THEN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
  END IF;
END $$;
