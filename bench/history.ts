/**
 * Months of data: `records` partitioned by day with its rollups, loaded with COPY over a year
 * (10,000,000 records by default), then each target beside its baseline from the same run:
 * - the series over the year from the rollups, beside the same aggregate scanned from raw rows;
 * - a one-day records page at 10M rows, beside the same page when the table held 100k, as the
 *   client sees it and in the server alone;
 * - retention: dropping a day of 1,000,000 rows (its partition), beside a DELETE of another
 *   such day, and the database's size on disk after each, with no VACUUM;
 * - the catch-all's cost: a pass that makes a partition while `records_after` holds a day of
 *   far-future rows, and how long an insert waits for it.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { maintainPartitions, RECORDS_TABLE } from '../lambdas/adapters/pg-partitions';
import { PgRecordReader } from '../lambdas/adapters/pg-record-reader';
import { createPool, PgRecordStore } from '../lambdas/adapters/pg-record-store';
import { recordsToStore } from '../test/fixtures/records';
import { DAY_MS, gridFloor, partitionName } from '../lambdas/core/partitions';
import { median } from './stats';
import { formatBytes, formatCount, formatFixed, formatRatio, type BenchTable } from './table';

export interface HistoryOptions {
  /** A freshly migrated database of its own. */
  readonly databaseUrl: string;
  /** Records over the year. @default 10_000_000 */
  readonly records?: number;
  /** Records in each of the two days of the retention measurement. @default 1_000_000 */
  readonly retentionDayRecords?: number;
  /** Timed repeats of each query. @default 5 */
  readonly runs?: number;
}

const USERS = 10;
const YEAR_DAYS = 365;

/**
 * COPYs `count` records spread evenly over `[fromMs, fromMs + spanMs)`, with no trigger (the
 * rollups are built after, in one statement), from a worker thread (bench/history-load.mjs).
 */
async function load(databaseUrl: string, count: number, fromMs: number, spanMs: number): Promise<void> {
  const worker = new Worker(new URL('./history-load.mjs', import.meta.url), { workerData: { databaseUrl, count, fromMs, spanMs, users: USERS } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`history: the loader exited with code ${code}`))));
  });
}

/**
 * Median ms of `runs` calls, after one untimed call, the garbage collected first where the
 * runtime allows it (`--expose-gc`, as `npm run bench` starts it).
 */
async function timed(runs: number, work: () => Promise<unknown>): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  await work();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

