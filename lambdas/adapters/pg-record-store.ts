/**
 * RecordStore on PostgreSQL, idempotent on (date, id), the partitioned table's key (a record
 * keeps its date when it is delivered again), one transaction per batch:
 * - a batch of COPY_MIN_RECORDS or more goes in with `COPY … FROM STDIN` straight into
 *   `records`, the fastest way PostgreSQL takes rows. A batch of new rows (the common case) is
 *   then stored at COPY's own rate, and every row is new, with the transaction's `now()` as its
 *   stored_at. When an id is already there (a redelivery), the COPY fails on the primary key,
 *   rolls back, and the batch goes through the statement below instead;
 * - otherwise one INSERT … SELECT FROM unnest(…) ON CONFLICT (date, id) DO NOTHING RETURNING: a single
 *   round trip, which wins for small batches (bench: bulk-insert measures the crossover).
 * Failures are typed: refused data (a constraint, a bad value) apart from everything else.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { RecordsRefusedError, StoreUnavailableError } from '../core/errors';
import { canonicalTimestamp, canonicalValidated } from '../core/timestamp';
import type { RecordStore, RecordToStore, StoredKey } from '../core/ports';
import type { StoredRecord } from '../core/record';
import { dataRefusalOf, isTransientConnectionError, sqlstateOf } from './pg-errors';

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
  ON CONFLICT (date, id) DO NOTHING
  RETURNING id, user_id, data, date, accepted_at, stored_at`;

// By (date, id), the primary key: each key is looked up in its own date's partition only.
const FIND_STORED = `
  SELECT r.id, r.user_id, r.data, r.date, r.accepted_at, r.stored_at
  FROM unnest($1::uuid[], $2::timestamptz[]) AS k(id, date)
  JOIN records r ON r.date = k.date AND r.id = k.id`;

const COPY_RECORDS = 'COPY records (id, user_id, data, date, accepted_at) FROM STDIN';

/**
 * Batches at least this long go in with COPY. Measured with bench/bulk-insert.ts on 2 cores:
 * unnest wins at 1 record a batch (1 round trip against 3), the two tie at 10, and COPY leads
 * from 25 (0.83× of raw COPY against 0.74×), by 50 (0.93× against 0.60×) and more from there.
 */
export const COPY_MIN_RECORDS = 20;

/** A partition's primary key (records_p20241001_pkey, records_before_pkey, …), as a refusal names it. */
const PARTITION_KEY = /^records(_\w+)?_pkey$/;

/** The primary key refused a row: some record of the batch is stored already. */
const isDuplicateId = (error: unknown) => sqlstateOf(error) === '23505' && PARTITION_KEY.test((error as { constraint?: string }).constraint ?? '');

/** COPY's text format: tab-separated, with backslash, tab, newline and return escaped. */
function copyField(text: string): string {
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : text;
}

/** The batch as COPY text, in chunks of rows (one string per 1000 rows). */
function* copyRows(records: readonly RecordToStore[]): Generator<string> {
  for (let i = 0; i < records.length; i += 1000) {
    let chunk = '';
    for (const r of records.slice(i, i + 1000)) chunk += `${r.id}\t${copyField(r.user_id)}\t${r.data}\t${r.date}\t${r.accepted_at}\n`;
    yield chunk;
  }
}

export interface PgRecordStoreOptions {
  /** Batches at least this long go in with COPY; Infinity never uses it. @default COPY_MIN_RECORDS */
  readonly copyMinRecords?: number;
}

export class PgRecordStore implements RecordStore {
  private readonly copyMinRecords: number;

  constructor(
    private readonly pool: pg.Pool,
    options: PgRecordStoreOptions = {},
  ) {
    this.copyMinRecords = options.copyMinRecords ?? COPY_MIN_RECORDS;
  }

  async insertBatch(records: readonly RecordToStore[]): Promise<StoredRecord[]> {
    if (records.length === 0) return [];
    try {
      if (records.length >= this.copyMinRecords) {
        const copied = await this.copyNew(records);
        if (copied) return copied;
      }
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

  /**
   * COPYs a batch of new rows in one transaction; resolves undefined (nothing stored) when an id
   * exists already. stored_at is the column's default, the transaction's now(), read in it.
   */
  private async copyNew(records: readonly RecordToStore[]): Promise<StoredRecord[] | undefined> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const [, now] = (await client.query('BEGIN; SELECT now() AS stored_at')) as unknown as [pg.QueryResult, pg.QueryResult<{ stored_at: string }>];
      await pipeline(Readable.from(copyRows(records)), client.query(copyFrom(COPY_RECORDS)));
      await client.query('COMMIT');
      const storedAt = now.rows[0]!.stored_at;
      return records.map((r) => ({ id: r.id, user_id: r.user_id, data: r.data, date: canonicalValidated(r.date), accepted_at: canonicalValidated(r.accepted_at), stored_at: storedAt }));
    } catch (error) {
      // A connection that cannot even roll back is dropped from the pool, not reused.
      await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
      if (isDuplicateId(error)) return undefined;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async findStored(keys: readonly StoredKey[]): Promise<StoredRecord[]> {
    if (keys.length === 0) return [];
    try {
      return (await this.pool.query<StoredRecord>(FIND_STORED, [keys.map((k) => k.id), keys.map((k) => k.date)])).rows;
    } catch (error) {
      throw new StoreUnavailableError(error, isTransientConnectionError(error));
    }
  }
}
