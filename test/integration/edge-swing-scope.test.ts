/**
 * The swing analysis takes `user_id` as the records route does: an admin analyses one user's
 * records with it, anyone else may name only themselves.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgRecordReader } from '../../lambdas/adapters/pg-record-reader';
import { createPool } from '../../lambdas/adapters/pg-record-store';
import { makeSwingAnalyzeHandler } from '../../lambdas/handlers/swing-analyze';
import { httpEvent, lambdaContext } from '../fixtures/events';
import { freshDatabase } from '../support/services';

const WINDOW = { start_time: '2024-05-01T00:00:00Z', end_time: '2024-05-02T00:00:00Z' };
const ADMIN = { sub: 'root', 'cognito:groups': '[admin]' };
const ALICE = { sub: 'alice', 'cognito:groups': '[]' };

let pool: pg.Pool;
let analyze: ReturnType<typeof makeSwingAnalyzeHandler>;

beforeAll(async () => {
  pool = createPool({ connection: await freshDatabase() });
  // Alice: a quiet stretch, a burst, a quiet stretch (one positive swing); Bob: nothing.
  const values = [10, 11, 10, 11, 10, 90, 10, 95, 5, 99, 10, 11, 10, 11, 10];
  for (const [i, data] of values.entries()) {
    const date = new Date(Date.parse('2024-05-01T00:00:00Z') + i * 5 * 60_000 + 1000).toISOString();
    await pool.query('INSERT INTO records (id, user_id, data, date, accepted_at) VALUES (gen_random_uuid(), $1, $2, $3, now())', ['alice', data, date]);
  }
  analyze = makeSwingAnalyzeHandler({ reader: new PgRecordReader(pool) });
});
afterAll(() => pool?.end());

async function ask(claims: Record<string, string>, extra: Record<string, string> = {}) {
  const event = { ...httpEvent({ method: 'GET', path: '/api/data/swing-analyze', claims }), queryStringParameters: { ...WINDOW, ...extra } };
  const response = await analyze(event, lambdaContext());
  return { status: response.statusCode, body: JSON.parse(response.body!) };
}

describe('the swing analysis of one user', () => {
  it("gives an admin who names a user that user's analysis, the same as the user's own", async () => {
    // Arrange
    const own = await ask(ALICE);
    // Act
    const byAdmin = await ask(ADMIN, { user_id: 'alice' });
    // Assert
    expect(own.status).toBe(200);
    expect(own.body.message).not.toBe('No Data to merge');
    expect(byAdmin).toEqual(own);
  });

  it('gives an admin who names a user without records no data, not everyone\'s analysis', async () => {
    // Act
    const everyone = await ask(ADMIN);
    const bob = await ask(ADMIN, { user_id: 'bob' });
    // Assert
    expect(everyone.body.message).not.toBe('No Data to merge');
    expect(bob).toEqual({ status: 200, body: { ...WINDOW, signals: [], message: 'No Data to merge' } });
  });

  it('answers 400 naming user_id to a user who names someone else', async () => {
    const response = await ask(ALICE, { user_id: 'bob' });
    expect(response.status).toBe(400);
    expect(response.body.error.details).toEqual([{ path: 'user_id', message: expect.stringMatching(/only for admins/) }]);
  });

  it('lets a user name themselves', async () => {
    expect(await ask(ALICE, { user_id: 'alice' })).toEqual(await ask(ALICE));
  });
});
