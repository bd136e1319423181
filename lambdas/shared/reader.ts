/**
 * The record reader the query functions share: a small pool to the database, built once.
 */
import { createPool } from '../adapters/pg-record-store';
import { PgRecordReader } from '../adapters/pg-record-reader';
import { databaseConfig } from './database';
import { once, QueryEnv, readEnv } from './env';

export const readerFromEnv = once(async () => {
  const env = readEnv(QueryEnv);
  const database = await databaseConfig();
  return new PgRecordReader(createPool({ connection: database.config, ssl: database.ssl, max: env.DATABASE_POOL_MAX }));
});
