/**
 * RecordReader on PostgreSQL: keyset pages on (date, id) or (stored_at, id), and a server-side cursor for streams.
 *
 * A database that cannot be reached (refused, timed out, stalled, shutting down, out of
 * connections) is a DatabaseUnavailableError: a 503 that says to retry, not a 500.
 */
import type pg from 'pg';
import Cursor from 'pg-cursor';
import { DatabaseUnavailableError } from '../core/errors';
import type { PageKey, RecordReader, RecordScope, SeriesBucket, SortOrder, TimeField, TimeWindow, UserSeries } from '../core/ports';
import { MAX_SERIES_USERS, SERIES_ORIGIN } from '../core/series';
import { compareInstants, instantOf } from '../core/timestamp';
import type { StoredRecord } from '../core/record';
import { isTransientConnectionError } from './pg-errors';
import { textTimestampTypes } from './pg-record-store';

/** Rows fetched per round trip when streaming. */
const STREAM_CHUNK = 5_000;

/** One round trip that takes longer than this means a stalled database. */
export const DEFAULT_READ_TIMEOUT_MS = 20_000;

/**
 * The rollups' grains, coarsest first: record_rollups_daily, record_rollups_hourly and
 * record_rollups, one row per user and day, hour or minute, aligned to SERIES_ORIGIN.
 */
export const ROLLUP_LEVELS = [
  { seconds: 86_400, table: 'record_rollups_daily' },
  { seconds: 3_600, table: 'record_rollups_hourly' },
  { seconds: 60, table: 'record_rollups' },
] as const;
/** The finest grain: a series bucket of whole minutes reads the rollups. */
export const ROLLUP_GRAIN_SECONDS = 60;

function micros(timestamp: string): bigint {
  const instant = instantOf(timestamp);
  return BigInt(instant.epochMs) * 1000n + BigInt(instant.micros);
}

/** Whole epoch microseconds (a multiple of a grain) as an ISO timestamp. */
const isoOfMicros = (us: bigint) => new Date(Number(us / 1000n)).toISOString();

/**
 * The whole buckets of `grainSeconds` inside a window `[start, end]`, as `[from, to)`;
 * undefined when none is. The origin (2000-01-01) lies on a whole hour of the epoch, so the
 * epoch aligns them.
 */
export function wholeGrains(window: TimeWindow, grainSeconds = ROLLUP_GRAIN_SECONDS): { from: string; to: string } | undefined {
  const grain = BigInt(grainSeconds) * 1_000_000n;
  const start = micros(window.start);
  const endExclusive = micros(window.end) + 1n;
  const from = ((start + grain - 1n) / grain) * grain;
  const to = (endExclusive / grain) * grain;
  return from < to ? { from: isoOfMicros(from), to: isoOfMicros(to) } : undefined;
}

/** One piece of a window, `[from, to)` (or to the window's end, inclusive), and where it is read from. */
interface Piece {
  readonly table: string;
  readonly from: string;
  readonly to: string;
  readonly toInclusive?: boolean;
}

/**
 * A window cut into the pieces a series reads: whole days from the daily rollups, the whole
 * hours around them from the hourly ones, the whole minutes around those from the minute ones,
 * the ragged ends (under a minute each) from raw rows. Only grains that divide the bucket are
 * used, so no rollup row straddles two buckets.
 */
export function seriesPieces(window: TimeWindow, bucketSeconds: number): Piece[] {
  // The spans of whole grains, finest (and widest) first; each holds the next.
  const spans = ROLLUP_LEVELS.filter((level) => bucketSeconds % level.seconds === 0)
    .map((level) => ({ table: level.table, span: wholeGrains(window, level.seconds) }))
    .filter((s): s is { table: (typeof ROLLUP_LEVELS)[number]['table']; span: { from: string; to: string } } => s.span !== undefined)
    .reverse();
  if (spans.length === 0) return [{ table: 'records', from: window.start, to: window.end, toInclusive: true }];
  const widest = spans[0]!.span;
  const pieces: Piece[] = [
    { table: 'records', from: window.start, to: widest.from },
    { table: 'records', from: widest.to, to: window.end, toInclusive: true },
  ];
  spans.forEach(({ table, span }, i) => {
    const inner = spans[i + 1]?.span;
    if (inner) pieces.push({ table, from: span.from, to: inner.from }, { table, from: inner.to, to: span.to });
    else pieces.push({ table, from: span.from, to: span.to });
  });
  return pieces.filter((p) => {
    const order = compareInstants(instantOf(p.from), instantOf(p.to));
    return p.toInclusive ? order <= 0 : order < 0;
  });
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
    return this.read<SeriesBucket>(this.seriesQuery(window, scope, bucketSeconds, false));
  }

  async seriesByUser(window: TimeWindow, scope: RecordScope, bucketSeconds: number): Promise<UserSeries> {
    return userSeriesOf(await this.read<UserSeriesRow>(this.seriesQuery(window, scope, bucketSeconds, true)));
  }

  private seriesQuery(window: TimeWindow, scope: RecordScope, bucketSeconds: number, byUser: boolean) {
    const rollups = this.useRollups && bucketSeconds % ROLLUP_GRAIN_SECONDS === 0;
    return (rollups ? rollupSeries : rawSeries)(window, scope, bucketSeconds, byUser);
  }

  private async read<T extends pg.QueryResultRow>({ sql, params }: { sql: string; params: unknown[] }): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows;
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

