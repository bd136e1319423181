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
import type { StoredRecord } from '../core/record';
import { isTransientConnectionError } from './pg-errors';
import { textTimestampTypes } from './pg-record-store';

/** Rows fetched per round trip when streaming. */
const STREAM_CHUNK = 5_000;

/** One round trip that takes longer than this means a stalled database. */
export const DEFAULT_READ_TIMEOUT_MS = 20_000;

export interface PgRecordReaderOptions {
  /**
   * How long one round trip of a stream may take. Pages get theirs from the pool's
   * `query_timeout` (see shared/reader.ts). @default DEFAULT_READ_TIMEOUT_MS
   */
  readonly readTimeoutMs?: number;
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

  constructor(
    private readonly pool: pg.Pool,
    options: PgRecordReaderOptions = {},
  ) {
    this.readTimeoutMs = options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
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
    // One pass over the (date, id) index range of the window; date_bin aligns each bucket to
    // SERIES_ORIGIN, as core/series.ts documents. data is an integer: the sums behind avg are exact.
    const params: unknown[] = [window.start, window.end, bucketSeconds, SERIES_ORIGIN];
    const sql =
      'SELECT date_bin(make_interval(secs => $3), date, $4::timestamptz) AS start, count(*)::int AS count, min(data) AS min, max(data) AS max, avg(data)::float8 AS avg' +
      ` FROM records WHERE date >= $1 AND date <= $2${scopeClause(scope, params)} GROUP BY 1 ORDER BY 1`;
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
