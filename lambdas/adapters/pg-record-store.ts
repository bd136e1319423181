/**
 * RecordStore on PostgreSQL: one INSERT … SELECT FROM unnest(…) per batch, idempotent on id.
 * Failures are typed: refused data (a constraint, a bad value) apart from everything else.
 */
import pg from 'pg';
import { RecordsRefusedError, StoreUnavailableError } from '../core/errors';
import { canonicalTimestamp } from '../core/timestamp';
import type { RecordStore, RecordToStore } from '../core/ports';
import type { StoredRecord } from '../core/record';
import { dataRefusalOf, isTransientConnectionError } from './pg-errors';

const TIMESTAMPTZ_OID = 1184;

/**
 * Type parsers that keep timestamptz as text. node-postgres would build a JS Date, which drops
 * the microseconds. The text carries the session's offset (`+00`, `+02`, `+05:30`), so it is
 * re-spelled in canonical UTC whatever the server's TimeZone; no session option is needed,
 * which keeps RDS Proxy from pinning connections.
 */
export const textTimestampTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID) return (value: string) => pgTimestampToIso(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** `2001-01-01 00:00:00.123456+00` → `2001-01-01T00:00:00.123456Z`. */
export function pgTimestampToIso(value: string): string {
  return canonicalTimestamp(value.replace(' ', 'T'));
}

export interface PgPoolOptions {
  /** A URL, or the settings of a connection (host, user, a password callback, …). */
  readonly connection: string | pg.ClientConfig;
  /** Connections at most; a Lambda runs one batch at a time, so 2 is plenty there. */
  readonly max?: number;
  /**
   * TLS for RDS: 'require' verifies nothing, 'verify-full' checks the certificate chain and
   * that it names the host. With no `caPem`, the chain must end in Node's root store, to which
   * NODE_EXTRA_CA_CERTS adds (on Lambda, /var/runtime/ca-cert.pem holds the RDS CAs).
   */
  readonly ssl?: 'disable' | 'require' | 'verify-full';
  /** Trust only these CAs (PEM) instead of the root store. @default - the root store */
  readonly caPem?: string;
}

/** node-postgres TLS settings for a DATABASE_SSL mode. */
export function sslOptions(mode: PgPoolOptions['ssl'], caPem?: string): pg.ClientConfig['ssl'] {
  if (mode === 'require') return { rejectUnauthorized: false };
  if (mode === 'verify-full') return { rejectUnauthorized: true, ...(caPem ? { ca: caPem } : {}) };
  return undefined;
}

/** A pool that returns timestamps as canonical UTC text. */
export function createPool(options: PgPoolOptions): pg.Pool {
  const ssl = sslOptions(options.ssl, options.caPem);
  const pool = new pg.Pool({
    ...(typeof options.connection === 'string' ? { connectionString: options.connection } : options.connection),
    max: options.max ?? 2,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    types: textTimestampTypes,
    ...(ssl ? { ssl } : {}),
  });
  // An idle connection that the server ends (restart, failover) must not crash the process;
  // the pool drops it and the next query opens a new one.
  pool.on('error', () => undefined);
  return pool;
}

const INSERT_BATCH = `
  INSERT INTO records (id, user_id, data, date, accepted_at)
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::timestamptz[], $5::timestamptz[])
  ON CONFLICT (id) DO NOTHING
  RETURNING id, user_id, data, date, accepted_at, stored_at`;

const FIND_STORED = 'SELECT id, user_id, data, date, accepted_at, stored_at FROM records WHERE id = ANY($1::uuid[])';

export class PgRecordStore implements RecordStore {
  constructor(private readonly pool: pg.Pool) {}

  async insertBatch(records: readonly RecordToStore[]): Promise<StoredRecord[]> {
    if (records.length === 0) return [];
    try {
      // One statement is one implicit transaction: the batch is stored whole or not at all.
      const result = await this.pool.query<StoredRecord>(INSERT_BATCH, [
        records.map((r) => r.id),
        records.map((r) => r.user_id),
        records.map((r) => r.data),
        records.map((r) => r.date),
        records.map((r) => r.accepted_at),
      ]);
      return result.rows;
    } catch (error) {
      const refusal = dataRefusalOf(error);
      if (refusal) throw new RecordsRefusedError(refusal, error);
      throw new StoreUnavailableError(error, isTransientConnectionError(error));
    }
  }

  async findStored(ids: readonly string[]): Promise<StoredRecord[]> {
    if (ids.length === 0) return [];
    try {
      return (await this.pool.query<StoredRecord>(FIND_STORED, [ids])).rows;
    } catch (error) {
      throw new StoreUnavailableError(error, isTransientConnectionError(error));
    }
  }
}
