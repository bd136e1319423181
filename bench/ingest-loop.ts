/**
 * Ingest loop, end to end on a local stack: upload over HTTP, store through the queue and the
 * batch writer, push back over the WebSocket. The baseline is the gateway's floor, a
 * `GET /health` round trip over the same client and connections, in the same run.
 *
 * The stack is `npm start` in a process of its own, with the product's event-source settings,
 * as a user runs it; the clients and the monitor run here, and the one-client loops from a
 * process of their own (one-client.mjs), so that no client's work lands on the thread it times.
 * With the stack, the client and the monitor in one process, the client's scavenges (4-7 ms,
 * against the stack's 1 ms alone) and the monitor's frame parsing fell in both one-client
 * loops' worst 1 %, and the first uploads timed were the stack's first.
 */
import { fork } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { WRITER_EVENT_SOURCE } from '../lambdas/functions';
import { ChildStack, token as logIn } from '../test/e2e/local-child-stack';
import { PushMonitor } from './push-monitor';
import { Deadline, percentile } from './stats';
import { formatCount, formatFixed, formatRatio, type BenchTable } from './table';

/** How the ingest benchmark is sized. */
export interface IngestLoopOptions {
  /** Records per loop. @default 2_000 */
  readonly records?: number;
  /** Concurrent HTTP clients. @default 4 */
  readonly workers?: number;
  /** Records per upload in the batched loop. @default 100 */
  readonly recordsPerUpload?: number;
  /** Any one loop, or wait for pushes, fails after this. @default 60_000 */
  readonly timeoutMs?: number;
}

interface LoopResult {
  readonly requests: number;
  readonly records: number;
  readonly wallMs: number;
  readonly latenciesMs: number[];
  /** `performance.now()` of the last answer. */
  readonly lastAnswerAt: number;
  /** Ids accepted (uploads only). */
  readonly ids: string[];
}

/**
 * Runs `requests` calls of `call` from `workers` concurrent workers. Bounded twice: by count,
 * and by a deadline after which it fails naming the loop and its progress.
 */
async function runLoop(
  what: string,
  requests: number,
  workers: number,
  timeoutMs: number,
  call: (index: number, signal: AbortSignal) => Promise<string[]>,
): Promise<LoopResult> {
  const deadline = new Deadline(what, timeoutMs);
  const latenciesMs: number[] = [];
  const ids: string[] = [];
  let next = 0;
  let failed = false;
  let lastAnswerAt = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests && !failed) {
      deadline.check(`${latenciesMs.length} of ${requests} requests answered`);
      const index = next++;
      // A signal per request, ending at the deadline, so a hung request cannot outlive it. One
      // signal shared by the loop gathered a listener per fetch (warnings past 1,500 of them).
      const signal = AbortSignal.timeout(Math.max(1, deadline.remainingMs()));
      const sent = performance.now();
      try {
        ids.push(...(await call(index, signal)));
      } catch (error) {
        failed = true;
        throw signal.aborted ? deadline.error(`${latenciesMs.length} of ${requests} requests answered`) : error;
      }
      lastAnswerAt = performance.now();
      latenciesMs.push(lastAnswerAt - sent);
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return { requests, records: ids.length, wallMs: lastAnswerAt - started, latenciesMs, lastAnswerAt, ids };
}

/** The one-client loops' latencies and wall times, measured in one-client.mjs. */
interface OneClientResult {
  /** Ids the warm-up uploads were given. */
  readonly warmUpIds: string[];
  readonly floor: LoopResult;
  readonly uploads: LoopResult;
}

/**
 * Single-record uploads, each right after a GET /health, one request at a time, from a process
 * of its own (one-client.mjs); killed if it has not answered within `timeoutMs` and a margin.
 */
