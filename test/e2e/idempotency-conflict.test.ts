/**
 * The idempotency conflict of issue 8 over real sockets: a 2-record upload, then a 3-record
 * upload under the same Idempotency-Key. The second used to answer 202, its first two ids
 * those of the first upload, so `[1, 2, 30]` was stored and two of its values were lost; now
 * it answers 422 and only the first body is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, startTestStack, waitFor } from '../support/stack';

describe('an Idempotency-Key reused with a different body, through the local stack', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let token: string;

  beforeAll(async () => {
    stack = await startTestStack();
    token = await login(stack.httpUrl);
  });
  afterAll(async () => {
    await stack?.cleanup();
  });

  const upload = (body: unknown, key: string) =>
    fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
      body: JSON.stringify(body),
    });
  const settled = () => waitFor(() => stack.eventSource.stats.messagesDeleted >= stack.eventSource.stats.messagesReceived && stack.eventSource.busy === 0);
  const storedData = async (values: number[]) =>
    (await stack.pool.query('SELECT data FROM records WHERE data = ANY($1::int[]) ORDER BY data', [values])).rows.map((r) => r.data as number);

  it('answers the 3-record body 422 and stores only the 2-record body sent first', async () => {
    // Arrange
    const first = await upload({ records: [{ data: 80001, date: '2024-08-01T00:00:00Z' }, { data: 80002, date: '2024-08-01T00:01:00Z' }] }, 'issue-8');
    expect(first.status).toBe(202);
    const firstIds = ((await first.json()) as { ids: string[] }).ids;
    await waitFor(async () => (await storedData([80001, 80002])).length === 2);
    // Act
    const second = await upload(
      { records: [{ data: 80010, date: '2024-08-01T00:00:00Z' }, { data: 80020, date: '2024-08-01T00:01:00Z' }, { data: 80030, date: '2024-08-01T00:02:00Z' }] },
      'issue-8',
    );
    // Assert
    expect(second.status).toBe(422);
    const error = ((await second.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('idempotency_key_reused');
    expect(error.message).toContain('Idempotency-Key');
    await settled();
    await new Promise((r) => setTimeout(r, 500));
    expect(await storedData([80001, 80002, 80010, 80020, 80030])).toEqual([80001, 80002]);
    const rows = await stack.pool.query('SELECT id FROM records WHERE id = ANY($1::uuid[])', [firstIds]);
    expect(rows.rowCount).toBe(2);
  });

  it('still answers the first body again 202 with the same ids, and stores it once', async () => {
    // Arrange
    const body = { records: [{ data: 81001, date: '2024-08-02T00:00:00Z' }] };
    const deletedBefore = stack.eventSource.stats.messagesDeleted;
    const first = (await (await upload(body, 'issue-8-retry')).json()) as { ids: string[] };
    // Act
    const again = await upload(body, 'issue-8-retry');
    // Assert: both copies went through the writer; the ids keep one row.
    expect(again.status).toBe(202);
    expect(((await again.json()) as { ids: string[] }).ids).toEqual(first.ids);
    await waitFor(() => stack.eventSource.stats.messagesDeleted >= deletedBefore + 2);
    await settled();
    expect(await storedData([81001])).toEqual([81001]);
  });
});
