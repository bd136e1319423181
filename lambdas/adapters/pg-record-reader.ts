/**
 * RecordReader on PostgreSQL: keyset pages on (date, id) or (stored_at, id), and a server-side cursor for streams.
 *
 * A database that cannot be reached (refused, timed out, stalled, shutting down, out of
 * connections) is a DatabaseUnavailableError: a 503 that says to retry, not a 500.
 */
import type pg from 'pg';
import Cursor from 'pg-cursor';
import { DatabaseUnavailableError } from '../core/errors';
import type { PageKey, RecordReader, RecordScope, SeriesBucket, SortOrder, TimeField, TimeWindow } from '../core/ports';
import { SERIES_ORIGIN } from '../core/series';
import { parseTimestamp } from '../core/timestamp';
import type { StoredRecord } from '../core/record';
import { isTransientConnectionError } from './pg-errors';
import { textTimestampTypes } from './pg-record-store';

/** Rows fetched per round trip when streaming. */
const STREAM_CHUNK = 5_000;

/** One round trip that takes longer than this means a stalled database. */
export const DEFAULT_READ_TIMEOUT_MS = 20_000;

/** The rollups' grain (record_rollups: one row per user and minute, aligned to SERIES_ORIGIN). */
export const ROLLUP_GRAIN_SECONDS = 60;
const GRAIN_US = BigInt(ROLLUP_GRAIN_SECONDS) * 1_000_000n;

function micros(timestamp: string): bigint {
  const instant = parseTimestamp(timestamp);
  if (typeof instant === 'string') throw new Error('series: the window is not canonical');
  return BigInt(instant.epochMs) * 1000n + BigInt(instant.micros);
}

/** Whole epoch microseconds (a multiple of the grain) as an ISO timestamp. */
const isoOfMicros = (us: bigint) => new Date(Number(us / 1000n)).toISOString();

/**
 * The whole grain buckets inside a window `[start, end]`, as `[from, to)`; undefined when none
 * is. The grain's origin (2000-01-01) lies on a minute of the epoch, so the epoch aligns them.
 */
export function wholeGrains(window: TimeWindow): { from: string; to: string } | undefined {
  const start = micros(window.start);
  const endExclusive = micros(window.end) + 1n;
  const from = ((start + GRAIN_US - 1n) / GRAIN_US) * GRAIN_US;
  const to = (endExclusive / GRAIN_US) * GRAIN_US;
  return from < to ? { from: isoOfMicros(from), to: isoOfMicros(to) } : undefined;
}

export interface PgRecordReaderOptions {
  /**
   * How long one round trip of a stream may take. Pages get theirs from the pool's
   * `query_timeout` (see shared/reader.ts). @default DEFAULT_READ_TIMEOUT_MS
   */
  readonly readTimeoutMs?: number;
  /** Whether a series whose bucket is a whole number of grains reads the rollups. @default true */
  readonly useRollups?: boolean;
}

/** A round trip that outlived its time: the database is stalled. */
class ReadTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Whether a failure means the database is unavailable: a connection failure, node-postgres's
 * `query_timeout` ("Query read timeout"), or the pool's own wait for a connection.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (isTransientConnectionError(error)) return true;
  return error instanceof Error && /Query read timeout|timeout exceeded when trying to connect/.test(error.message);
}

function asUnavailable(error: unknown): unknown {
  return isDatabaseUnavailable(error) ? new DatabaseUnavailableError(error) : error;
}

function scopeClause(scope: RecordScope, params: unknown[]): string {
  if ('allUsers' in scope) return '';
  params.push(scope.userId);
  return ` AND user_id = $${params.length}`;
}

export class PgRecordReader implements RecordReader {
  private readonly readTimeoutMs: number;
  private readonly useRollups: boolean;

  constructor(
    private readonly pool: pg.Pool,
    options: PgRecordReaderOptions = {},
  ) {
    this.readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    this.useRollups = options.useRollups ?? true;
  }

