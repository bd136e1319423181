/**
 * Memory after load: `npm start` in a process of its own, idle; then a load of batch uploads
 * with monitors that read and monitors whose sockets stop reading; then every client leaves and
 * the stack idles. Prints the stack's RSS (its own process, PostgreSQL apart) idle before the
 * load (the baseline), at its peak, a minute after the load, and once the function environments
 * idle past their timeout are reclaimed.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { ChildStack, token as logIn } from '../test/e2e/local-child-stack';
import { rssMiB } from './proc';
import { formatCount, formatFixed, formatRatio, type BenchTable } from './table';

export interface MemoryBenchOptions {
  /** @default 200_000 */
  readonly records?: number;
  /** Monitors that read. @default 5 */
  readonly reading?: number;
  /** Monitors whose TCP sockets stop reading for the whole load. @default 20 */
  readonly paused?: number;
  /** The function environments' idle timeout (FUNCTION_IDLE_TIMEOUT_S). @default 120, the stack's own default */
  readonly idleTimeoutS?: number;
  /** How long the stack idles after the load, every client gone, before it is measured again. @default 60_000 */
  readonly settleMs?: number;
  /** Progress lines go here. @default stderr */
  readonly progress?: (line: string) => void;
}

const PER_UPLOAD = 1_000;
const CLIENTS = 8;

export async function runMemoryBench(options: MemoryBenchOptions = {}): Promise<BenchTable> {
  const records = options.records ?? 200_000;
  const idleTimeoutS = options.idleTimeoutS ?? 120;
  const settleMs = options.settleMs ?? 60_000;
  const settled = settleMs === 60_000 ? 'a minute' : `${settleMs / 1000} s`;
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-memory-')), {
    BATCH_WINDOW_MS: '1000',
    WRITER_TIMEOUT_MS: '30000',
    QUEUE_VISIBILITY_TIMEOUT_S: '180',
    FUNCTION_IDLE_TIMEOUT_S: String(idleTimeoutS),
  });
  const sockets: WebSocket[] = [];
  try {
    const info = await stack.start();
    const bearer = await logIn(info.httpUrl);
    const rss = () => rssMiB(info.pid);
    const upload = async (from: number, count: number) => {
      const answer = await fetch(`${info.httpUrl}/api/data/upload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ records: Array.from({ length: count }, (_, i) => ({ data: from + i, date: '2025-06-01T00:00:00Z' })) }),
      });
      if (answer.status !== 202) throw new Error(`memory: upload answered ${answer.status}`);
      await answer.text();
    };
    // Idle, warm: one upload through every part, then the stack settles.
    await upload(0, 10);
    await sleep(5_000);
    const idle = rss();

    let received = 0;
    for (let i = 0; i < (options.reading ?? 5) + (options.paused ?? 20); i++) {
      const socket = new WebSocket(`${info.wsUrl}/?token=${encodeURIComponent(bearer)}`, { skipUTF8Validation: true });
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      if (i < (options.reading ?? 5)) socket.on('message', (data: Buffer) => void (received += data.length));
      else (socket as unknown as { _socket: { pause(): void } })._socket.pause();
      sockets.push(socket);
    }

    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 250);
    const started = Date.now();
    let next = 0;
    const sender = async () => {
      while (next < records) {
        const from = next;
        next += PER_UPLOAD;
        await upload(from, Math.min(PER_UPLOAD, records - from));
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, sender));
    // Stored: the stack's own count of what the queue still holds, through its pipeline status.
    await waitForDrain(info.httpUrl, bearer);
    clearInterval(sampler);
    progress(`memory: ${formatCount(records)} records stored in ${((Date.now() - started) / 1000).toFixed(1)} s; the reading monitors took ${formatFixed(received / 1024 ** 2, 0)} MiB`);
    const afterLoad = rss();
    for (const s of sockets) s.terminate();
    progress(`memory: every client gone; idling ${settled}…`);
    await sleep(settleMs);
    const afterMinute = rss();
    progress(`memory: idling until the function environments are reclaimed (${idleTimeoutS} s idle)…`);
    await sleep(Math.max(0, idleTimeoutS * 1000 + 10_000 - settleMs));
    const reclaimed = rss();

    const row = (label: string, mib: number) => [label, formatFixed(mib, 0), formatRatio(mib / idle)];
    return {
      title: `Memory after load: ${formatCount(records)} records, ${options.reading ?? 5} reading and ${options.paused ?? 20} paused monitors, \`npm start\` in its own process`,
      columns: [{ header: 'when', align: 'left' }, { header: 'RSS, MiB' }, { header: 'vs idle' }],
      rows: [
        row('idle, before the load (baseline)', idle),
        row('peak during the load', peak),
        row('the load stored', afterLoad),
        row(`${settled} after every client left`, afterMinute),
        row(`environments reclaimed (${idleTimeoutS} s idle)`, reclaimed),
      ],
      notes: [
        "RSS of the stack's own process (gateways, the functions' environments in worker threads, the queue's thread, DynamoDB); PostgreSQL runs apart.",
        'What a paused monitor holds is bounded: 1 MiB in the gateway (then posts to it are refused, 429) plus what the kernel takes.',
        'Each function environment is a worker thread with its own heap (up to its memory size); an idle one is ended after FUNCTION_IDLE_TIMEOUT_S.',
      ],
    };
  } finally {
    for (const s of sockets) s.terminate();
    await stack.cleanup();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until the record queue holds nothing, visible or in flight (GET /api/pipeline/status). */
async function waitForDrain(httpUrl: string, bearer: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const status = (await (await fetch(`${httpUrl}/api/pipeline/status`, { headers: { authorization: `Bearer ${bearer}` } })).json()) as {
      queue?: { visible: number; in_flight: number; delayed: number };
    };
    const q = status.queue;
    if (q && q.visible + q.in_flight + q.delayed === 0) return;
    if (Date.now() > deadline) throw new Error('memory: the queue did not drain within 10 minutes');
    await sleep(500);
  }
}
