/**
 * No silent push loss, on the local stack with real sockets, through the monitoring client the
 * dashboard and the demo use (web/monitor-client.js):
 * - a commit that outlives the writer's timeout is pushed by the retry that finds it stored;
 * - a connection owed a missed frame is told on its next ping, and fetches what it missed;
 * - a monitor that reconnects fetches what was stored while it had no connection;
 * - history on open (the newest stored records) and the live stream pass each record on once.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DynamoConnectionRegistry } from '../../lambdas/adapters/dynamo-connection-registry';
import { createPool } from '../../lambdas/adapters/pg-record-store';
import { missedOf } from '../../lambdas/core/frames';
import { validateFrame } from '../support/asyncapi-contract';
import type { StoredRecord } from '../../lambdas/core/record';
import { queuedCount } from '../../local/runtime-files';
import { localDocumentClient } from '../../local/services';
import { Monitor, type Delivery } from '../../web/monitor-client.js';
import { freshDatabase } from '../support/services';
import { startTestStack, waitFor } from '../support/stack';
import { functionLines } from '../support/function-log';

const writerLines = (output: readonly string[]) => functionLines(output, 'batch-writer');

describe('no silent push loss on the local stack', () => {
  const output: string[] = [];
  const stackLog: string[] = [];
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let owner: pg.Pool;
  const monitors: Monitor[] = [];

  beforeAll(async () => {
    const databaseUrl = await freshDatabase();
    // A 3 s writer: a statement made to run 5 s commits after its invocation has timed out.
    stack = await startTestStack({ DATABASE_URL: databaseUrl, WRITER_TIMEOUT_MS: '3000', QUEUE_VISIBILITY_TIMEOUT_S: '4' }, { functionOutput: (line) => output.push(line), log: (line) => stackLog.push(line) });
    owner = createPool({ connection: databaseUrl });
    // The next commit that stores records sleeps, once: a slow commit on demand. A deferred
    // constraint trigger runs at COMMIT, after the client has sent it, whichever way the rows
    // went in (COPY or the INSERT statement); the plan row goes with that commit.
    await owner.query(`
      CREATE TABLE slow_plan (seconds double precision NOT NULL);
      CREATE FUNCTION slow_once() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      DECLARE s double precision;
      BEGIN
        DELETE FROM slow_plan RETURNING seconds INTO s;
        IF s IS NOT NULL THEN PERFORM pg_sleep(s); END IF;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER records_slow_commit AFTER INSERT ON records DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION slow_once();`);
  });
  afterAll(async () => {
    await Promise.all(monitors.map((m) => m.stop()));
    await stack?.cleanup();
    await owner?.end();
  });

  const tokenFor = async (user: string) => (await stack.identity.tokenFor(user, false)).access_token;
  const upload = async (token: string, count: number, data = 1) => {
    const response = await fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ records: Array.from({ length: count }, (_, i) => ({ data: data + i, date: '2024-08-01T00:00:00Z' })) }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { ids: string[] }).ids;
  };
  const storedRows = async (ids: readonly string[]) =>
    (await owner.query<StoredRecord>('SELECT id, user_id, data, date, accepted_at, stored_at FROM records WHERE id = ANY($1::uuid[])', [ids])).rows;
  const contractErrors: string[] = [];
  const watch = async (user: string, extra: { minReconnectMs?: number } = {}) => {
    const token = await tokenFor(user);
    const got = new Map<string, Delivery[]>();
    const frames: string[] = [];
    const monitor = new Monitor({
      httpUrl: stack.httpUrl,
      wsUrl: stack.wsUrl,
      token: () => token,
      WebSocket,
      onRecords: (records, how) => records.forEach((r) => got.set(r.id, [...(got.get(r.id) ?? []), how])),
      onFrame: (frame) => {
        frames.push(frame.type);
        // Every frame the stack sends keeps to the monitoring protocol's AsyncAPI document.
        contractErrors.push(...validateFrame(JSON.stringify(frame)).map((e) => `${frame.type}: ${e}`));
      },
      ...extra,
    }).start();
    monitors.push(monitor);
    await waitFor(() => monitor.socket?.readyState === WebSocket.OPEN && monitor.watermarkMs !== undefined);
    return { monitor, got, frames, token };
  };

  it("pushes a batch whose commit outlived the writer's timeout, when its retry finds the rows stored", { timeout: 90_000 }, async () => {
    // Arrange: a warm writer, so that its first try sends the COMMIT well within its 3 s (a
    // cold start on a busy machine could take them, and a COMMIT never sent stores nothing).
    const warmUp = await upload(await tokenFor('slow-commit-warm-up'), 1);
    await waitFor(async () => (await storedRows(warmUp)).length === 1, 30_000);
    const { got, token } = await watch('slow-commit');
    await owner.query('INSERT INTO slow_plan VALUES (5)');

    // Act
    const ids = await upload(token, 40);
    await waitFor(async () => (await storedRows(ids)).length === 40, 30_000);
    await waitFor(() => ids.every((id) => got.has(id)), 30_000);

    // Assert: the first invocation timed out after its rows were in; the retry pushed them, once each.
    const lines = writerLines(output);
    expect(stackLog.some((line) => /failed as a whole: batch-writer timed out after 3000 ms/.test(line))).toBe(true);
    expect(lines.some((l) => l.message === 'pushing again rows found already stored' && l.records === 40)).toBe(true);
    expect([...got.values()].filter((how) => how.length !== 1)).toEqual([]);
    expect(ids.every((id) => got.get(id)![0] === 'live')).toBe(true);
  });

  it('tells a connection what it missed on its next ping, and the client fetches exactly that', { timeout: 60_000 }, async () => {
    // Arrange: records stored before the monitor connects, then owed to it as a writer that
    // could not deliver them would leave them.
    const token = await tokenFor('owed');
    const ids = await upload(token, 25, 100);
    await waitFor(async () => (await storedRows(ids)).length === 25, 30_000);
    // The writer has pushed them and deleted its message before the monitor connects: a push
    // that lists connections after this one opened would bring the records live instead.
    await waitFor(async () => (await queuedCount(stack.sqs, stack.queue.queueUrl)) === 0, 30_000);
    const { monitor, got, frames } = await watch('owed');
    const registry = new DynamoConnectionRegistry(localDocumentClient(stack.dynamoEndpoint), stack.tableName);
    const mine = (await registry.list(0)).filter((c) => c.userId === 'owed');
    expect(mine).toHaveLength(1);
    await registry.noteMissed(mine[0]!.connectionId, missedOf(await storedRows(ids)));

    // Act
    monitor.ping();
    await waitFor(() => ids.every((id) => got.has(id)), 15_000);
    await monitor.pending;

    // Assert
    expect(frames).toContain('missed');
    expect(contractErrors).toEqual([]);
    expect(ids.every((id) => got.get(id)!.join() === 'missed')).toBe(true);
    expect(got.size).toBe(25);
    expect((await registry.list(0)).find((c) => c.userId === 'owed')!.missed).toBeUndefined();
  });

  it('loads the newest stored records as history, newest first up to its limit, and passes on a record in both history and live once', { timeout: 60_000 }, async () => {
    // Arrange: 30 records stored by three uploads before the monitor opens.
    const token = await tokenFor('historian');
    const earlier: string[] = [];
    for (const data of [10, 20, 30]) {
      const ids = await upload(token, 10, data);
      await waitFor(async () => (await storedRows(ids)).length === 10, 15_000);
      earlier.push(...ids);
    }
    const { monitor, got } = await watch('historian');

    // Act: history of the 25 newest, then a live upload.
    const first = await monitor.history({ limit: 25 });
    const fromFirst = [...got.keys()];
    const live = await upload(token, 4, 40);
    await waitFor(() => live.every((id) => got.has(id)), 15_000);
    const again = await monitor.history({ limit: 1000 });

    // Assert: the 25 newest by stored_at (the first upload's rows are the oldest), then every
    // one; the live records, in the second history too, were passed on once, as live.
    const newestFirst = (await owner.query("SELECT id FROM records WHERE user_id = 'historian' AND NOT (id = ANY($1::uuid[])) ORDER BY stored_at DESC, id DESC", [live])).rows.map((r) => r.id as string);
    expect(first).toEqual({ fetched: 25, complete: false });
    // The last upload's push may reach the monitor as it opens: those records come live, once,
    // and history passes on the rest of the 25 newest, newest first.
    const newest = newestFirst.slice(0, 25);
    expect(new Set(fromFirst)).toEqual(new Set(newest));
    const viaHistory = fromFirst.filter((id) => got.get(id)![0] === 'history');
    expect(viaHistory.length).toBeGreaterThanOrEqual(15);
    expect(viaHistory).toEqual(newest.filter((id) => viaHistory.includes(id)));
    expect(again).toEqual({ fetched: 34, complete: true });
    expect(earlier.every((id) => got.has(id))).toBe(true);
    expect(live.every((id) => got.get(id)!.join() === 'live')).toBe(true);
    expect([...got.values()].every((how) => how.length === 1)).toBe(true);
  });

  it('catches up after a reconnect on what was stored while it had no connection', { timeout: 60_000 }, async () => {
    // Arrange
    const { monitor, got, token } = await watch('reconnecting', { minReconnectMs: 4_000 });
    const before = await upload(token, 5, 200);
    await waitFor(() => before.every((id) => got.has(id)), 15_000);

    // Act: the connection drops; records are stored before the client is back.
    monitor.socket!.close();
    const during = await upload(token, 7, 300);
    await waitFor(async () => (await storedRows(during)).length === 7, 15_000);
    await waitFor(() => during.every((id) => got.has(id)), 20_000);

    // Assert
    expect(monitor.stats.catchUps).toBe(1);
    expect(during.every((id) => got.get(id)!.join() === 'catch-up')).toBe(true);
    expect(before.every((id) => got.get(id)!.join() === 'live')).toBe(true);
  });
});