/** The sums per bucket, from `per` (start, user_id, count, min, max, sum): everyone's, or by user. */
function seriesOf(per: string, byUser: boolean): string {
  const sums = 'sum(per.count)::int AS count, min(per.min) AS min, max(per.max) AS max, (sum(per.sum)::float8 / sum(per.count)::float8) AS avg';
  if (!byUser) return `WITH per AS (${per}) SELECT per.start, ${sums} FROM per GROUP BY 1 ORDER BY 1`;
  // Each bucket once for everyone (grouping 1), once per named user (rank set), once for the
  // rest (neither); `users` counts every user of the window.
  return `
    WITH per AS (${per}),
      top AS (SELECT user_id, row_number() OVER (ORDER BY sum(count) DESC, user_id) AS rank FROM per GROUP BY user_id ORDER BY rank LIMIT ${MAX_SERIES_USERS})
    SELECT per.start, top.user_id, min(top.rank)::int AS rank, GROUPING(top.user_id) = 1 AS everyone, ${sums},
      (SELECT count(DISTINCT user_id) FROM per)::int AS users
      FROM per LEFT JOIN top ON top.user_id = per.user_id
      GROUP BY GROUPING SETS ((per.start), (per.start, top.user_id)) ORDER BY 1`;
}

/**
 * The series from raw rows: one pass over the (date, id) index range of the window; date_bin
 * aligns each bucket to SERIES_ORIGIN, as core/series.ts documents. data is an integer: the
 * sums behind avg are exact.
 */
function rawSeries(window: TimeWindow, scope: RecordScope, bucketSeconds: number, byUser: boolean) {
  const params: unknown[] = [window.start, window.end, bucketSeconds, SERIES_ORIGIN];
  const per =
    `SELECT date_bin(make_interval(secs => $3), date, $4::timestamptz) AS start, ${byUser ? 'user_id' : "''::text AS user_id"},` +
    ' count(*) AS count, min(data) AS min, max(data) AS max, sum(data) AS sum' +
    ` FROM records WHERE date >= $1 AND date <= $2${scopeClause(scope, params)} GROUP BY 1, 2`;
  return { sql: seriesOf(per, byUser), params };
}

/**
 * The same series from the rollups, for a bucket of whole minutes (seriesPieces): each piece
 * summed per bucket from its table, then the pieces summed per bucket. Counts, minima and
 * maxima are those of the raw query exactly; the average is the sum over the count, equal
 * within float rounding. A window whose raw rows the retention dropped still counts here, from
 * its rollups.
 */
function rollupSeries(window: TimeWindow, scope: RecordScope, bucketSeconds: number, byUser: boolean) {
  const params: unknown[] = [bucketSeconds, SERIES_ORIGIN];
  const scoped = scopeClause(scope, params);
  const user = byUser ? 'user_id' : "''::text AS user_id";
  const parts = seriesPieces(window, bucketSeconds).map((piece) => {
    params.push(piece.from, piece.to);
    const [from, to] = [`$${params.length - 1}::timestamptz`, `$${params.length}::timestamptz`];
    const column = piece.table === 'records' ? 'date' : 'bucket';
    const range = `${column} >= ${from} AND ${column} ${piece.toInclusive ? '<=' : '<'} ${to}${scoped}`;
    const bin = `date_bin(make_interval(secs => $1), ${column}, $2::timestamptz)`;
    return piece.table === 'records'
      ? `SELECT ${bin} AS start, ${user}, 1::bigint AS count, data AS min, data AS max, data::bigint AS sum FROM records WHERE ${range}`
      : `SELECT ${bin} AS start, ${user}, count, min, max, sum FROM ${piece.table} WHERE ${range}`;
  });
  const per = `SELECT start, user_id, sum(count) AS count, min(min) AS min, max(max) AS max, sum(sum) AS sum
      FROM (${parts.join('\n      UNION ALL ')}) AS parts GROUP BY 1, 2`;
  return { sql: seriesOf(per, byUser), params };
}

interface UserSeriesRow extends SeriesBucket {
  readonly user_id: string | null;
  readonly rank: number | null;
  readonly everyone: boolean;
  readonly users: number;
}

/** seriesOf's rows, by bucket, into everyone's buckets, each named user's and the rest's. */
function userSeriesOf(rows: readonly UserSeriesRow[]): UserSeries {
  const bucketOf = ({ start, count, min, max, avg }: UserSeriesRow): SeriesBucket => ({ start, count, min, max, avg });
  const buckets: SeriesBucket[] = [];
  const users: { user_id: string; buckets: SeriesBucket[] }[] = [];
  const others: SeriesBucket[] = [];
  for (const row of rows) {
    if (row.everyone) buckets.push(bucketOf(row));
    else if (row.rank === null) others.push(bucketOf(row));
    else (users[row.rank - 1] ??= { user_id: row.user_id!, buckets: [] }).buckets.push(bucketOf(row));
  }
  const total = rows[0]?.users ?? 0;
  return { buckets, users, other_users: total > users.length ? { users: total - users.length, buckets: others } : null };
}
