/**
 * The read API on the local stack: the twelve golden sets uploaded through the real upload
 * route and analysed through the real analysis route, keyset pagination, and per-user scope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeSwings } from '../../lambdas/core/swing-analysis';
import { compareInstants, instantOf } from '../../lambdas/core/timestamp';
import { goldenSets } from '../fixtures/golden';
import { login, startTestStack, waitFor } from '../support/stack';

describe('the query API on the local stack', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let admin: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    stack = await startTestStack();
    admin = await login(stack.httpUrl);
    for (const user of ['alice', 'bob', 'pager']) tokens[user] = (await stack.identity.tokenFor(user, false)).access_token;
  });
  afterAll(async () => stack?.cleanup());

  const upload = async (token: string, records: { data: number; date: string }[]) => {
    const ids: string[] = [];
    for (let i = 0; i < records.length; i += 1000) {
      const response = await fetch(`${stack.httpUrl}/api/data/upload`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ records: records.slice(i, i + 1000) }),
      });
      expect(response.status).toBe(202);
      ids.push(...((await response.json()) as { ids: string[] }).ids);
    }
    return ids;
  };
  const waitStored = async (ids: string[]) =>
    waitFor(async () => {
      const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM records WHERE id = ANY($1::uuid[])', [ids]);
      return rows[0].n === ids.length;
    }, 30_000);
  const get = async (path: string, token: string, params: Record<string, string>) => {
    const response = await fetch(`${stack.httpUrl}${path}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('matches every golden set exactly through the real upload and analysis routes', async () => {
    const sets = goldenSets();
    const ids = (await Promise.all(sets.map((set) => upload(admin, set.records)))).flat();
    await waitStored(ids);

    for (const set of sets) {
      let window = { start_time: '2001-04-01T00:00:00Z', end_time: '2001-04-30T23:59:59.999999Z' }; // a month with no records
      if (set.records.length > 0) {
        const dates = set.records.map((r) => r.date).sort((a, b) => compareInstants(instantOf(a), instantOf(b)));
        window = { start_time: dates[0]!, end_time: dates.at(-1)! };
      }
      const { status, body } = await get('/api/data/swing-analyze/', admin, window);
      expect(status, set.file).toBe(200);
      if (typeof set.expected === 'string') {
        expect(body, set.file).toEqual({ ...window, signals: [], message: set.expected });
      } else {
        expect(body.signals, set.file).toEqual(set.expected);
        expect(body.message, set.file).toBeNull();
      }
    }
  });

  it('pages through records with no gap or repeat, across rows that share a date', async () => {
    // 50 dates, 5 records on each: pages of 7 must cut through groups of equal dates.
    const records = Array.from({ length: 250 }, (_, i) => ({ data: i, date: `2002-01-01T00:${String(Math.floor(i / 5)).padStart(2, '0')}:00.000001Z` }));
    const ids = await upload(tokens.pager!, records);
    await waitStored(ids);

    const seen: { id: string; date: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const params: Record<string, string> = { start_time: '2002-01-01T00:00:00Z', end_time: '2002-01-01T01:00:00Z', limit: '7' };
      if (cursor) params.cursor = cursor;
      const { status, body } = await get('/api/data/records', tokens.pager!, params);
      expect(status).toBe(200);
      expect(body.records.length).toBeLessThanOrEqual(7);
      seen.push(...body.records);
      cursor = body.next_cursor;
      pages++;
    } while (cursor && pages < 100);

    expect(pages).toBe(36);
    expect(seen.map((r) => r.id).sort()).toEqual([...ids].sort());
    const expected = (await stack.pool.query("SELECT id FROM records WHERE user_id = 'pager' ORDER BY date, id")).rows.map((r) => r.id);
    expect(seen.map((r) => r.id)).toEqual(expected);
    expect(seen[0]!.date).toBe('2002-01-01T00:00:00.000001Z');

    // Newest first (order=desc): the same rows, exactly reversed, through the same groups of equal dates.
    const newest: { id: string }[] = [];
    cursor = null;
    pages = 0;
    do {
      const params: Record<string, string> = { start_time: '2002-01-01T00:00:00Z', end_time: '2002-01-01T01:00:00Z', limit: '7', order: 'desc' };
      if (cursor) params.cursor = cursor;
      const { status, body } = await get('/api/data/records', tokens.pager!, params);
      expect(status).toBe(200);
      expect(body.order).toBe('desc');
      newest.push(...body.records);
      cursor = body.next_cursor;
      pages++;
    } while (cursor && pages < 100);
    expect(newest.map((r) => r.id)).toEqual([...expected].reverse());

    // A cursor pages only in the direction that wrote it; an unknown order is named.
    const firstDesc = await get('/api/data/records', tokens.pager!, { start_time: '2002-01-01T00:00:00Z', end_time: '2002-01-01T01:00:00Z', limit: '7', order: 'desc' });
    const crossed = await get('/api/data/records', tokens.pager!, { start_time: '2002-01-01T00:00:00Z', end_time: '2002-01-01T01:00:00Z', cursor: firstDesc.body.next_cursor });
    expect(crossed.status).toBe(400);
    expect(crossed.body.error.details[0].path).toBe('cursor');
    const sideways = await get('/api/data/records', tokens.pager!, { start_time: '2002-01-01T00:00:00Z', end_time: '2002-01-01T01:00:00Z', order: 'sideways' });
    expect(sideways.status).toBe(400);
    expect(sideways.body.error.details[0].path).toBe('order');
  });

  it('shows a user only their own records and analysis, and an admin everyone\'s', async () => {
    const window = { start_time: '2003-01-01T00:00:00Z', end_time: '2003-01-01T02:00:00Z' };
    const mine = Array.from({ length: 60 }, (_, i) => ({ data: (i * 37) % 100, date: `2003-01-01T00:${String(i).padStart(2, '0')}:00Z` }));
    const theirs = Array.from({ length: 60 }, (_, i) => ({ data: (i * 91) % 1000, date: `2003-01-01T01:${String(i).padStart(2, '0')}:30Z` }));
    const ids = [...(await upload(tokens.alice!, mine)), ...(await upload(tokens.bob!, theirs))];
    await waitStored(ids);

    const aliceRecords = await get('/api/data/records', tokens.alice!, { ...window, limit: '1000' });
    expect(aliceRecords.body.records).toHaveLength(60);
    expect(new Set(aliceRecords.body.records.map((r: { user_id: string }) => r.user_id))).toEqual(new Set(['alice']));

    const aliceAnalysis = await get('/api/data/swing-analyze', tokens.alice!, window);
    const expected = analyzeSwings(mine);
    expect(aliceAnalysis.body.signals).toEqual(expected.signals);
    expect(aliceAnalysis.body.message).toBe(expected.message);
    expect(analyzeSwings([...mine, ...theirs])).not.toEqual(expected); // the scope is what makes them equal

    const adminAll = await get('/api/data/records', admin, { ...window, limit: '1000' });
    expect(adminAll.body.records).toHaveLength(120);
    const adminBob = await get('/api/data/records', admin, { ...window, limit: '1000', user_id: 'bob' });
    expect(adminBob.body.records).toHaveLength(60);
    expect((await get('/api/data/swing-analyze', admin, window)).body.signals).toEqual(analyzeSwings([...mine, ...theirs]).signals);

    const peek = await get('/api/data/records', tokens.alice!, { ...window, user_id: 'bob' });
    expect(peek.status).toBe(400);
    expect(peek.body.error.details[0].path).toBe('user_id');
  });

  it('sums up a window per time bucket in PostgreSQL, exactly as the raw records add up, scoped per user', async () => {
    // 600 records over two hours, data in a wave, plus three around 2000-01-01 (the buckets' origin).
    const start = Date.parse('2004-02-01T00:00:00Z');
    const records = Array.from({ length: 600 }, (_, i) => ({ data: Math.round(1000 * Math.sin(i / 7)) - (i % 13), date: new Date(start + i * 12_000 + (i % 5) * 1_000).toISOString() }));
    const edge = [
      { data: 5, date: '1999-12-31T23:59:59.999999Z' },
      { data: 7, date: '2000-01-01T00:00:00Z' },
      { data: -2, date: '1999-12-31T23:00:00+01:00' },
    ];
    const seriesUser = (await stack.identity.tokenFor('series', false)).access_token;
    await waitStored([...(await upload(seriesUser, records)), ...(await upload(seriesUser, edge))]);
    const window = { start_time: '2004-02-01T00:00:00Z', end_time: '2004-02-01T02:00:00Z' };

    const { status, body } = await get('/api/data/series', seriesUser, { ...window, bucket: '10m' });

    expect(status).toBe(200);
    expect(body).toMatchObject({ ...window, bucket: '10m', bucket_seconds: 600 });
    const expected = new Map<number, number[]>();
    for (const r of records) {
      const bucket = Math.floor((Date.parse(r.date) - Date.parse('2000-01-01T00:00:00Z')) / 600_000);
      expected.set(bucket, [...(expected.get(bucket) ?? []), r.data]);
    }
    expect(body.buckets).toHaveLength(expected.size);
    for (const b of body.buckets) {
      const values = expected.get((Date.parse(b.start) - Date.parse('2000-01-01T00:00:00Z')) / 600_000)!;
      expect(b.count).toBe(values.length);
      expect(b.min).toBe(Math.min(...values));
      expect(b.max).toBe(Math.max(...values));
      expect(b.avg).toBeCloseTo(values.reduce((a, v) => a + v, 0) / values.length, 9);
    }
    expect(body.buckets.map((b: { start: string }) => b.start)).toEqual([...body.buckets.map((b: { start: string }) => b.start)].sort());

    // Without a bucket, one is chosen for about a thousand of them: 10 s for two hours.
    const auto = await get('/api/data/series', seriesUser, window);
    expect(auto.body).toMatchObject({ bucket: '10s', bucket_seconds: 10 });
    expect(auto.body.buckets.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(600);
    // Buckets align to 2000-01-01 on both sides of it.
    const around = await get('/api/data/series', seriesUser, { start_time: '1999-12-31T00:00:00Z', end_time: '2000-01-01T01:00:00Z', bucket: '1h' });
    expect(around.body.buckets).toEqual([
      { start: '1999-12-31T22:00:00Z', count: 1, min: -2, max: -2, avg: -2 },
      { start: '1999-12-31T23:00:00Z', count: 1, min: 5, max: 5, avg: 5 },
      { start: '2000-01-01T00:00:00Z', count: 1, min: 7, max: 7, avg: 7 },
    ]);
    // Scope: another user sees nothing of it; an admin sees it with user_id.
    expect((await get('/api/data/series', tokens.alice!, window)).body.buckets).toEqual([]);
    expect((await get('/api/data/series', admin, { ...window, bucket: '10m', user_id: 'series' })).body.buckets).toEqual(body.buckets);
  });

  it.each([
    ['a bucket without a unit', { bucket: '10' }, 'bucket'],
    ['a zero bucket', { bucket: '0m' }, 'bucket'],
    ['more than 10,000 buckets', { bucket: '1s', end_time: '2001-01-02T00:00:00Z' }, 'bucket'],
    ['a bucket over 3,660 days', { bucket: '4000d' }, 'bucket'],
    ['a bucket of no whole minutes over a window of decades', { bucket: '90s', end_time: '2041-01-01T00:00:00Z' }, 'bucket'],
    ['a missing end_time', { end_time: '' }, 'end_time'],
    ['a grouping other than user', { group_by: 'team' }, 'group_by'],
    ['more than 1,000 buckets grouped by user', { group_by: 'user', bucket: '1s' }, 'bucket'],
  ])('answers 400 naming the parameter for a series with %s', async (_, params, path) => {
    const { status, body } = await get('/api/data/series', admin, { start_time: '2001-01-01T00:00:00Z', end_time: '2001-01-01T01:00:00Z', ...params });
    expect(status).toBe(400);
    expect(body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it('answers a series over four decades from the rollups, in whole-day buckets it chooses, with values in the millions', async () => {
    // Arrange: records in 2003, 2024 and 2044, values near 8,100,000.
    const decades = (await stack.identity.tokenFor('decades', false)).access_token;
    const ids = await upload(decades, [
      { data: 8_100_000, date: '2003-02-01T10:00:00Z' },
      { data: 8_100_007, date: '2003-02-01T10:00:30Z' },
      { data: -8_100_000, date: '2024-06-15T00:00:00.5Z' },
      { data: 8_199_999, date: '2044-12-31T23:59:59.999999Z' },
    ]);
    await waitStored(ids);

    // Act
    const { status, body } = await get('/api/data/series', decades, { start_time: '2003-01-01T00:00:00Z', end_time: '2044-12-31T23:59:59.999999Z' });
    const fine = await get('/api/data/series', decades, { start_time: '2003-01-01T00:00:00Z', end_time: '2044-12-31T23:59:59.999999Z', bucket: '1d' });

    // Assert: 42 years in 30-day buckets (about 512), each record in its bucket, exact.
    expect(status).toBe(200);
    expect(body).toMatchObject({ bucket: '30d', bucket_seconds: 2_592_000 });
    expect(body.buckets.map((b: { count: number; min: number; max: number }) => [b.count, b.min, b.max])).toEqual([
      [2, 8_100_000, 8_100_007],
      [1, -8_100_000, -8_100_000],
      [1, 8_199_999, 8_199_999],
    ]);
    expect(body.buckets[0].avg).toBeCloseTo(8_100_003.5, 6);
    // A day's bucket over 42 years is more than 10,000: refused, with the smallest that fits.
    expect(fine.status).toBe(400);
    expect(fine.body.error.details).toEqual([{ path: 'bucket', message: expect.stringMatching(/take at least 1d\d*m|take at least \d+m/) }]);
  });

  it.each([
    ['a missing start_time', { end_time: '2001-01-01T00:00:00Z' }, 'start_time'],
    ['an unparsable end_time', { start_time: '2001-01-01T00:00:00Z', end_time: 'tomorrow' }, 'end_time'],
    ['a time without a zone', { start_time: '2001-01-01T00:00:00', end_time: '2001-01-02T00:00:00Z' }, 'start_time'],
    ['start_time after end_time', { start_time: '2001-01-02T00:00:00Z', end_time: '2001-01-01T00:00:00Z' }, 'start_time'],
    ['a window over 366 days', { start_time: '2001-01-01T00:00:00Z', end_time: '2002-01-03T00:00:00Z' }, 'end_time'],
  ])('answers 400 naming the parameter for %s', async (_, params, path) => {
    for (const route of ['/api/data/records', '/api/data/swing-analyze']) {
      const { status, body } = await get(route, admin, params);
      expect(status).toBe(400);
      expect(body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it('pages by when records were stored (time_field=stored_at), as monitors catch up, scoped per user', async () => {
    // Three uploads of a user of its own, each stored by its own batch: three stored_at values,
    // dates in no order.
    const stamper = (await stack.identity.tokenFor('stamper', false)).access_token;
    const batches: string[][] = [];
    for (const year of [2009, 2003, 2006]) {
      const ids = await upload(stamper, Array.from({ length: 6 }, (_, i) => ({ data: i, date: `${year}-01-01T00:00:0${i}Z` })));
      await waitStored(ids);
      batches.push(ids);
    }
    const stored = (await stack.pool.query("SELECT id, stored_at FROM records WHERE user_id = 'stamper' ORDER BY stored_at, id")).rows as { id: string; stored_at: string }[];
    const from = new Date(Date.parse((stored[0] as any).stored_at) - 1).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();

    const seen: { id: string; stored_at: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const params: Record<string, string> = { time_field: 'stored_at', start_time: from, end_time: to, limit: '4' };
      if (cursor) params.cursor = cursor;
      const { status, body } = await get('/api/data/records', stamper, params);
      expect(status).toBe(200);
      expect(body.time_field).toBe('stored_at');
      seen.push(...body.records);
      cursor = body.next_cursor;
      pages++;
    } while (cursor && pages < 20);

    // In stored order (every first batch's row before any second batch's), each once, only stamper's.
    expect(seen.map((r) => r.id)).toEqual(stored.map((r) => r.id));
    expect(new Set(seen.slice(0, 6).map((r) => r.id))).toEqual(new Set(batches[0]));
    expect(new Set(seen.slice(12).map((r) => r.id))).toEqual(new Set(batches[2]));
    expect(pages).toBe(5);
    // A date cursor does not page a stored_at query, nor the other way round.
    const dated = await get('/api/data/records', stamper, { start_time: '2000-01-01T00:00:00Z', end_time: '2010-01-01T00:00:00Z', limit: '1' });
    const mixed = await get('/api/data/records', stamper, { time_field: 'stored_at', start_time: from, end_time: to, cursor: dated.body.next_cursor });
    expect(mixed.status).toBe(400);
    expect(mixed.body.error.details[0].path).toBe('cursor');
    expect((await get('/api/data/records', stamper, { time_field: 'accepted_at', start_time: from, end_time: to })).body.error.details[0].path).toBe('time_field');
  });

  it('answers 400 for a bad limit or cursor, and 401 without a token', async () => {
    const window = { start_time: '2001-01-01T00:00:00Z', end_time: '2001-01-02T00:00:00Z' };
    expect((await get('/api/data/records', admin, { ...window, limit: '1001' })).body.error.details[0].path).toBe('limit');
    expect((await get('/api/data/records', admin, { ...window, cursor: 'bm90LWEtY3Vyc29y' })).body.error.details[0].path).toBe('cursor');
    expect((await fetch(`${stack.httpUrl}/api/data/records?${new URLSearchParams(window)}`)).status).toBe(401);
  });
});
