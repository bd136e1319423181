/**
 * The records table partitioned by date, on the embedded PostgreSQL: redeliveries across
 * partition boundaries, rows dated anywhere in the years accepted, maintenance passes (made
 * ahead, dropped past the horizon, overlapping passes, a lock that cannot be had), and the
 * conversion of an existing, unpartitioned table by the migrations.
 */
import { cp, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrateUp, MIGRATIONS_DIR } from '../../lambdas/adapters/migrations';
import { maintainPartitions, RECORDS_TABLE, readPartitions } from '../../lambdas/adapters/pg-partitions';
import { PgRecordReader } from '../../lambdas/adapters/pg-record-reader';
import { createPool, PgRecordStore } from '../../lambdas/adapters/pg-record-store';
import { DAY_MS, gridFloor, partitionName } from '../../lambdas/core/partitions';
import { recordsToStore } from '../fixtures/records';
import { createDatabase } from '../../local/services';
import { freshDatabase } from '../support/services';

const at = (iso: string) => Date.parse(iso);
const DAYS = { sizeMs: DAY_MS, ahead: 2 };

/** Where each of these rows is: the partition's name, by id. */
async function partitionOf(pool: pg.Pool, ids: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ id: string; part: string }>('SELECT id, tableoid::regclass::text AS part FROM records WHERE id = ANY($1::uuid[])', [ids]);
  return new Map(rows.map((r) => [r.id, r.part]));
}