export async function runHistoryBench(options: HistoryOptions): Promise<BenchTable> {
  const total = options.records ?? 10_000_000;
  const dayRecords = options.retentionDayRecords ?? 1_000_000;
  const runs = options.runs ?? 5;
  const pool = createPool({ connection: options.databaseUrl, max: 2 });
  const size = async () => Number((await pool.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n);
  try {
    // Day partitions from today over the year and the two retention days after it.
    const start = gridFloor(Date.now(), DAY_MS);
    const client = await pool.connect();
    await maintainPartitions(client, [{ spec: RECORDS_TABLE, settings: { sizeMs: DAY_MS, ahead: YEAR_DAYS + 3 } }], Date.now()).finally(() => client.release());

    const reader = new PgRecordReader(pool);
    const raw = new PgRecordReader(pool, { useRollups: false });
    const year = { start: new Date(start).toISOString(), end: new Date(start + YEAR_DAYS * DAY_MS - 1).toISOString() };
    const day = { start: new Date(start + 100 * DAY_MS).toISOString(), end: new Date(start + 101 * DAY_MS - 1).toISOString() };
    const page = () => reader.page(day, { userId: 'user-3' }, 1000);
    // The same page's time in the server: planned, executed and its rows serialized (EXPLAIN
    // ANALYZE with SERIALIZE, PostgreSQL 17), the part the table's size could change.
    const serverMs = async () => {
      const sql = `EXPLAIN (ANALYZE, SERIALIZE TEXT, FORMAT JSON) SELECT id, user_id, data, date, accepted_at, stored_at FROM records
        WHERE date >= $1 AND date <= $2 AND user_id = $3 ORDER BY date, id LIMIT 1000`;
      const samples: number[] = [];
      for (let i = 0; i < 15; i++) {
        const [plan] = (await pool.query<{ 'QUERY PLAN': { 'Planning Time': number; 'Execution Time': number; Serialization: { Time: number } }[] }>(sql, [day.start, day.end, 'user-3'])).rows[0]!['QUERY PLAN'];
        samples.push(plan!['Planning Time'] + plan!['Execution Time'] + plan!.Serialization.Time);
      }
      return median(samples);
    };

    // The one-day page when the table holds that day's 100k rows alone, then once the other
    // days of the year hold the rest: the same day, the same page, a table 100 times larger.
    const small = Math.min(100_000, total);
    const dayStart = start + 100 * DAY_MS;
    await load(options.databaseUrl, small, dayStart, DAY_MS);
    await pool.query('VACUUM ANALYZE records');
    // A page takes a few ms, most of it the client's: more runs steady its median.
    const pageRuns = Math.max(15, runs);
    const pageSmall = await timed(pageRuns, page);
    const serverSmall = await serverMs();
    const loadStarted = performance.now();
    const before = Math.round(((total - small) * 100) / (YEAR_DAYS - 1));
    await load(options.databaseUrl, before, start, 100 * DAY_MS);
    await load(options.databaseUrl, total - small - before, dayStart + DAY_MS, (YEAR_DAYS - 101) * DAY_MS);
    // The rollups as the migration builds them from stored rows (the COPY above ran without the trigger).
    for (const [table, grain] of [['record_rollups', '1 minute'], ['record_rollups_hourly', '1 hour'], ['record_rollups_daily', '1 day']] as const) {
      await pool.query(`INSERT INTO ${table} (bucket, user_id, count, min, max, sum)
        SELECT date_bin('${grain}', date, timestamptz '2000-01-01 00:00:00+00'), user_id, count(*), min(data), max(data), sum(data) FROM records GROUP BY 1, 2`);
    }
    await pool.query('VACUUM ANALYZE records, record_rollups');
    // The load's dirty buffers written out now, not by the checkpointer while the page is timed.
    await pool.query('CHECKPOINT');
    const loadMs = performance.now() - loadStarted;
    const pageLarge = await timed(pageRuns, page);
    const serverLarge = await serverMs();

    // The series over the year, daily buckets, all users: rollups against raw rows.
    const fromRollups = await timed(runs, () => reader.series(year, { allUsers: true }, 86_400));
    const fromRows = await timed(Math.min(runs, 3), () => raw.series(year, { allUsers: true }, 86_400));
    const [a, b] = [await reader.series(year, { allUsers: true }, 86_400), await raw.series(year, { allUsers: true }, 86_400)];
    if (JSON.stringify(a.map((x) => [x.start, x.count, x.min, x.max])) !== JSON.stringify(b.map((x) => [x.start, x.count, x.min, x.max]))) throw new Error('history: the series from the rollups differs from the raw one');
    const stored = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM records')).rows[0]!.n);
    const bytesOf = async (table: string) =>
      Number((await pool.query<{ n: string }>('SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) AS n FROM pg_inherits WHERE inhparent = to_regclass($1)', [table])).rows[0]!.n);
    const recordBytes = (await bytesOf('records')) / stored;
    const rollupBytes = ((await bytesOf('record_rollups')) + (await bytesOf('record_rollups_hourly')) + (await bytesOf('record_rollups_daily'))) / stored;

    // One maintenance pass "two days on" with a retention of a day: it drops the first day.
    const passClient = await pool.connect();
    const passStarted = performance.now();
    const [passReport] = (await maintainPartitions(passClient, [{ spec: RECORDS_TABLE, settings: { sizeMs: DAY_MS, ahead: YEAR_DAYS + 3, retentionDays: 1 } }], start + 2 * DAY_MS + 1).finally(() => passClient.release()))!;
    const passMs = performance.now() - passStarted;

    // The catch-all's cost: a pass that makes the next day while records_after holds a day of
    // rows dated 2090 (they stay) and a hundredth of that for the new day (they move). Its step
    // locks records whole; a one-row insert sent meanwhile shows how long a writer waits.
    const nearRows = Math.max(1, Math.round(dayRecords / 100));
    const nextDay = start + (YEAR_DAYS + 6) * DAY_MS; // where records_after begins after the pass above
    await load(options.databaseUrl, dayRecords, Date.parse('2090-01-01T00:00:00Z'), DAY_MS);
    await load(options.databaseUrl, nearRows, nextDay, DAY_MS);
    await pool.query('VACUUM ANALYZE records_after');
    await pool.query('CHECKPOINT');
    const store = new PgRecordStore(pool);
    const extendClient = await pool.connect();
    const extendStarted = performance.now();
    const extending = maintainPartitions(extendClient, [{ spec: RECORDS_TABLE, settings: { sizeMs: DAY_MS, ahead: YEAR_DAYS + 3 } }], start + 3 * DAY_MS + 1).finally(() => extendClient.release());
    await new Promise((resolve) => setTimeout(resolve, 5));
    const insertStarted = performance.now();
    await store.insertBatch(recordsToStore(1, { userId: 'user-1', start: new Date(start + 200 * DAY_MS).toISOString() }));
    const insertWaitMs = performance.now() - insertStarted;
    const [extendReport] = (await extending)!;
    const extendMs = performance.now() - extendStarted;
    if (extendReport!.created.length !== 1 || extendReport!.moved !== nearRows) throw new Error(`history: the pass made ${extendReport!.created.length} partitions and moved ${extendReport!.moved} rows`);

    // Retention: two days of dayRecords each, after the year; one dropped whole, one deleted.
    const [dropDay, deleteDay] = [start + (YEAR_DAYS + 1) * DAY_MS, start + (YEAR_DAYS + 2) * DAY_MS];
    await load(options.databaseUrl, dayRecords, dropDay, DAY_MS);
    await load(options.databaseUrl, dayRecords, deleteDay, DAY_MS);
    await pool.query('CHECKPOINT');
    const sizeLoaded = await size();
    let started = performance.now();
    await pool.query(`DROP TABLE ${partitionName('records', dropDay, DAY_MS)}`);
    const dropMs = performance.now() - started;
    const sizeAfterDrop = await size();
    started = performance.now();
    const deleted = await pool.query('DELETE FROM records WHERE date >= $1 AND date < $2', [new Date(deleteDay).toISOString(), new Date(deleteDay + DAY_MS).toISOString()]);
    const deleteMs = performance.now() - started;
    await pool.query('CHECKPOINT');
    const sizeAfterDelete = await size();
    if (deleted.rowCount !== dayRecords) throw new Error(`history: the DELETE removed ${deleted.rowCount} rows, not ${dayRecords}`);


    const rows = [
      ['series over a year, daily buckets, all users', 'from the rollups', formatFixed(fromRollups, 1), 'same aggregate from raw rows', formatFixed(fromRows, 1), formatRatio(fromRows / fromRollups)],
      ['records page of one day (1,000 of one user)', `at ${formatCount(stored)} rows`, formatFixed(pageLarge, 2), `at ${formatCount(small)} rows`, formatFixed(pageSmall, 2), formatRatio(pageLarge / pageSmall)],
      ['the same page in the server (plan, run, serialize)', `at ${formatCount(stored)} rows`, formatFixed(serverLarge, 2), `at ${formatCount(small)} rows`, formatFixed(serverSmall, 2), formatRatio(serverLarge / serverSmall)],
      [`retention of a day of ${formatCount(dayRecords)} rows`, 'DROP its partition', formatFixed(dropMs, 1), 'DELETE its rows', formatFixed(deleteMs, 1), formatRatio(deleteMs / dropMs)],
      ['database size after it, no VACUUM', 'after the DROP', formatBytes(sizeAfterDrop), 'after the DELETE', formatBytes(sizeAfterDelete), `loaded: ${formatBytes(sizeLoaded)}`],
      ['bytes on disk per record', 'records, 3 indexes', formatFixed(recordBytes, 0), 'its rollups (minute, hour, day)', formatFixed(rollupBytes, 0), ''],
      ['a maintenance pass', `dropped ${passReport!.dropped.length} partition(s)`, formatFixed(passMs, 1), '', '', ''],
      [
        `a pass past a catch-all of ${formatCount(dayRecords + nearRows)} rows`,
        `made 1, moved ${formatCount(nearRows)}`,
        formatFixed(extendMs, 1),
        'a one-row insert meanwhile',
        formatFixed(insertWaitMs, 1),
        '',
      ],
    ];
    return {
      title: `Months of data: ${formatCount(stored)} records over a year in day partitions (loaded with COPY in ${formatFixed(loadMs / 1000, 1)} s, rollups built after), ${USERS} users, median of ${runs} runs`,
      columns: [
        { header: 'measure', align: 'left' },
        { header: 'product', align: 'left' },
        { header: 'ms' },
        { header: 'baseline', align: 'left' },
        { header: 'ms' },
        { header: 'ratio' },
      ],
      rows,
      notes: [
        'Targets: the series from the rollups at most 100 ms; the one-day page at 10M rows at most 1.5× its time at 100k; a day of 1M rows dropped in at most 1 s, and the size on disk down after it.',
        'The ratio column is baseline ÷ product for the series and the retention, product ÷ baseline for the page.',
        "A page's time is mostly the client's (the pg driver reading 1,000 rows); the load's writes are checkpointed before it is timed.",
      ],
    };
  } finally {
    await pool.end();
  }
}
