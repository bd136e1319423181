/**
 * A sustained run through the whole local loop, as a user runs it: `npm start` in a process of
 * its own (embedded PostgreSQL, durable queue, the product's event-source settings), batch
 * uploads from 8 HTTP clients, 5 monitoring WebSockets. Prints records/s accepted, stored and
 * pushed (to all monitors), accept→push latency, and the stack's RSS at the start, middle and
 * end, against the targets; then checks that every accepted id is stored once and reached every
 * monitor. A progress line runs meanwhile.
 */
import { mkdtemp } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { Frame } from '../lambdas/core/frames';
import { ChildStack, token as logIn } from '../test/e2e/local-child-stack';
import { processCpuMs, processTreeCpuMs, readStackCpuUsage, cpuUsageBetween, rssMiB } from './proc';
import { formatCount, formatFixed, type BenchTable } from './table';

export interface SustainedOptions {
  /** @default 1_000_000 */
  readonly records?: number;
  /** Concurrent HTTP clients. @default 8 */
  readonly clients?: number;
  /** @default 1000 */
  readonly recordsPerUpload?: number;
  /** @default 5 */
  readonly monitors?: number;
  /**
   * Uploads start on a schedule of this many records a second (paced, not at saturation); a
   * client sends its next upload at its time, or at once when it is behind. @default - as fast as answered
   */
  readonly paceRecordsPerSecond?: number;
  /** The whole run fails after this. @default 900_000 */
  readonly timeoutMs?: number;
  /** Progress lines go here. @default stderr */
  readonly progress?: (line: string, final: boolean) => void;
}

/** Accept→push latencies in 1 ms buckets, up to a minute (the last bucket holds the rest). */
class Histogram {
  private readonly buckets = new Uint32Array(60_001);
  count = 0;
  max = 0;
  add(ms: number): void {
    const v = Math.max(0, ms);
    this.buckets[Math.min(60_000, Math.floor(v))]!++;
    this.count++;
    if (v > this.max) this.max = v;
  }
  percentile(p: number): number {
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return i;
    }
    return this.max;
  }
}

