/**
 * The record reader the query functions share: a small pool to the database, of their own
 * (one per execution environment, never the writer's), so a burst of writes cannot starve
 * reads and a stalled read never holds a writer's connection.
 *
 * Built inside each handler's `deferred` wiring, which keeps a successful build and retries a
 * failed one. Nothing here may cache a promise of its own: a cached rejection (say, Secrets
 * Manager unreachable at one cold start) would fail every later invocation of the environment.
 */
import { createPool } from '../adapters/pg-record-store';
import { DEFAULT_READ_TIMEOUT_MS, PgRecordReader } from '../adapters/pg-record-reader';
import { databaseConfig } from './database';
import { QueryEnv, readEnv } from './env';

export async function readerFromEnv(): Promise<PgRecordReader> {
  const env = readEnv(QueryEnv);
  const database = await databaseConfig();
  // A query that gets no answer within the read timeout fails (and its connection is dropped),
  // so a stalled database is answered with a 503 well inside the function's 29 s.
  const connection = { ...database.config, query_timeout: DEFAULT_READ_TIMEOUT_MS };
  return new PgRecordReader(createPool({ connection, ssl: database.ssl, max: env.DATABASE_POOL_MAX }), { readTimeoutMs: DEFAULT_READ_TIMEOUT_MS });
}
