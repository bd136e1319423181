/**
 * Fan-out: one stored batch of 1,000 records to 1, 100 and 1,000 connected monitors, on
 * `npm start` in a process of its own. The time from the upload's 202 to the last record at the
 * last monitor, beside the same time for one monitor (the baseline) in the same run.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { ChildStack, token as logIn } from '../test/e2e/local-child-stack';
import { median } from './stats';
import { formatCount, formatFixed, formatRatio, type BenchTable } from './table';

export interface FanoutBenchOptions {
  /** @default [1, 100, 1000] */
  readonly monitorCounts?: readonly number[];
  /** @default 1000 */
  readonly records?: number;
  /** Batches timed at each count. @default 3 */
  readonly runs?: number;
}

interface Watcher {
  readonly socket: WebSocket;
  /** Records of the current batch seen so far. */
  got: number;
  doneAt: number;
}

export async function runFanoutBench(options: FanoutBenchOptions = {}): Promise<BenchTable> {
  const counts = options.monitorCounts ?? [1, 100, 1000];
  const records = options.records ?? 1000;
  const runs = options.runs ?? 3;
  const stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-fanout-')), { BATCH_WINDOW_MS: '1000', WRITER_TIMEOUT_MS: '30000', QUEUE_VISIBILITY_TIMEOUT_S: '180' });
  const watchers: Watcher[] = [];
  try {
    const info = await stack.start();
    const bearer = await logIn(info.httpUrl);
    let batchTag = 0;
    const connect = async () => {
      const socket = new WebSocket(`${info.wsUrl}/?token=${encodeURIComponent(bearer)}`);
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      const w: Watcher = { socket, got: 0, doneAt: 0 };
      socket.on('message', (data) => {
        // Counted without JSON.parse: a thousand monitors parsing every frame would spend more of
        // this 2-core machine than the fan-out they measure (on AWS they run elsewhere). Only this
        // batch's records count: their data carries the batch's tag.
        const text = data.toString();
        if (!text.startsWith('{"type":"records"')) return;
        for (const m of text.matchAll(/"data":(\d+)/g)) if (Math.floor(Number(m[1]) / 1_000_000) === batchTag) w.got++;
        if (w.got >= records && !w.doneAt) w.doneAt = performance.now();
      });
      watchers.push(w);
    };
    const timeBatch = async (): Promise<{ first: number; last: number }> => {
      batchTag++;
      for (const w of watchers) Object.assign(w, { got: 0, doneAt: 0 });
      const answer = await fetch(`${info.httpUrl}/api/data/upload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ records: Array.from({ length: records }, (_, i) => ({ data: batchTag * 1_000_000 + i, date: '2025-06-01T00:00:00Z' })) }),
      });
      if (answer.status !== 202) throw new Error(`fanout: upload answered ${answer.status}`);
      await answer.text();
      const acceptedAt = performance.now();
      const deadline = Date.now() + 120_000;
      while (watchers.some((w) => !w.doneAt)) {
        if (Date.now() > deadline) throw new Error(`fanout: ${watchers.filter((w) => !w.doneAt).length} of ${watchers.length} monitors incomplete after 120 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const done = watchers.map((w) => w.doneAt);
      return { first: Math.min(...done) - acceptedAt, last: Math.max(...done) - acceptedAt };
    };

    const results: { monitors: number; lastMs: number; firstMs: number }[] = [];
    for (const count of counts) {
      while (watchers.length < count) {
        const batch = Math.min(50, count - watchers.length);
        await Promise.all(Array.from({ length: batch }, connect));
      }
      await timeBatch(); // untimed: environments warm at this connection count
      const samples: { first: number; last: number }[] = [];
      for (let r = 0; r < runs; r++) samples.push(await timeBatch());
      results.push({ monitors: count, lastMs: median(samples.map((s) => s.last)), firstMs: median(samples.map((s) => s.first)) });
    }
    const baseline = results[0]!.lastMs;
    return {
      title: `Fan-out: one batch of ${formatCount(records)} records to N monitors, \`npm start\` in its own process, median of ${runs}`,
      columns: [{ header: 'monitors' }, { header: '202 → first monitor complete, ms' }, { header: '202 → last monitor complete, ms' }, { header: 'vs 1 monitor' }],
      rows: results.map((r) => [formatCount(r.monitors), formatFixed(r.firstMs, 0), formatFixed(r.lastMs, 0), formatRatio(r.lastMs / baseline)]),
      notes: [
        'The time includes the batching window (1 s, the product setting) and the store; the baseline is the same batch to one monitor.',
        'Target (issue 9): 1,000 monitors in ≤ 1 s of fan-out locally; "vs 1 monitor" is last-monitor ms ÷ the one-monitor ms.',
      ],
    };
  } finally {
    for (const w of watchers) w.socket.terminate();
    await stack.cleanup();
  }
}