export async function runSustainedBench(options: SustainedOptions = {}): Promise<BenchTable> {
  const total = options.records ?? 1_000_000;
  const clients = options.clients ?? 8;
  const perUpload = options.recordsPerUpload ?? 1000;
  const monitorCount = options.monitors ?? 5;
  const deadline = Date.now() + (options.timeoutMs ?? 900_000);
  const progress = options.progress ?? ((line: string, final: boolean) => process.stderr.write(process.stderr.isTTY ? `\r${line}\x1b[K${final ? '\n' : ''}` : `${line}\n`));

  const stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-sustained-')), {
    // The product's settings, not the tests' fast ones.
    BATCH_WINDOW_MS: '1000',
    WRITER_TIMEOUT_MS: '30000',
    QUEUE_VISIBILITY_TIMEOUT_S: '180',
  });
  try {
    const info = await stack.start();
    const bearer = await logIn(info.httpUrl);
    const batchWindowMs = 1000;

    // What was accepted: each id's index, its upload, and when that upload was answered.
    const idIndex = new Map<string, number>();
    const uploads = Math.ceil(total / perUpload);
    const acceptedAt = new Float64Array(uploads);
    const uploadOf = new Int32Array(total);
    const latency = new Histogram();
    const reached = new Uint8Array(total); // monitors each record has reached
    let pushedToAll = 0;
    let lastPushAt = 0;

    // Monitors: JSON frames parsed here, first arrivals counted by index; pushes that overtake
    // their own 202 wait in `early` until the answer names them.
    const monitors = await Promise.all(
      Array.from({ length: monitorCount }, async () => {
        const socket = new WebSocket(`${info.wsUrl}/?token=${encodeURIComponent(bearer)}`);
        await new Promise<void>((resolve, reject) => {
          socket.once('open', () => resolve());
          socket.once('error', reject);
        });
        const m = { socket, seen: new Uint8Array(total), early: new Map<string, number>(), repeats: 0, missed: 0 };
        socket.on('message', (data: Buffer) => {
          const now = performance.now();
          const ids = recordIdsOf(data, () => m.missed++);
          for (const id of ids) {
            const i = idIndex.get(id);
            if (i === undefined) m.early.set(id, now);
            else arrive(m, i, now);
          }
        });
        return m;
      }),
    );
    // Every monitor gets the same frames: each is decoded once, not once a monitor, so that the
    // monitors (which on AWS run elsewhere) take less of this machine from the stack they measure.
    // A frame is known by its length and its ends, which hold its first and last ids.
    const decoded = new Map<string, readonly string[]>();
    function recordIdsOf(data: Buffer, onMissed: () => void): readonly string[] {
      const key = `${data.length}:${data.toString('latin1', 0, 256)}:${data.toString('latin1', Math.max(0, data.length - 256))}`;
      let ids = decoded.get(key);
      if (!ids) {
        const frame = JSON.parse(data.toString('utf8')) as Frame;
        ids = frame.type === 'records' ? frame.groups.flatMap((g) => g.records.map((r) => r.id)) : [];
        if (frame.type === 'missed') {
          onMissed();
          return ids; // each missed frame counts, at each monitor
        }
        if (decoded.size >= 256) decoded.delete(decoded.keys().next().value!);
        decoded.set(key, ids);
      }
      return ids;
    }
    function arrive(m: (typeof monitors)[number], i: number, at: number): void {
      if (m.seen[i]) {
        m.repeats++;
        return;
      }
      m.seen[i] = 1;
      latency.add(at - acceptedAt[uploadOf[i]!]!);
      if (++reached[i]! === monitorCount) {
        pushedToAll++;
        lastPushAt = at;
      }
    }

    // Uploads: 8 clients, until every record was accepted (a failed upload is retried).
    const started = performance.now();
    const rss = { start: rssMiB(info.pid), middle: NaN, end: NaN, peak: 0 };
    const postmaster = stack.postmaster().pid;
    const partsAtStart = await readStackCpuUsage(info.pid, stack.dataDir);
    const cpuAtStart = { stack: processCpuMs(info.pid), postgres: processTreeCpuMs(postmaster), bench: process.cpuUsage() };
    const pace = options.paceRecordsPerSecond;
    let behindMs = 0; // the furthest a paced upload started after its time
    let accepted = 0;
    let lastAcceptAt = 0;
    let failures = 0;
    let nextUpload = 0;
    const worker = async () => {
      while (nextUpload < uploads) {
        const u = nextUpload++;
        if (pace) {
          const wait = started + ((u * perUpload) / pace) * 1000 - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          else behindMs = Math.max(behindMs, -wait);
        }
        const from = u * perUpload;
        const count = Math.min(perUpload, total - from);
        const body = JSON.stringify({ records: Array.from({ length: count }, (_, k) => ({ data: (from + k) % 2_000_000_000, date: new Date(Date.UTC(2025, 0, 1) + (from + k) * 1000).toISOString() })) });
        for (;;) {
          if (Date.now() > deadline) throw new Error(`sustained: uploads not done in time (${formatCount(accepted)} of ${formatCount(total)} accepted)`);
          const answer = await fetch(`${info.httpUrl}/api/data/upload`, {
            method: 'POST',
            headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'idempotency-key': `sustained-${u}` },
            body,
          }).catch(() => undefined);
          if (answer?.status === 202) {
            const { ids } = (await answer.json()) as { ids: string[] };
            const at = performance.now();
            acceptedAt[u] = at;
            ids.forEach((id, k) => {
              idIndex.set(id, from + k);
              uploadOf[from + k] = u;
            });
            for (const m of monitors) {
              for (const id of ids) {
                const early = m.early.get(id);
                if (early !== undefined) {
                  m.early.delete(id);
                  arrive(m, idIndex.get(id)!, Math.max(early, at));
                }
              }
            }
            accepted += ids.length;
            lastAcceptAt = at;
            break;
          }
          failures++;
          await answer?.body?.cancel();
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };

    // The stored count, polled; progress and memory meanwhile.
    const db = await stack.database();
    let stored = 0;
    let storedAllAt = 0;
    const bar = (n: number) => '#'.repeat(Math.floor((n / total) * 30)).padEnd(30, '.');
    const line = () =>
      `[${bar(pushedToAll)}] accepted ${formatCount(accepted)} · stored ${formatCount(stored)} · pushed to all ${monitorCount} ${formatCount(pushedToAll)} of ${formatCount(total)} · stack RSS ${formatFixed(rssMiB(info.pid), 0)} MiB`;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        stored = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM records')).rows[0]!.n);
        if (!storedAllAt && stored >= total) storedAllAt = performance.now();
        const now = rssMiB(info.pid);
        rss.peak = Math.max(rss.peak, now);
        if (Number.isNaN(rss.middle) && accepted >= total / 2) rss.middle = now;
        progress(line(), false);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    await Promise.all(Array.from({ length: clients }, worker));
    while (pushedToAll < total || stored < total) {
      if (Date.now() > deadline) throw new Error(`sustained: not every record came back in time: ${line()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    rss.end = rssMiB(info.pid);
    const parts = cpuUsageBetween(partsAtStart, await readStackCpuUsage(info.pid, stack.dataDir));
    const benchCpu = process.cpuUsage(cpuAtStart.bench);
    const cpu = {
      stack: processCpuMs(info.pid) - cpuAtStart.stack,
      postgres: processTreeCpuMs(postmaster) - cpuAtStart.postgres,
      bench: (benchCpu.user + benchCpu.system) / 1000,
    };
    const wallMs = performance.now() - started;
    polling = false;
    await poller;
    progress(line(), true);

    // Verification: every accepted id stored once, and at every monitor.
    const distinct = await db.query<{ rows: string; ids: string }>('SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM records');
    let storedAccepted = 0;
    const ids = [...idIndex.keys()];
    for (let i = 0; i < ids.length; i += 50_000) {
      storedAccepted += Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM records WHERE id = ANY($1::uuid[])', [ids.slice(i, i + 50_000)])).rows[0]!.n);
    }
    await db.end();
    const duplicated = Number(distinct.rows[0]!.rows) - Number(distinct.rows[0]!.ids);
    const missingAtMonitors = monitors.map((m) => m.seen.reduce((n, v) => n + (v ? 0 : 1), 0));
    for (const m of monitors) m.socket.close();
    const lost = total - storedAccepted;
    if (idIndex.size !== total || lost !== 0 || duplicated !== 0 || missingAtMonitors.some((n) => n > 0)) {
      throw new Error(`sustained: verification failed: accepted ${idIndex.size}, lost ${lost}, duplicated ${duplicated}, missing at monitors ${missingAtMonitors.join('/')}`);
    }

    const seconds = (to: number) => (to - started) / 1000;
    const rate = (to: number) => formatCount(total / seconds(to));
    const p99 = latency.percentile(99);
    const perMillion = (ms: number) => formatFixed(ms / 1000 / (total / 1_000_000), 1);
    const { ingest = 0, 'batch-writer': writer = 0, ...otherFunctions } = parts.functionsMs as Record<string, number>;
    const otherFunctionsMs = Object.values(otherFunctions).reduce((a, b) => a + b, 0);
    return {
      title: `${pace ? `Paced loop at ${formatCount(pace)} records/s` : 'Sustained loop'}: ${formatCount(total)} records in uploads of ${formatCount(perUpload)} from ${clients} clients, ${monitorCount} monitors, \`npm start\` in its own process (product settings: batch window ${batchWindowMs} ms)`,
      columns: [{ header: 'measure', align: 'left' }, { header: 'result' }, { header: 'target', align: 'left' }],
      rows: [
        ...(pace ? [['uploads scheduled at, records/s / furthest an upload started behind its time, ms', `${formatCount(pace)} / ${formatCount(behindMs)}`, '']] : []),
        ['accepted (HTTP 202), records/s', rate(lastAcceptAt), ''],
        ['stored (PostgreSQL), records/s', rate(storedAllAt || lastPushAt), ''],
        [`pushed to all ${monitorCount} monitors, records/s (end to end)`, rate(lastPushAt), pace ? '' : '≥ 50,000'],
        ['accept→push latency p50, ms', formatCount(latency.percentile(50)), ''],
        ['accept→push latency p99, ms', formatCount(p99), pace ? `≤ ${formatCount(batchWindowMs + 1000)} (batch window + 1 s)` : 'at saturation: the target is for a steady load (bench paced)'],
        ['accept→push latency max, ms', formatCount(latency.max), ''],
        ['stack RSS start / middle / end, MiB', `${formatFixed(rss.start, 0)} / ${formatFixed(rss.middle, 0)} / ${formatFixed(rss.end, 0)}`, 'end within 20 % of middle'],
        ['stack RSS peak, MiB', formatFixed(rss.peak, 0), ''],
        ['verified: lost / duplicated / missing at a monitor', `0 / 0 / 0`, '0 / 0 / 0'],
        [
          'CPU s: stack / PostgreSQL / clients + monitors (this process)',
          `${formatFixed(cpu.stack / 1000, 0)} / ${formatFixed(cpu.postgres / 1000, 0)} / ${formatFixed(cpu.bench / 1000, 0)} of ${formatFixed((os.cpus().length * wallMs) / 1000, 0)}`,
          '',
        ],
        ['stack CPU-s per million records (PostgreSQL apart)', perMillion(parts.processMs), '≤ 20'],
        [
          '  by part: main thread / queue thread / ingest / batch-writer / other functions / other threads',
          [parts.mainThreadMs, parts.queueThreadMs, ingest, writer, otherFunctionsMs, parts.otherThreadsMs].map(perMillion).join(' / '),
          '',
        ],
        ['repeated pushes (deduplicated) / missed frames / upload retries', `${monitors.reduce((n, m) => n + m.repeats, 0)} / ${monitors.reduce((n, m) => n + m.missed, 0)} / ${failures}`, ''],
      ],
      notes: [
        'Rates are records over the time from the first upload to the last 202 (accepted), to the last row stored, and to the last record reaching every monitor.',
        'Latency: from the 202 of a record\'s upload to its first arrival at each monitor (a push that overtakes its 202 counts 0).',
        'RSS is the `npm start` process alone (PostgreSQL runs apart); the middle is read when half the records are accepted.',
        `CPU: what each used over the run, beside what ${os.cpus().length} cores offer in its wall time; on one machine the load's clients and monitors take their share.`,
        'CPU by part: the stack\'s own report (SIGUSR2, local/cpu-usage.ts); the main thread runs the gateways, the event source and DynamoDB; other threads are V8\'s GC and compiler helpers and libuv\'s pool.',
      ],
    };
  } finally {
    await stack.cleanup();
  }
}
