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
import { processCpuMs } from './proc';
import { median } from './stats';
import { formatCount, formatFixed, formatRatio, type BenchTable } from './table';

export interface FanoutBenchOptions {
  /** @default [1, 100, 1000] */
  readonly monitorCounts?: readonly number[];
  /** @default 1000 */
  readonly records?: number;
  /** Batches timed at each count (after two untimed). @default 5 */
  readonly runs?: number;
}

interface Watcher {
  readonly socket: WebSocket;
  doneAt: number;
}

const RECORDS_FRAME = Buffer.from('{"type":"records"');
const DATA_KEY = Buffer.from('"data":');

export async function runFanoutBench(options: FanoutBenchOptions = {}): Promise<BenchTable> {
  const counts = options.monitorCounts ?? [1, 100, 1000];
  const records = options.records ?? 1000;
  const runs = options.runs ?? 5;
  const stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-fanout-')), { BATCH_WINDOW_MS: '1000', WRITER_TIMEOUT_MS: '30000', QUEUE_VISIBILITY_TIMEOUT_S: '180' });
  const watchers: Watcher[] = [];
  try {
    const info = await stack.start();
    const bearer = await logIn(info.httpUrl);
    let batchTag = 0;
    const connect = async () => {
      const socket = new WebSocket(`${info.wsUrl}/?token=${encodeURIComponent(bearer)}`, { skipUTF8Validation: true });
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      const w: Watcher = { socket, doneAt: 0 };
      socket.on('message', (data: Buffer) => {
        // Read on the bytes, without JSON.parse or even a string: a thousand monitors decoding
        // every frame would spend more of this 2-core machine than the fan-out they measure (on
        // AWS they run elsewhere). A batch's records carry data = tag × 1,000,000 + their index
        // and arrive in order on a connection (the fan-out sends no frame after one it could not
        // deliver), so the batch is complete at a monitor when its last record has arrived.
        if (!data.subarray(0, RECORDS_FRAME.length).equals(RECORDS_FRAME)) return;
        const at = data.lastIndexOf(DATA_KEY);
        const value = at < 0 ? Number.NaN : Number.parseInt(data.toString('latin1', at + DATA_KEY.length, at + DATA_KEY.length + 12), 10);
        if (value === batchTag * 1_000_000 + records - 1 && !w.doneAt) w.doneAt = performance.now();
      });
      watchers.push(w);
    };
    const timeBatch = async (): Promise<{ first: number; last: number; stack: number; monitors: number }> => {
      batchTag++;
      const stackCpu = processCpuMs(info.pid);
      const monitorsCpu = process.cpuUsage();
      for (const w of watchers) Object.assign(w, { doneAt: 0 });
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
      const monitors = process.cpuUsage(monitorsCpu);
      const cpu = { stack: processCpuMs(info.pid) - stackCpu, monitors: (monitors.user + monitors.system) / 1000 };
      return { first: Math.min(...done) - acceptedAt, last: Math.max(...done) - acceptedAt, ...cpu };
    };

    const results: { monitors: number; lastMs: number; firstMs: number; stackCpuMs: number; monitorsCpuMs: number }[] = [];
    for (const count of counts) {
      while (watchers.length < count) {
        const batch = Math.min(50, count - watchers.length);
        await Promise.all(Array.from({ length: batch }, connect));
      }
      // Untimed: environments warm, and their code optimised, at this connection count.
      for (let warm = 0; warm < 2; warm++) await timeBatch();
      const samples: Awaited<ReturnType<typeof timeBatch>>[] = [];
      for (let r = 0; r < runs; r++) samples.push(await timeBatch());
      results.push({
        monitors: count,
        lastMs: median(samples.map((s) => s.last)),
        firstMs: median(samples.map((s) => s.first)),
        stackCpuMs: median(samples.map((s) => s.stack)),
        monitorsCpuMs: median(samples.map((s) => s.monitors)),
      });
    }
    const baseline = results[0]!.lastMs;
    return {
      title: `Fan-out: one batch of ${formatCount(records)} records to N monitors, \`npm start\` in its own process, median of ${runs}`,
      columns: [
        { header: 'monitors' },
        { header: '202 → first monitor complete, ms' },
        { header: '202 → last monitor complete, ms' },
        { header: 'fan-out (last − 1 monitor), ms' },
        { header: 'vs 1 monitor' },
        { header: 'CPU ms: stack + monitors' },
      ],
      rows: results.map((r) => [
        formatCount(r.monitors),
        formatFixed(r.firstMs, 0),
        formatFixed(r.lastMs, 0),
        formatFixed(r.lastMs - baseline, 0),
        formatRatio(r.lastMs / baseline),
        `${formatFixed(r.stackCpuMs, 0)} + ${formatFixed(r.monitorsCpuMs, 0)}`,
      ]),
      notes: [
        'The time includes the batching window (1 s, the product setting) and the store; the baseline is the same batch to one monitor.',
        'Target (issue 9): 1,000 monitors in ≤ 1 s of fan-out locally: the fan-out column, the time beyond what one monitor takes.',
        'CPU: what the stack (gateway, writer, services) and this process (the monitors) used per batch; on 2 cores a fan-out is bound by it.',
      ],
    };
  } finally {
    for (const w of watchers) w.socket.terminate();
    await stack.cleanup();
  }
}
