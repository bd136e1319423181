/**
 * The record reader the query functions share: a small pool to the database.
 *
 * Built inside each handler's `deferred` wiring, which keeps a successful build and retries a
 * failed one. Nothing here may cache a promise of its own: a cached rejection (say, Secrets
 * Manager unreachable at one cold start) would fail every later invocation of the environment.
 */
import { createPool } from '../adapters/pg-record-store';
import { PgRecordReader } from '../adapters/pg-record-reader';
import { databaseConfig } from './database';
import { QueryEnv, readEnv } from './env';

export async function readerFromEnv(): Promise<PgRecordReader> {
  const env = readEnv(QueryEnv);
  const database = await databaseConfig();
  return new PgRecordReader(createPool({ connection: database.config, ssl: database.ssl, max: env.DATABASE_POOL_MAX }));
}
