/**
 * What one invocation of the two busiest functions costs in CPU, the part of a Lambda's billed
 * duration that the code decides: the ingest function per upload and the batch writer per
 * 1,000 records. The baseline, in the same run, is the floor any handler pays for the same
 * bytes: parsing the request or the messages and writing them out again (JSON.parse and
 * JSON.stringify).
 *
 * The handlers run in this process, each as its module exports it (middy, logger, metrics off),
 * with the AWS calls that are I/O on Lambda in memory: the queue, the idempotency keys, the
 * monitors' registry and their posts. The writer stores into the run's embedded PostgreSQL
 * through its real store; the server's own CPU is not counted.
 */
import { performance } from 'node:perf_hooks';
import { MemoryIdempotencyKeys } from '../lambdas/adapters/memory-idempotency-keys';
import { createPool, PgRecordStore } from '../lambdas/adapters/pg-record-store';
import type { Connection, RecordQueue } from '../lambdas/core/ports';
import { packQueueMessages, recordIds, toQueuedRecords } from '../lambdas/core/record';
import { makeBatchWriterHandler } from '../lambdas/handlers/batch-writer';
import { makeIngestHandler } from '../lambdas/handlers/ingest';
import { httpEvent, lambdaContext, sqsEvent } from '../test/fixtures/events';
import { MemoryRegistry } from '../test/support/memory-registry';
import { formatCount, formatFixed, formatRatio, type BenchTable } from './table';

export interface HandlersOptions {
  /** A freshly migrated database for the writer's store. */
  readonly databaseUrl: string;
  /** Invocations measured per row, after as many to warm up. @default 300 */
  readonly invocations?: number;
}

/** CPU ms per call of `call`, over `n` calls after `n` to warm up (the JIT, the pool). */
async function cpuPerCall(n: number, call: (i: number) => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < n; i++) await call(i);
  const before = process.cpuUsage();
  for (let i = n; i < 2 * n; i++) await call(i);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / n;
}

const records = (count: number, offset: number) =>
  Array.from({ length: count }, (_, k) => ({ data: (offset + k) % 1000, date: new Date(Date.UTC(2025, 0, 1) + (offset + k) * 1000).toISOString() }));

/** The ingest function per upload, with and without an Idempotency-Key. */
async function ingestRows(n: number): Promise<string[][]> {
  const discard: RecordQueue = { send: async () => undefined };
  const handler = makeIngestHandler({ queue: discard, maxBodyBytes: 10 * 1024 * 1024, keys: new MemoryIdempotencyKeys() });
  const context = lambdaContext();
  const floor = (body: string) => JSON.stringify(JSON.parse(body));
  const rows: string[][] = [];
  for (const [label, count, keyed] of [
    ['ingest: an upload of 1,000 records with an Idempotency-Key', 1000, true],
    ['ingest: an upload of 1,000 records', 1000, false],
    ['ingest: an upload of 1 record', 1, false],
  ] as const) {
    const bodies = Array.from({ length: 8 }, (_, b) => JSON.stringify(count === 1 ? records(1, b)[0] : { records: records(count, b * count) }));
    const events = bodies.map((body) => httpEvent({ body }));
    const ms = await cpuPerCall(n, async (i) => {
      const event = keyed ? { ...events[i % 8]!, headers: { ...events[i % 8]!.headers, 'idempotency-key': `bench-${label.length}-${i}` } } : events[i % 8]!;
      const answer = (await handler(event, context)) as { statusCode: number };
      if (answer.statusCode !== 202) throw new Error(`handlers: ingest answered ${answer.statusCode}`);
    });
    const floorMs = await cpuPerCall(n, (i) => floor(bodies[i % 8]!));
    rows.push([label, formatCount(ms * 1000), formatFixed(floorMs * 1000, 1), formatRatio(ms / floorMs)]);
  }
  return rows;
}

/** The batch writer per 1,000 records (10 messages of 100), to no monitor and to 5 admins. */
async function writerRows(databaseUrl: string, n: number): Promise<string[][]> {
  const pool = createPool({ connection: databaseUrl, max: 2 });
  try {
    const rows: string[][] = [];
    for (const monitors of [0, 5]) {
      const admins: Connection[] = Array.from({ length: monitors }, (_, i) => ({
        connectionId: `admin-${i}`,
        userId: 'root',
        isAdmin: true,
        connectedAt: new Date().toISOString(),
        expiresAt: Math.floor(Date.now() / 1000) + 7200,
      }));
      const writer = makeBatchWriterHandler({
        store: new PgRecordStore(pool),
        redelivery: { delay: async () => [] },
        deadLetters: { noteRefusals: async () => undefined, refusals: async () => new Map() },
        fanout: { registry: new MemoryRegistry(admins), broadcaster: { post: async () => 'delivered' } },
      });
      // New ids for every invocation, so each one stores its 1,000 rows.
      const batch = (i: number) =>
        Array.from({ length: 10 }, (_, m) => packQueueMessages(`user-${m}`, '2025-01-01T00:00:00Z', toQueuedRecords(records(100, i * 1000 + m * 100), recordIds(100, `user-${m}`)))[0]!);
      const batches = Array.from({ length: 2 * n }, (_, i) => sqsEvent(batch(i)));
      const ms = await cpuPerCall(n, async (i) => {
        const result = await writer(batches[i]!, lambdaContext());
        if (result.batchItemFailures.length > 0) throw new Error('handlers: the writer failed messages');
      });
      const floorMs = await cpuPerCall(n, (i) => batches[i]!.Records.map((r) => JSON.stringify(JSON.parse(r.body))));
      rows.push([`batch writer: 1,000 records in 10 messages, stored, to ${monitors} admin monitors`, formatCount(ms * 1000), formatFixed(floorMs * 1000, 1), formatRatio(ms / floorMs)]);
    }
    return rows;
  } finally {
    await pool.end();
  }
}

export async function runHandlersBench(options: HandlersOptions): Promise<BenchTable> {
  const n = options.invocations ?? 300;
  const started = performance.now();
  const rows = [...(await ingestRows(n)), ...(await writerRows(options.databaseUrl, Math.max(20, Math.floor(n / 3))))];
  return {
    title: `Handlers: CPU per invocation in this process (${formatCount(n)} measured per ingest row, after as many to warm up)`,
    columns: [{ header: 'invocation', align: 'left' }, { header: 'CPU µs' }, { header: 'floor: JSON in and out, µs' }, { header: 'vs floor' }],
    rows,
    notes: [
      'CPU is this process\'s (user + system) over the measured calls; PostgreSQL\'s own is not counted. On Lambda a function gets a share of a vCPU by its memory size, so its duration scales these up.',
      'The queue, the idempotency keys (DynamoDB on AWS), the connections registry and the posts to monitors are in memory here: their SDK calls are I/O on Lambda.',
      `The whole benchmark took ${formatFixed((performance.now() - started) / 1000, 1)} s.`,
    ],
  };
}