describe('the records table, partitioned by date', () => {
  let url: string;
  let pool: pg.Pool;

  beforeAll(async () => {
    url = await freshDatabase();
    pool = createPool({ connection: url, max: 4 });
  });
  afterAll(async () => pool.end());

  const withClient = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  };
  /** One maintenance pass as if the clock read `now`. */
  const pass = (now: string, settings: Partial<typeof DAYS> & { retentionDays?: number } = {}) =>
    withClient((client) => maintainPartitions(client, [{ spec: RECORDS_TABLE, settings: { ...DAYS, ...settings } }], at(now)));
  const partitions = async () => (await withClient((client) => readPartitions(client, RECORDS_TABLE))).partitions;
  const names = async () => (await partitions()).map((p) => p.name).sort();

  it.each([
    ['COPY', 1],
    ['the INSERT statement', Infinity],
  ])('stores a batch that spans a partition boundary once, and a redelivery of it adds nothing (%s)', async (_way, copyMinRecords) => {
    // Arrange: day partitions around 2030-03-01 (made ahead from a pass "on" 2030-02-28).
    await pass('2030-02-28T12:00:00Z');
    const store = new PgRecordStore(pool, { copyMinRecords });
    const batch = recordsToStore(120, { start: '2030-02-28T23:00:00Z' }); // one a minute: an hour each side of midnight

    // Act
    const first = await store.insertBatch(batch);
    const again = await store.insertBatch(batch);
    const found = await store.findStored(batch.map((r) => ({ id: r.id, date: r.date })));

    // Assert
    expect(first).toHaveLength(120);
    expect(again).toEqual([]);
    expect(found).toHaveLength(120);
    const parts = await partitionOf(pool, batch.map((r) => r.id));
    expect(new Set(parts.values())).toEqual(new Set(['records_p20300228', 'records_p20300301']));
    const { rows } = await pool.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM records WHERE id = ANY($1::uuid[])', [batch.map((r) => r.id)]);
    expect(rows[0]).toEqual({ n: 120, ids: 120 });
  });

  it('stores a backfill from 1990 and a record dated 2090 in the catch-alls, never refused', async () => {
    // Arrange
    const store = new PgRecordStore(pool);
    const old = recordsToStore(30, { start: '1990-06-01T00:00:00Z' });
    const future = recordsToStore(30, { start: '2090-06-01T00:00:00Z' });

    // Act
    const stored = await store.insertBatch([...old, ...future]);

    // Assert
    expect(stored).toHaveLength(60);
    const parts = await partitionOf(pool, [...old, ...future].map((r) => r.id));
    expect(old.every((r) => parts.get(r.id) === 'records_before')).toBe(true);
    expect(future.every((r) => parts.get(r.id) === 'records_after')).toBe(true);
  });

  it('scans one partition for a one-day records query', async () => {
    // Arrange: the partitions of the days around 2030-03-01 exist (the first test's pass).
    await pass('2030-02-28T12:00:00Z');

    // Act
    const { rows } = await pool.query(
      "EXPLAIN (FORMAT JSON) SELECT id, user_id, data, date FROM records WHERE date >= '2030-03-01T00:00:00Z' AND date <= '2030-03-01T23:59:59Z' AND user_id = 'alice' ORDER BY date, id LIMIT 100",
    );

    // Assert: the plan names one relation, the day's partition.
    const relations = JSON.stringify(rows[0]['QUERY PLAN']).match(/"Relation Name":"[^"]+"/g) ?? [];
    expect(new Set(relations)).toEqual(new Set(['"Relation Name":"records_p20300301"']));
  });

  it('moves rows dated beyond the partitions made ahead into the partitions made for them later, and keeps every row', async () => {
    // Arrange: rows in 2090 sit in records_after (the test above).
    const before = (await pool.query('SELECT count(*)::int AS n FROM records')).rows[0].n;

    // Act: a pass "in" 2090 makes one partition of the whole gap, then the days from then.
    const reports = await pass('2090-06-01T00:10:00Z', { ahead: 1 });

    // Assert
    const [report] = reports!;
    expect(report!.created.map((p) => p.name)).toEqual(['records_p20300303', 'records_p20900601', 'records_p20900602']);
    expect(report!.moved).toBe(30);
    expect((await pool.query('SELECT count(*)::int AS n FROM records')).rows[0].n).toBe(before);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM records_p20900601");
    expect(rows[0].n).toBe(30);
  });

  it('does nothing on a second pass at the same time', async () => {
    // Act
    const reports = await pass('2090-06-01T00:10:00Z', { ahead: 1 });

    // Assert
    expect(reports).toEqual([{ table: 'records', created: [], dropped: [], moved: 0 }]);
  });

  it('leaves a pass to the one that holds the lock, when two overlap', async () => {
    // Arrange: another session holds the maintenance lock.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [0x64_68_70_6d]);

    // Act
    const reports = await pass('2090-06-03T00:00:00Z', { ahead: 1 });

    // Assert
    expect(reports).toBeUndefined();
    await holder.end();
  });

  it('gives up a step whose lock on the table it cannot have in time, rather than queueing the writer behind it', async () => {
    // Arrange: a long transaction that has read records.
    const layout = await names();
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    await reader.query('BEGIN; SELECT count(*) FROM records');

    // Act
    const attempt = withClient((client) => maintainPartitions(client, [{ spec: RECORDS_TABLE, settings: { sizeMs: DAY_MS, ahead: 3 } }], at('2090-06-01T00:10:00Z'), { lockTimeoutMs: 50, tries: 2 }));

    // Assert: lock_not_available, and the layout as it was.
    await expect(attempt).rejects.toMatchObject({ code: '55P03' });
    await reader.query('ROLLBACK');
    await reader.end();
    expect(await names()).toEqual(layout);
  });

  it('drops whole partitions past the horizon and folds their range into _before, and the database shrinks with no VACUUM', async () => {
    // Arrange: 20,000 rows on 2090-06-01, and a retention of 1 day, two days later.
    const store = new PgRecordStore(pool);
    for (let i = 0; i < 4; i++) await store.insertBatch(recordsToStore(5_000, { start: '2090-06-01T00:00:00Z' }).map((r, j) => ({ ...r, date: `2090-06-01T${String(j % 24).padStart(2, '0')}:${String(i).padStart(2, '0')}:00Z` })));
    const size = async () => Number((await pool.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
    const sizeBefore = await size();

    // Act
    const [report] = (await pass('2090-06-03T01:00:00Z', { ahead: 1, retentionDays: 1 }))!;

    // Assert
    // The first pass (in 2030) made one partition from the day the table was converted (today).
    const today = partitionName('records', gridFloor(Date.now(), DAY_MS), DAY_MS);
    expect(report!.dropped).toEqual([today, 'records_p20300228', 'records_p20300301', 'records_p20300302', 'records_p20300303', 'records_p20900601']);
    expect(report!.beforeTo).toBe('2090-06-02T00:00:00.000Z');
    expect((await pool.query("SELECT count(*)::int AS n FROM records WHERE date < '2090-06-02T00:00:00Z'")).rows[0].n).toBe(0);
    expect(await size()).toBeLessThan(sizeBefore);
    expect((await partitions()).find((p) => p.name === 'records_before')).toMatchObject({ from: null, to: at('2090-06-02T00:00:00Z') });
  });
});

describe('converting an existing, unpartitioned records table', () => {
  it('keeps every row once (the old rows become records_before, future-dated ones move to records_after), backfills the rollups, and serves the queries', async () => {
    // Arrange: a database at the migration before the partitioning, holding four months of rows.
    const dir = await mkdtemp(path.join(tmpdir(), 'dh-migrations-'));
    const all = (await readdir(MIGRATIONS_DIR)).sort();
    for (const file of all.filter((f) => f < '1765411200000')) await cp(path.join(MIGRATIONS_DIR, file), path.join(dir, file));
    const url = await createDatabase(inject('adminDatabaseUrl'), `t_convert_${Date.now()}`);
    await migrateUp(url, dir);
    const pool = createPool({ connection: url, max: 2 });
    await pool.query(
      `INSERT INTO records (id, user_id, data, date, accepted_at)
       SELECT gen_random_uuid(), 'u' || (i % 7), i, timestamptz '2024-01-01' + i * interval '3 minutes', now() FROM generate_series(1, 60000) AS i`,
    );
    await pool.query("INSERT INTO records (id, user_id, data, date, accepted_at) VALUES (gen_random_uuid(), 'u0', -1, '2090-01-01T00:00:00Z', now())");
    const sums = async () => (await pool.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, sum(data)::bigint AS total FROM records')).rows[0];
    const expected = await sums();

    // Act
    const applied = await migrateUp(url);

    // Assert
    expect(applied).toContain('1765411200000_partition-records');
    expect(await sums()).toEqual(expected);
    const parts = (await pool.query('SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM records GROUP BY 1 ORDER BY 1')).rows;
    expect(parts).toEqual([
      { part: 'records_after', n: 1 },
      { part: 'records_before', n: 60_000 },
    ]);
    // The rollups are backfilled from the existing rows.
    for (const table of ['record_rollups', 'record_rollups_hourly', 'record_rollups_daily']) {
      const rolled = (await pool.query(`SELECT sum(count)::int AS n, sum(sum)::bigint AS total FROM ${table}`)).rows[0];
      expect(rolled, table).toEqual({ n: expected.n, total: expected.total });
    }
    // Still the writer's path: a redelivered old row is found, not stored twice.
    const old = (await pool.query("SELECT id, user_id, data, date, accepted_at FROM records WHERE data = 5")).rows[0];
    expect(await new PgRecordStore(pool).insertBatch([old])).toEqual([]);
    // The query and catch-up paths on the converted table: pages by date and by stored_at, and
    // the series from the rollups as from raw rows.
    const reader = new PgRecordReader(pool);
    const window = { start: '2024-01-01T00:00:00Z', end: '2024-05-01T00:00:00Z' };
    const firstPage = await reader.page(window, { userId: 'u3' }, 100);
    expect(firstPage.map((r) => r.data)).toEqual(Array.from({ length: 100 }, (_, i) => 3 + 7 * i));
    const next = await reader.page(window, { userId: 'u3' }, 100, { date: firstPage.at(-1)!.date, id: firstPage.at(-1)!.id });
    expect(next[0]!.data).toBe(3 + 7 * 100);
    const caughtUp = await reader.page({ start: '2000-01-01T00:00:00Z', end: '2100-01-01T00:00:00Z' }, { allUsers: true }, 1000, undefined, 'stored_at');
    expect(caughtUp).toHaveLength(1000);
    const fromRollups = await reader.series(window, { allUsers: true }, 86_400);
    const fromRows = await new PgRecordReader(pool, { useRollups: false }).series(window, { allUsers: true }, 86_400);
    expect(fromRollups.map((b) => [b.start, b.count, b.min, b.max])).toEqual(fromRows.map((b) => [b.start, b.count, b.min, b.max]));
    const inWindow = (await pool.query("SELECT count(*)::int AS n FROM records WHERE date >= '2024-01-01' AND date <= '2024-05-01'")).rows[0].n;
    expect(fromRows.reduce((n, b) => n + b.count, 0)).toBe(inWindow);
    expect(inWindow).toBeGreaterThan(50_000);
    await pool.end();
  });
});
