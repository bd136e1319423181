import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUp } from '../../lambdas/adapters/migrations';
import { createPool, PgRecordStore } from '../../lambdas/adapters/pg-record-store';
import { RecordsRefusedError } from '../../lambdas/core/errors';
import { recordsToStore } from '../fixtures/records';
import { freshDatabase } from '../support/services';

// Both ways in: COPY (every batch here, whatever its size) and the unnest statement (never COPY).
describe.each([
  ['COPY, falling back to the statement when an id exists', 1],
  ['one INSERT … unnest statement', Infinity],
])('PgRecordStore on PostgreSQL: %s', (_way, copyMinRecords) => {
  let url: string;
  let pool: pg.Pool;
  let store: PgRecordStore;

  beforeAll(async () => {
    url = await freshDatabase();
    pool = createPool({ connection: url, max: 4 });
    store = new PgRecordStore(pool, { copyMinRecords });
  });
  afterAll(async () => pool.end());

  const count = async (ids: string[]) =>
    Number((await pool.query('SELECT count(*) FROM records WHERE id = ANY($1::uuid[])', [ids])).rows[0].count);

  it('stores a batch in one statement and returns the new rows', async () => {
    const batch = recordsToStore(1000);
    const rows = await store.insertBatch(batch);
    expect(rows).toHaveLength(1000);
    expect(await count(batch.map((r) => r.id))).toBe(1000);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(batch[5]!.id)).toMatchObject({ user_id: 'alice', data: 6, date: batch[5]!.date, accepted_at: '2024-01-02T00:00:00Z' });
    expect(byId.get(batch[5]!.id)!.stored_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$/);
  });

  it('ignores ids it already has, so a redelivered batch adds and returns nothing', async () => {
    const batch = recordsToStore(50);
    await store.insertBatch(batch);
    const again = await store.insertBatch([...batch, ...recordsToStore(2)]);
    expect(again).toHaveLength(2);
    expect(await count(batch.map((r) => r.id))).toBe(50);
  });

  it('stores a record once when the same id appears twice in one batch', async () => {
    const [record] = recordsToStore(1);
    const rows = await store.insertBatch([record!, record!]);
    expect(rows).toHaveLength(1);
  });

  it('keeps microseconds exactly, and int32 extremes', async () => {
    const batch = recordsToStore(3).map((r, i) => ({
      ...r,
      data: [-2147483648, 2147483647, 0][i]!,
      date: ['2001-01-01T00:00:00.000001Z', '2001-01-01T00:00:00.999999Z', '2001-01-01T00:00:00Z'][i]!,
    }));
    const rows = await store.insertBatch(batch);
    const stored = (await pool.query('SELECT id, data, date FROM records WHERE id = ANY($1::uuid[]) ORDER BY date', [batch.map((r) => r.id)])).rows;
    expect(stored.map((r) => [r.data, r.date])).toEqual([
      [0, '2001-01-01T00:00:00Z'],
      [-2147483648, '2001-01-01T00:00:00.000001Z'],
      [2147483647, '2001-01-01T00:00:00.999999Z'],
    ]);
    expect(rows.map((r) => r.date).sort()).toEqual(stored.map((r) => r.date).sort());
  });

  it('stores concurrent overlapping batches with no duplicate and no lost row', async () => {
    const records = recordsToStore(2000);
    const batches = Array.from({ length: 8 }, (_, i) => records.slice(i * 200, i * 200 + 400)); // each overlaps the next
    const results = await Promise.all(batches.map((b) => store.insertBatch(b)));
    const returned = results.flat().map((r) => r.id);
    expect(new Set(returned).size).toBe(returned.length);
    expect(returned.length).toBe(1800); // the union of the batches: records 0..1799
    expect(await count(records.map((r) => r.id))).toBe(1800);
  });

  it('stores nothing of a batch that fails, and says the database refused it', async () => {
    const batch = recordsToStore(3);
    const broken = [...batch, { ...batch[0]!, id: 'not-a-uuid' }];
    await expect(store.insertBatch(broken)).rejects.toBeInstanceOf(RecordsRefusedError);
    expect(await count(batch.map((r) => r.id))).toBe(0);
  });

  it('returns each row as it reads back: any user id, dates spelled in canonical UTC', async () => {
    const odd = ['tab\there', 'back\\slash', 'new\nline', '\\N', 'ユーザー🙂', 'cr\rlf'];
    const batch = recordsToStore(odd.length).map((r, i) => ({ ...r, user_id: odd[i]!, date: '2001-02-03T04:05:06.000100+02:00', accepted_at: '2024-01-02T01:00:00.000000+01:00' }));

    const rows = await store.insertBatch(batch);

    const stored = (await pool.query('SELECT id, user_id, data, date, accepted_at, stored_at FROM records WHERE id = ANY($1::uuid[])', [batch.map((r) => r.id)])).rows;
    const byId = (list: { id: string }[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));
    expect(byId(rows)).toEqual(byId(stored));
    expect(rows.map((r) => r.user_id).sort()).toEqual([...odd].sort());
    expect(rows[0]).toMatchObject({ date: '2001-02-03T02:05:06.0001Z'.replace('.0001Z', '.000100Z'), accepted_at: '2024-01-02T00:00:00Z' });
    // One transaction: one stored_at for the whole batch.
    expect(new Set(rows.map((r) => r.stored_at)).size).toBe(1);
  });

  it('runs migrations once: a second run applies nothing', async () => {
    expect(await migrateUp(url)).toEqual([]);
  });
});
