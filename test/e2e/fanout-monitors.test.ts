/**
 * Fan-out of one stored batch to 500 monitors on the local stack, over real sockets, through
 * the monitoring client: every monitor gets every record, and no frame is skipped or failed.
 * How long it takes is printed for the issue note; timing targets live in the benchmarks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Monitor } from '../../web/monitor-client.js';
import { startTestStack, waitFor } from '../support/stack';

const MONITORS = 500;
const RECORDS = 1000;

describe(`fan-out to ${MONITORS} monitors`, () => {
  const output: string[] = [];
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  const monitors: { monitor: Monitor; ids: Set<string>; completeAt?: number }[] = [];

  beforeAll(async () => {
    // The writer's default timeout (30 s), as deployed.
    stack = await startTestStack({ WRITER_TIMEOUT_MS: '30000', QUEUE_VISIBILITY_TIMEOUT_S: '60' }, { functionOutput: (line) => output.push(line) });
  }, 60_000);
  afterAll(async () => {
    for (let i = 0; i < monitors.length; i += 100) await Promise.all(monitors.slice(i, i + 100).map((m) => m.monitor.stop()));
    await stack?.cleanup();
  }, 60_000);

  it(`pushes one batch of ${RECORDS} records to every one of ${MONITORS} monitors, skipping no frame`, { timeout: 180_000 }, async () => {
    // Arrange: 500 connections of one user, opened 50 at a time.
    const token = (await stack.identity.tokenFor('fan', false)).access_token;
    for (let i = 0; i < MONITORS; i += 50) {
      const opened = Array.from({ length: Math.min(50, MONITORS - i) }, () => {
        const entry: (typeof monitors)[number] = { monitor: undefined as unknown as Monitor, ids: new Set() };
        entry.monitor = new Monitor({
          httpUrl: stack.httpUrl,
          wsUrl: stack.wsUrl,
          token: () => token,
          WebSocket,
          onRecords: (records) => {
            for (const r of records) entry.ids.add(r.id);
            if (entry.ids.size === RECORDS) entry.completeAt = performance.now();
          },
        }).start();
        monitors.push(entry);
        return entry;
      });
      await waitFor(() => opened.every((m) => m.monitor.socket?.readyState === WebSocket.OPEN), 60_000);
    }

    // Act
    const started = performance.now();
    const response = await fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ records: Array.from({ length: RECORDS }, (_, i) => ({ data: i, date: '2024-09-01T00:00:00Z' })) }),
    });
    expect(response.status).toBe(202);
    const ids = ((await response.json()) as { ids: string[] }).ids;
    await waitFor(() => monitors.every((m) => m.ids.size === RECORDS), 120_000);

    // Assert
    const times = monitors.map((m) => m.completeAt! - started).sort((a, b) => a - b);
    console.log(`fan-out of ${RECORDS} records to ${MONITORS} monitors: first complete ${Math.round(times[0]!)} ms, last ${Math.round(times.at(-1)!)} ms after the upload`);
    expect(monitors.every((m) => ids.every((id) => m.ids.has(id)))).toBe(true);
    expect(monitors.every((m) => m.monitor.stats.missedFrames === 0 && m.monitor.stats.repeated === 0 && m.monitor.stats.fetched === 0)).toBe(true);
    expect(output.filter((line) => line.includes('not delivered') || line.includes('push failed'))).toEqual([]);
  });
});
