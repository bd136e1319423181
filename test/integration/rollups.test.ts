/**
 * The per-minute rollups of records, on the embedded PostgreSQL: kept in the storing
 * transaction from the rows actually inserted, never twice for a redelivery or a move between
 * partitions, and a series from them equal to the series from raw rows, also once the raw rows
 * are gone.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAILY_ROLLUPS_TABLE, HOURLY_ROLLUPS_TABLE, maintainPartitions, RECORDS_TABLE, ROLLUPS_TABLE } from '../../lambdas/adapters/pg-partitions';
import { PgRecordReader, seriesPieces, wholeGrains } from '../../lambdas/adapters/pg-record-reader';
import { createPool, PgRecordStore } from '../../lambdas/adapters/pg-record-store';
import { DAY_MS } from '../../lambdas/core/partitions';
import type { RecordToStore } from '../../lambdas/core/ports';
import type { TimeWindow } from '../../lambdas/core/ports';
import { recordsToStore } from '../fixtures/records';
import { freshDatabase } from '../support/services';

type Totals = { n: number; total: string; low: number; high: number };

describe('rollups of records', () => {
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = createPool({ connection: await freshDatabase(), max: 4 });
  });
  afterAll(async () => pool.end());

  /** Raw and rolled-up totals of one user: they agree whenever the rollups are right, by the minute and by the hour. */
  const totals = async (user: string): Promise<{ raw: Totals; rolled: Totals }> => {
    const raw = (await pool.query<Totals>('SELECT count(*)::int AS n, coalesce(sum(data), 0)::text AS total, min(data) AS low, max(data) AS high FROM records WHERE user_id = $1', [user])).rows[0]!;
    const rolled = async (table: string) =>
      (await pool.query<Totals>(`SELECT coalesce(sum(count), 0)::int AS n, coalesce(sum(sum), 0)::text AS total, min(min) AS low, max(max) AS high FROM ${table} WHERE user_id = $1`, [user])).rows[0]!;
    const [minutes, hours, days] = [await rolled('record_rollups'), await rolled('record_rollups_hourly'), await rolled('record_rollups_daily')];
    expect(hours).toEqual(minutes);
    expect(days).toEqual(minutes);
    return { raw, rolled: minutes };
  };
  const pass = async (now: string, retention: { records?: number; rollups?: number } = {}) => {
    const client = await pool.connect();
    try {
      return await maintainPartitions(
        client,
        [
          { spec: RECORDS_TABLE, settings: { sizeMs: DAY_MS, ahead: 1, ...(retention.records ? { retentionDays: retention.records } : {}) } },
          { spec: ROLLUPS_TABLE, settings: { sizeMs: 30 * DAY_MS, ahead: 1, ...(retention.rollups ? { retentionDays: retention.rollups } : {}) } },
          { spec: HOURLY_ROLLUPS_TABLE, settings: { sizeMs: 30 * DAY_MS, ahead: 1, ...(retention.rollups ? { retentionDays: retention.rollups } : {}) } },
          { spec: DAILY_ROLLUPS_TABLE, settings: { sizeMs: 30 * DAY_MS, ahead: 1, ...(retention.rollups ? { retentionDays: retention.rollups } : {}) } },
        ],
        Date.parse(now),
      );
    } finally {
      client.release();
    }
  };

  it.each([
    ['COPY', 1],
    ['the INSERT statement', Infinity],
  ])('counts each stored row once, and a redelivered batch adds nothing (%s)', async (_way, copyMinRecords) => {
    // Arrange
    const user = `once-${copyMinRecords}`;
    const store = new PgRecordStore(pool, { copyMinRecords });
    const batch = recordsToStore(500, { userId: user, start: '2024-03-01T10:00:30Z' }).map((r, i) => ({ ...r, data: i % 7 === 0 ? -2147483648 : i * 1000 }));

    // Act
    await store.insertBatch(batch);
    await store.insertBatch(batch);
    await store.insertBatch([...batch.slice(0, 100), ...recordsToStore(5, { userId: user, start: '2024-03-02T00:00:00Z' })]);

    // Assert
    const { raw, rolled } = await totals(user);
    expect(raw.n).toBe(505);
    expect(rolled).toEqual(raw);
  });

  it('counts concurrent batches of the same minutes exactly, without a deadlock', async () => {
    // Arrange: eight batches at once, each over the same 50 minutes of two users.
    const store = new PgRecordStore(pool);
    const batches = Array.from({ length: 8 }, (_, b) =>
      [...recordsToStore(100, { userId: 'busy-a', start: '2024-03-05T00:00:00Z' }), ...recordsToStore(100, { userId: 'busy-b', start: '2024-03-05T00:00:00Z' })].map((r, i) => ({ ...r, data: b * 1000 + i })).reverse(),
    );

    // Act
    await Promise.all(batches.map((batch) => store.insertBatch(batch)));

    // Assert
    for (const user of ['busy-a', 'busy-b']) {
      const { raw, rolled } = await totals(user);
      expect(raw.n).toBe(800);
      expect(rolled).toEqual(raw);
    }
  });

  it('answers the series from the rollups as from raw rows: counts, minima and maxima exact, averages within rounding', async () => {
    // Arrange: three users over three days, values across the int32 range, at odd instants.
    const store = new PgRecordStore(pool);
    const records: RecordToStore[] = [];
    for (const user of ['s-ann', 's-bob', 's-cy']) {
      for (let i = 0; i < 3_000; i++) {
        const ms = Date.parse('2024-04-01T00:00:00Z') + Math.floor((i * 86_400_000 * 3) / 3_000) + (i % 13) * 1_117;
        records.push({ ...recordsToStore(1, { userId: user })[0]!, date: new Date(ms).toISOString().replace('Z', `${String(i % 1000).padStart(3, '0')}Z`), data: ((i * 2_654_435_761) % 4_294_967_296) - 2_147_483_648 });
      }
    }
    for (let i = 0; i < records.length; i += 1000) await store.insertBatch(records.slice(i, i + 1000));
    const rolled = new PgRecordReader(pool);
    const raw = new PgRecordReader(pool, { useRollups: false });
    const windows: TimeWindow[] = [
      { start: '2024-04-01T00:00:00Z', end: '2024-04-03T23:59:59.999999Z' },
      { start: '2024-04-01T06:17:31.250001Z', end: '2024-04-02T19:03:02.5Z' },
      { start: '2024-03-31T23:59:59Z', end: '2024-04-04T00:00:00Z' },
    ];

    for (const window of windows) {
      for (const bucket of [60, 300, 3_600, 86_400]) {
        for (const scope of [{ allUsers: true as const }, { userId: 's-bob' }]) {
          // Act
          const [fromRollups, fromRows] = await Promise.all([rolled.series(window, scope, bucket), raw.series(window, scope, bucket)]);

          // Assert
          const label = `${window.start}..${window.end} by ${bucket}s ${JSON.stringify(scope)}`;
          expect(fromRollups.map(({ avg: _, ...exact }) => exact), label).toEqual(fromRows.map(({ avg: _, ...exact }) => exact));
          fromRollups.forEach((b, i) => expect(b.avg, label).toBeCloseTo(fromRows[i]!.avg, 3));
          expect(fromRows.reduce((n, b) => n + b.count, 0), label).toBeGreaterThan(0);
        }
      }
    }
  });

  it('groups the series by user: the busiest users named, each as its own series, the rest summed, from the rollups and raw rows alike', async () => {
    // Arrange: ten users, the k-th with 30 + 10k records over one day, so that two are left over.
    const store = new PgRecordStore(pool);
    const names = Array.from({ length: 10 }, (_, k) => `g-${String(k).padStart(2, '0')}`);
    const records = names.flatMap((user, k) =>
      Array.from({ length: 30 + 10 * k }, (_, i) => ({
        ...recordsToStore(1, { userId: user })[0]!,
        date: new Date(Date.parse('2024-06-10T00:00:00Z') + i * 600_000 + k * 61_000).toISOString(),
        data: (i * 7_919 + k * 104_729) % 2_000_001 - 1_000_000,
      })),
    );
    await store.insertBatch(records);
    const window = { start: '2024-06-10T00:00:00Z', end: '2024-06-10T23:59:59.999999Z' };
    const exact = (buckets: readonly { avg: number }[]) => buckets.map(({ avg: _, ...rest }) => rest);

    for (const reader of [new PgRecordReader(pool), new PgRecordReader(pool, { useRollups: false })]) {
      for (const bucket of [3_600, 5_400]) {
        // Act
        const grouped = await reader.seriesByUser(window, { allUsers: true }, bucket);

        // Assert: everyone's buckets are the plain series; each named user's, that user's own.
        const everyone = await reader.series(window, { allUsers: true }, bucket);
        expect(exact(grouped.buckets)).toEqual(exact(everyone));
        grouped.buckets.forEach((b, i) => expect(b.avg).toBeCloseTo(everyone[i]!.avg, 6));
        expect(grouped.users.map((u) => u.user_id)).toEqual(names.slice(2).reverse());
        for (const { user_id, buckets } of grouped.users) expect(exact(buckets)).toEqual(exact(await reader.series(window, { userId: user_id }, bucket)));
        const rest = records.filter((r) => r.user_id === 'g-00' || r.user_id === 'g-01').map((r) => r.data);
        expect(grouped.other_users?.users).toBe(2);
        const others = grouped.other_users!.buckets;
        expect(others.reduce((n, b) => n + b.count, 0)).toBe(rest.length);
        expect(Math.min(...others.map((b) => b.min))).toBe(Math.min(...rest));
        expect(Math.max(...others.map((b) => b.max))).toBe(Math.max(...rest));
      }
    }
    // One user's scope names that user alone, with nothing left over.
    const one = await new PgRecordReader(pool).seriesByUser(window, { userId: 'g-05' }, 3_600);
    expect(one.users.map((u) => u.user_id)).toEqual(['g-05']);
    expect(one.other_users).toBeNull();
    expect(await new PgRecordReader(pool).seriesByUser({ start: '1990-01-01T00:00:00Z', end: '1990-01-02T00:00:00Z' }, { allUsers: true }, 3_600)).toEqual({ buckets: [], users: [], other_users: null });
  });

  it('reads whole hours from the hourly rollups, the minutes around them from the minute rollups, and ragged ends from raw rows', () => {
    // Arrange
    const window = { start: '2024-04-01T06:17:31.250001Z', end: '2024-04-02T19:03:02.5Z' };

    // Act / Assert
    expect(wholeGrains(window)).toEqual({ from: '2024-04-01T06:18:00.000Z', to: '2024-04-02T19:03:00.000Z' });
    expect(wholeGrains({ start: '2024-04-01T00:00:00Z', end: '2024-04-01T23:59:59.999999Z' })).toEqual({ from: '2024-04-01T00:00:00.000Z', to: '2024-04-02T00:00:00.000Z' });
    expect(wholeGrains({ start: '2024-04-01T00:00:10Z', end: '2024-04-01T00:00:50Z' })).toBeUndefined();
    expect(seriesPieces(window, 3_600)).toEqual([
      { table: 'records', from: window.start, to: '2024-04-01T06:18:00.000Z' },
      { table: 'records', from: '2024-04-02T19:03:00.000Z', to: window.end, toInclusive: true },
      { table: 'record_rollups', from: '2024-04-01T06:18:00.000Z', to: '2024-04-01T07:00:00.000Z' },
      { table: 'record_rollups', from: '2024-04-02T19:00:00.000Z', to: '2024-04-02T19:03:00.000Z' },
      { table: 'record_rollups_hourly', from: '2024-04-01T07:00:00.000Z', to: '2024-04-02T19:00:00.000Z' },
    ]);
    // A bucket of 5 minutes is no whole number of hours: minutes only.
    expect(seriesPieces(window, 300).map((p) => p.table)).toEqual(['records', 'records', 'record_rollups']);
    // A day's bucket over days: the whole days from the daily rollups.
    expect(seriesPieces({ start: '2024-04-01T06:17:31Z', end: '2024-04-04T01:00:00Z' }, 86_400).filter((p) => p.table === 'record_rollups_daily')).toEqual([
      { table: 'record_rollups_daily', from: '2024-04-02T00:00:00.000Z', to: '2024-04-04T00:00:00.000Z' },
    ]);
  });

  it('counts a record older than any retention, and does not count rows that maintenance moves again', async () => {
    // Arrange: one row from 1990 and 40 dated 2090 (in records_after).
    const store = new PgRecordStore(pool);
    await store.insertBatch([...recordsToStore(1, { userId: 'far', start: '1990-01-01T00:00:00Z' }), ...recordsToStore(40, { userId: 'far', start: '2090-06-01T00:00:00Z' })]);

    // Act: a pass "in" 2090 moves the 40 rows into the partitions made for them.
    const reports = await pass('2090-06-01T12:00:00Z');

    // Assert
    expect(reports![0]!.moved).toBe(40);
    const { raw, rolled } = await totals('far');
    expect(raw.n).toBe(41);
    expect(rolled).toEqual(raw);
  });

  it('still shows a window in the series from the rollups once retention has dropped its raw rows', async () => {
    // Arrange: the 2090 rows, and a retention of a day, "two days later"; the rollups are kept.
    const window = { start: '2090-06-01T00:00:00Z', end: '2090-06-01T23:59:59.999999Z' };
    const reader = new PgRecordReader(pool);
    const before = await reader.series(window, { userId: 'far' }, 3_600);

    // Act
    await pass('2090-06-03T12:00:00Z', { records: 1 });

    // Assert
    expect((await pool.query("SELECT count(*)::int AS n FROM records WHERE user_id = 'far' AND date >= '2090-01-01'")).rows[0].n).toBe(0);
    expect(await new PgRecordReader(pool, { useRollups: false }).series(window, { userId: 'far' }, 3_600)).toEqual([]);
    expect(await reader.series(window, { userId: 'far' }, 3_600)).toEqual(before);
    expect(before.reduce((n, b) => n + b.count, 0)).toBe(40);
  });
});