  async page(window: TimeWindow, scope: RecordScope, limit: number, after?: PageKey, field: TimeField = 'date', order: SortOrder = 'asc'): Promise<StoredRecord[]> {
    // The column name and direction come from closed types, never from the caller's text.
    const column = field === 'stored_at' ? 'stored_at' : 'date';
    const [beyond, direction] = order === 'desc' ? ['<', 'DESC'] : ['>', 'ASC'];
    const params: unknown[] = [window.start, window.end];
    let sql = `SELECT id, user_id, data, date, accepted_at, stored_at FROM records WHERE ${column} >= $1 AND ${column} <= $2`;
    sql += scopeClause(scope, params);
    if (after) {
      params.push(after.date, after.id);
      sql += ` AND (${column}, id) ${beyond} ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
    }
    params.push(limit);
    // Both directions walk the same (column, id) index, backwards for desc.
    sql += ` ORDER BY ${column} ${direction}, id ${direction} LIMIT $${params.length}`;
    try {
      return (await this.pool.query<StoredRecord>(sql, params)).rows;
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  async series(window: TimeWindow, scope: RecordScope, bucketSeconds: number): Promise<SeriesBucket[]> {
    const grains = this.useRollups && bucketSeconds % ROLLUP_GRAIN_SECONDS === 0 ? wholeGrains(window) : undefined;
    const { sql, params } = grains ? rollupSeries(window, scope, bucketSeconds, grains) : rawSeries(window, scope, bucketSeconds);
    try {
      return (await this.pool.query<SeriesBucket>(sql, params)).rows;
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  async *stream(window: TimeWindow, scope: RecordScope): AsyncIterable<{ data: number; date: string }> {
    const params: unknown[] = [window.start, window.end];
    const sql = `SELECT data, date FROM records WHERE date >= $1 AND date <= $2${scopeClause(scope, params)} ORDER BY date, id`;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw asUnavailable(error);
    }
    // pg-cursor parses rows itself, so it gets the text timestamp parser explicitly.
    const cursor = client.query(new Cursor<{ data: number; date: string }>(sql, params, { types: textTimestampTypes }));
    let failure: Error | undefined;
    try {
      for (;;) {
        const rows = await this.withinReadTimeout(cursor.read(STREAM_CHUNK));
        if (rows.length === 0) return;
        yield* rows;
      }
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      throw asUnavailable(error);
    } finally {
      // After a failure the connection is dropped, not reused: closing a cursor on a stalled
      // connection would wait forever.
      if (!failure) await cursor.close().catch(() => undefined);
      client.release(failure);
    }
  }

  private async withinReadTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ReadTimeoutError(`Query read timeout (${this.readTimeoutMs} ms)`)), this.readTimeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The series from raw rows: one pass over the (date, id) index range of the window; date_bin
 * aligns each bucket to SERIES_ORIGIN, as core/series.ts documents. data is an integer: the
 * sums behind avg are exact.
 */
function rawSeries(window: TimeWindow, scope: RecordScope, bucketSeconds: number) {
  const params: unknown[] = [window.start, window.end, bucketSeconds, SERIES_ORIGIN];
  const sql =
    'SELECT date_bin(make_interval(secs => $3), date, $4::timestamptz) AS start, count(*)::int AS count, min(data) AS min, max(data) AS max, avg(data)::float8 AS avg' +
    ` FROM records WHERE date >= $1 AND date <= $2${scopeClause(scope, params)} GROUP BY 1 ORDER BY 1`;
  return { sql, params };
}

/**
 * The same series from the rollups, for a bucket of whole grains: the window's whole minutes
 * from record_rollups, and its ragged ends (under a minute each) from raw rows, summed per
 * bucket. Counts, minima and maxima are those of the raw query exactly; the average is the sum
 * over the count, equal within float rounding. A minute whose raw rows the retention dropped
 * still counts here, from its rollup.
 */
function rollupSeries(window: TimeWindow, scope: RecordScope, bucketSeconds: number, grains: { from: string; to: string }) {
  const params: unknown[] = [window.start, window.end, bucketSeconds, SERIES_ORIGIN, grains.from, grains.to];
  const scoped = scopeClause(scope, params);
  const bin = (column: string) => `date_bin(make_interval(secs => $3), ${column}, $4::timestamptz)`;
  const sql = `
    WITH parts AS (
      SELECT ${bin('bucket')} AS start, count, min, max, sum FROM record_rollups WHERE bucket >= $5 AND bucket < $6${scoped}
      UNION ALL
      SELECT ${bin('date')}, 1, data, data, data FROM records WHERE date >= $1 AND date < $5${scoped}
      UNION ALL
      SELECT ${bin('date')}, 1, data, data, data FROM records WHERE date >= $6 AND date <= $2${scoped}
    )
    SELECT start, sum(count)::int AS count, min(min) AS min, max(max) AS max, (sum(sum)::float8 / sum(count)::float8) AS avg
      FROM parts GROUP BY 1 ORDER BY 1`;
  return { sql, params };
}