async function runOneClient(httpUrl: string, token: string, bodies: string[], warmUpBodies: string[], timeoutMs: number): Promise<OneClientResult> {
  const child = fork(new URL('./one-client.mjs', import.meta.url), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  type Loop = { latenciesMs: number[]; ids: string[]; wallMs: number };
  type Answer = { ok: true; warmUpIds: string[]; floor: Loop; uploads: Loop } | { ok: false; error: string };
  try {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ingest-loop: the one client did not answer within ${timeoutMs / 1000} s`)), timeoutMs + 10_000);
      child.once('message', (message: Answer) => (clearTimeout(timer), resolve(message)));
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`ingest-loop: the one client exited (code ${code}) without an answer`))));
      child.send({ httpUrl, token, bodies, warmUpBodies, timeoutMs });
    });
    if (!answer.ok) throw new Error(`ingest-loop: ${answer.error}`);
    const result = ({ latenciesMs, ids, wallMs }: Loop): LoopResult => ({ requests: latenciesMs.length, records: ids.length, wallMs, latenciesMs, lastAnswerAt: Number.NaN, ids });
    return { warmUpIds: answer.warmUpIds, floor: result(answer.floor), uploads: result(answer.uploads) };
  } finally {
    child.kill();
  }
}

/** Record bodies built before any timing, so the client's JSON work stays out of the latency. */
function uploadBodies(uploads: number, perUpload: number): string[] {
  const start = Date.parse('2024-03-01T00:00:00Z');
  const record = (i: number) => ({ data: (i % 100) + 1, date: new Date(start + i * 1_000).toISOString() });
  return Array.from({ length: uploads }, (_, u) =>
    JSON.stringify(perUpload === 1 ? record(u) : { records: Array.from({ length: perUpload }, (_, k) => record(u * perUpload + k)) }),
  );
}

/** Runs the benchmark on a stack it starts and stops itself; resolves with its table. */
export async function runIngestLoopBench(options: IngestLoopOptions = {}): Promise<BenchTable> {
  const total = options.records ?? 2_000;
  const workers = options.workers ?? 4;
  const perUpload = options.recordsPerUpload ?? 100;
  const timeoutMs = options.timeoutMs ?? 60_000;
  // The product's settings, not the tests' fast ones.
  const settings = { BATCH_WINDOW_MS: String(WRITER_EVENT_SOURCE.batchWindowSeconds * 1000), WRITER_TIMEOUT_MS: '30000', QUEUE_VISIBILITY_TIMEOUT_S: '180' };
  const stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-bench-stack-')), settings);
  let monitor: PushMonitor | undefined;
  try {
    const { httpUrl, wsUrl } = await stack.start();
    await stack.warm();
    const token = await logIn(httpUrl);
    monitor = await PushMonitor.connect(wsUrl, token, 10_000);
    const pushed = monitor;

    const upload = async (body: string, signal: AbortSignal) => {
      const response = await fetch(`${httpUrl}/api/data/upload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
        signal,
      });
      const text = await response.text();
      if (response.status !== 202) throw new Error(`ingest-loop: upload answered ${response.status}: ${text.slice(0, 200)}`);
      return (JSON.parse(text) as { ids: string[] }).ids;
    };
    const health = async (_: number, signal: AbortSignal) => {
      const response = await fetch(`${httpUrl}/health`, { signal });
      await response.text();
      if (response.status !== 200) throw new Error(`ingest-loop: /health answered ${response.status}`);
      return [];
    };

    // Warm-up, untimed: opens the connections, fetches the JWKS, and sends one record through
    // the whole pipeline, so the first timed requests pay no start-up costs.
    await runLoop('ingest-loop: warm-up /health', 50, workers, timeoutMs, health);
    const warm = await runLoop('ingest-loop: warm-up upload', 1, 1, timeoutMs, (_, s) => upload(uploadBodies(1, 1)[0]!, s));
    await pushed.waitForAll(warm.ids, timeoutMs, 'ingest-loop: warm-up');

    const floor = await runLoop('ingest-loop: GET /health', total, workers, timeoutMs, health);
    // One client, one request at a time: the accept's own latency beside the gateway's floor.
    const { warmUpIds, floor: soloFloor, uploads: solo } = await runOneClient(httpUrl, token, uploadBodies(total, 1), uploadBodies(200, 1), timeoutMs);
    await pushed.waitForAll([...warmUpIds, ...solo.ids], timeoutMs, 'ingest-loop: one client');
    const loops: { label: string; result: LoopResult; pushLagMs: number }[] = [];
    for (const [label, uploads, size] of [
      ['(a) single-record uploads', total, 1],
      [`(b) uploads of ${perUpload} records`, Math.ceil(total / perUpload), perUpload],
    ] as const) {
      const bodies = uploadBodies(uploads, size);
      const result = await runLoop(`ingest-loop: ${label}`, uploads, workers, timeoutMs, (i, s) => upload(bodies[i]!, s));
      // Each loop's records are all back before the next loop starts, so the loops do not overlap.
      const lastPushAt = await pushed.waitForAll(result.ids, timeoutMs, `ingest-loop: ${label}`);
      loops.push({ label, result, pushLagMs: lastPushAt - result.lastAnswerAt });
    }

    const floorP50 = percentile(floor.latenciesMs, 50);
    return {
      title: `Ingest loop: \`npm start\` in its own process over 127.0.0.1, ${formatCount(total)} records, ${workers} concurrent workers (batch size ${WRITER_EVENT_SOURCE.batchSize}, window ${settings.BATCH_WINDOW_MS} ms)`,
      columns: [
        { header: 'loop', align: 'left' },
        { header: 'requests' },
        { header: 'requests/s' },
        { header: 'records/s' },
        { header: 'p50 ms' },
        { header: 'p99 ms' },
        { header: 'p50 vs /health' },
        { header: 'last 202 → last push ms' },
      ],
      rows: [
        [
          'baseline: GET /health (gateway floor)',
          formatCount(floor.requests),
          formatCount((floor.requests / floor.wallMs) * 1000),
          '—',
          formatFixed(floorP50, 2),
          formatFixed(percentile(floor.latenciesMs, 99), 2),
          formatRatio(1),
          '—',
        ],
        ...[
          ['one client: GET /health', soloFloor, soloFloor],
          ['one client: single-record uploads', solo, soloFloor],
        ].map(([label, result, base]) => [
          label as string,
          formatCount((result as LoopResult).requests),
          formatCount(((result as LoopResult).requests / (result as LoopResult).wallMs) * 1000),
          result === solo ? formatCount((solo.records / solo.wallMs) * 1000) : '—',
          `${formatFixed(percentile((result as LoopResult).latenciesMs, 50), 2)}`,
          formatFixed(percentile((result as LoopResult).latenciesMs, 99), 2),
          formatRatio(percentile((result as LoopResult).latenciesMs, 50) / percentile((base as LoopResult).latenciesMs, 50)),
          '—',
        ]),
        ...loops.map(({ label, result, pushLagMs }) => [
          label,
          formatCount(result.requests),
          formatCount((result.requests / result.wallMs) * 1000),
          formatCount((result.records / result.wallMs) * 1000),
          formatFixed(percentile(result.latenciesMs, 50), 2),
          formatFixed(percentile(result.latenciesMs, 99), 2),
          formatRatio(percentile(result.latenciesMs, 50) / floorP50),
          formatFixed(pushLagMs, 0),
        ]),
      ],
      notes: [
        'Latency: request sent to 202 (or 200) body read, per request; records/s counts accepted records over the loop\'s wall time.',
        `One client: p50 ${formatFixed(percentile(solo.latenciesMs, 50) - percentile(soloFloor.latenciesMs, 50), 2)} ms and p99 ${formatFixed(percentile(solo.latenciesMs, 99) - percentile(soloFloor.latenciesMs, 99), 2)} ms over /health's (targets: at most 1.0 and 3 ms); its ratio is to the one-client /health.`,
        'Last 202 → last push: from the loop\'s last answer until the monitor held every accepted id (it includes the batching window).',
        `Pushes: ${formatCount(pushed.arrivals.size)} records in ${formatCount(pushed.framesReceived)} frames, ${pushed.duplicates} repeats (at least once).`,
        'The stack, the concurrent loops\' clients with the monitor, and the one client each run in a process of their own, on one machine.',
      ],
    };
  } catch (error) {
    if (stack.lines.length) console.error(`ingest-loop: the stack's last log lines:\n  ${stack.lines.slice(-20).join('\n  ')}`);
    throw error;
  } finally {
    await monitor?.close();
    await stack.cleanup();
  }
}
