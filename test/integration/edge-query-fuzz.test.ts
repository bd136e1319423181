/**
 * Malformed query input is the client's fault, never the server's: the real query handlers,
 * over a real PostgreSQL, answer a 4xx (or a 200) to the known cases and to a bounded, seeded
 * fuzz of every parameter, and never a 5xx.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgRecordReader } from '../../lambdas/adapters/pg-record-reader';
import { createPool } from '../../lambdas/adapters/pg-record-store';
import { encodeCursor } from '../../lambdas/core/query';
import { makeRecordsQueryHandler } from '../../lambdas/handlers/records-query';
import { makeRecordsSeriesHandler } from '../../lambdas/handlers/records-series';
import { makeSwingAnalyzeHandler } from '../../lambdas/handlers/swing-analyze';
import { httpEvent, lambdaContext } from '../fixtures/events';
import { freshDatabase } from '../support/services';

const ADMIN = { sub: 'root', 'cognito:groups': '[admin]' };
const USER = { sub: 'alice', 'cognito:groups': '[]' };
const WINDOW = { start_time: '2024-05-01T00:00:00Z', end_time: '2024-05-02T00:00:00Z' };
const ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

type Handler = ReturnType<typeof makeRecordsQueryHandler>;
let pool: pg.Pool;
let records: Handler;
let swing: Handler;
let series: Handler;

beforeAll(async () => {
  pool = createPool({ connection: await freshDatabase() });
  for (const [user, minute] of [['alice', 1], ['alice', 2], ['bob', 3], ['bob', 4]] as const) {
    await pool.query("INSERT INTO records (id, user_id, data, date, accepted_at) VALUES (gen_random_uuid(), $1, $2, $3, now())", [user, minute, `2024-05-01T00:0${minute}:00Z`]);
  }
  const reader = new PgRecordReader(pool);
  records = makeRecordsQueryHandler({ reader });
  swing = makeSwingAnalyzeHandler({ reader });
  series = makeRecordsSeriesHandler({ reader });
});
afterAll(() => pool?.end());

async function call(handler: Handler, path: string, params: Record<string, string>, claims: Record<string, string>) {
  const event = { ...httpEvent({ method: 'GET', path, claims }), queryStringParameters: params };
  const response = await handler(event, lambdaContext());
  return { status: response.statusCode!, body: JSON.parse(response.body!) };
}

describe('malformed queries', () => {
  it.each([
    ['a cursor whose date has an offset PostgreSQL refuses (+16:00)', { cursor: cursorOf(['2024-05-01T16:00:00+16:00', ID]) }, 'cursor'],
    ['a cursor whose date has the largest offset (+23:59)', { cursor: cursorOf(['2024-05-01T23:59:00+23:59', ID]) }, 'cursor'],
    ['a cursor whose date is not in UTC', { cursor: cursorOf(['2024-05-01T02:00:00+02:00', ID]) }, 'cursor'],
    ['a cursor whose id is in capitals', { cursor: cursorOf(['2024-05-01T00:00:00Z', ID.toUpperCase()]) }, 'cursor'],
    ['a cursor that is an object', { cursor: cursorOf({ date: '2024-05-01T00:00:00Z', id: ID }) }, 'cursor'],
    ['a cursor that is null', { cursor: cursorOf(null) }, 'cursor'],
    ['a user_id that is a NUL byte', { user_id: '\u0000' }, 'user_id'],
    ['a user_id with a NUL byte inside', { user_id: 'bob\u0000' }, 'user_id'],
    ['a user_id with a lone surrogate', { user_id: 'bob\ud800' }, 'user_id'],
    ['a user_id with a line break', { user_id: 'bob\n' }, 'user_id'],
    ['a user_id of 129 characters', { user_id: 'b'.repeat(129) }, 'user_id'],
  ])('answers 400 naming the parameter to an admin who sends %s', async (_, extra, path) => {
    for (const [handler, route] of [[records, '/api/data/records'], [swing, '/api/data/swing-analyze']] as const) {
      if (route.endsWith('swing-analyze') && path === 'cursor') continue; // no cursor there
      // Act
      const response = await call(handler, route, { ...WINDOW, ...extra }, ADMIN);
      // Assert
      expect(response.status).toBe(400);
      expect(response.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it('takes a cursor exactly as the API wrote it', async () => {
    // Arrange
    const first = await call(records, '/api/data/records', { ...WINDOW, limit: '1' }, ADMIN);
    // Act
    const second = await call(records, '/api/data/records', { ...WINDOW, limit: '1', cursor: first.body.next_cursor }, ADMIN);
    // Assert
    expect(second.status).toBe(200);
    expect(second.body.records[0].data).toBe(2);
  });

  it('stores and returns a record of year 0050, in a window of the first century', async () => {
    // Arrange
    await pool.query("INSERT INTO records (id, user_id, data, date, accepted_at) VALUES (gen_random_uuid(), 'carol', 50, $1, now())", ['0050-06-15T12:30:00.000001Z']);
    // Act
    const response = await call(records, '/api/data/records', { start_time: '0050-01-01T00:00:00Z', end_time: '0050-12-31T00:00:00+01:00' }, ADMIN);
    // Assert
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ start_time: '0050-01-01T00:00:00Z', end_time: '0050-12-30T23:00:00Z' });
    expect(response.body.records.map((r: { date: string }) => r.date)).toEqual(['0050-06-15T12:30:00.000001Z']);
  });
});

/** mulberry32: a small seeded generator, so that a failing case can be replayed. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fuzzer(seed: number) {
  const next = random(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  const noise = () => pick(['', '\u0000', ' ', '%00', '\ud800', 'é', '\u202e', "'", '"', '\\', ';--', '\n', 'Z', '+', '9'.repeat(int(30))]);
  const offset = () => pick(['Z', 'z', '', `${pick(['+', '-'])}${pad(int(30), 2)}${pick([':', ''])}${pad(int(70), 2)}`, `${pick(['+', '-'])}${pad(int(30), 2)}`]);
  const time = () =>
    pick([
      () => `${pad(int(10_001), 4)}-${pad(int(14), 2)}-${pad(int(33), 2)}${pick(['T', ' ', 't'])}${pad(int(25), 2)}:${pad(int(61), 2)}:${pad(int(61), 2)}${pick(['', `.${String(int(1e9)).slice(0, 1 + int(9))}`, '.0000000001'])}${offset()}`,
      () => `2024-05-01T00:0${int(10)}:00${offset()}${noise()}`,
      () => noise(),
      () => String(int(2 ** 31)),
    ])();
  const id = () => pick([ID, ID.toUpperCase(), '00000000-0000-0000-0000-000000000000', 'not-a-uuid', `${ID}\u0000`, ''.padEnd(36, 'f')]);
  const cursor = () =>
    pick([
      () => encodeCursor({ date: time(), id: id() }),
      () => cursorOf([time(), id()]),
      () => cursorOf(pick([null, 1, 'x', {}, [], [1, 2], [time()], [time(), id(), 3], [[time()], id()]])),
      () => Buffer.from(Array.from({ length: int(40) }, () => int(256))).toString('base64url'),
      () => noise(),
    ])();
  const limit = () => pick(['0', '1', '100', '1000', '1001', '-1', '1e3', ' 5', '5 ', '٣', '0x10', '9'.repeat(25), '1.5', '', noise()]);
  const userId = () => pick(['alice', 'bob', 'root', '', noise(), `bob${noise()}`, 'x'.repeat(int(300)), '\ud83d\ude00', '\udc00']);
  const bucket = () => pick(['1s', '10s', '1m', '15m', '1h', '1d', '7d', '366d', '367d', '0s', '1', 's', '1w', '1.5m', '-1m', '9999999d', '1M', ' 1m', `${int(2 ** 31)}s`, noise()]);
  const order = () => pick(['asc', 'desc', 'DESC', '', 'asc,desc', noise()]);
  const include = () => pick(['batches', 'batch', '', 'batches,batches', noise()]);
  return () => {
    const params: Record<string, string> = {};
    const maybe = (name: string, make: () => string, chance = 0.5) => {
      if (next() < chance) params[name] = make();
    };
    maybe('start_time', time, 0.9);
    maybe('end_time', time, 0.9);
    maybe('limit', limit);
    maybe('cursor', cursor);
    maybe('user_id', userId);
    maybe('bucket', bucket, 0.3);
    maybe('order', order, 0.2);
    maybe('include', include, 0.2);
    maybe(pick(['x', 'LIMIT', 'start_time ']), noise, 0.1);
    // Half the time a sane window, so that the other parameters reach the database.
    if (next() < 0.5) Object.assign(params, WINDOW);
    return { params, claims: next() < 0.5 ? ADMIN : USER };
  };
}

describe('a fuzz of the query parameters', () => {
  it.each([
    ['records', 1, 600],
    ['swing-analyze', 2, 300],
    ['series', 3, 300],
  ] as const)('never answers the %s route with a 5xx (seed %i, %i requests)', async (route, seed, count) => {
    // Arrange
    const handler = { records, 'swing-analyze': swing, series }[route];
    const next = fuzzer(seed);
    const failures: unknown[] = [];
    const statuses = new Set<number>();
    // Act
    for (let i = 0; i < count; i++) {
      const { params, claims } = next();
      const { status, body } = await call(handler, `/api/data/${route}`, params, claims);
      statuses.add(status);
      if (status >= 500 || (status !== 200 && !body.error?.code)) failures.push({ i, params, claims: claims.sub, status, body });
    }
    // Assert
    expect(failures).toEqual([]);
    expect([...statuses].sort()).toEqual([200, 400]); // both outcomes were reached
  });
});
