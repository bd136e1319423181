/**
 * The metrics the ingest and batch-writer handlers emit, read back from the EMF lines they
 * write, with metrics switched on for this file only. Real PostgreSQL and fauxqs; no monitor
 * is connected, so the registry is an empty one and nothing is ever posted.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PgDeadLetterLog } from '../../lambdas/adapters/pg-dead-letter-log';
import { createPool, PgRecordStore } from '../../lambdas/adapters/pg-record-store';
import { SqsRedelivery } from '../../lambdas/adapters/sqs-redelivery';
import { SqsRecordQueue } from '../../lambdas/adapters/sqs-record-queue';
import type { FanoutDeps } from '../../lambdas/core/fanout';
import { packQueueMessages, recordIds, toQueuedRecords } from '../../lambdas/core/record';
import { httpEvent, lambdaContext, sqsEvent } from '../fixtures/events';
import { importWithMetrics, metricNames, outputOf, type EmfBlob } from '../support/metrics-output';
import { localSqsClient } from '../../local/services';
import { freshDatabase, freshQueue, sqsClient } from '../support/services';
import { MemoryRegistry } from '../support/memory-registry';

type BatchWriterModule = typeof import('../../lambdas/handlers/batch-writer');
type IngestModule = typeof import('../../lambdas/handlers/ingest');

const WRITER_METRICS = ['BatchSize', 'MalformedMessages', 'InsertMs', 'StoreFailures', 'RefusedMessages', 'RecordsStored', 'DuplicateRecords', 'PushFailures', 'ConnectionsGone'];

const body = (userId: string, count: number, key: string) =>
  packQueueMessages(
    userId,
    '2024-06-01T00:00:00Z',
    toQueuedRecords(Array.from({ length: count }, (_, i) => ({ data: i, date: '2024-06-01T00:00:00Z' })), recordIds(count, userId, key)),
  )[0]!;

const noMonitors: FanoutDeps = {
  registry: new MemoryRegistry(),
  broadcaster: {
    post: async () => {
      throw new Error('no monitor is connected, so nothing should be posted');
    },
  },
};

/** The blobs that carry `name`, as metric name to value, plus each metric's unit. */
function emitted(blobs: EmfBlob[], name: string) {
  return blobs
    .filter((b) => metricNames(b).includes(name))
    .map((b) => ({
      namespace: b._aws.CloudWatchMetrics[0]!.Namespace,
      dimensions: b._aws.CloudWatchMetrics[0]!.Dimensions,
      service: b.service,
      values: Object.fromEntries(metricNames(b).map((n) => [n, b[n]])),
      units: Object.fromEntries(b._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => [m.Name, m.Unit]))),
    }));
}

describe('handler metrics', () => {
  let writerModule: BatchWriterModule;
  let ingestModule: IngestModule;
  let databaseUrl: string;
  let pool: pg.Pool;
  let sqs: SQSClient;

  beforeAll(async () => {
    [writerModule, ingestModule] = await importWithMetrics(() =>
      Promise.all([import('../../lambdas/handlers/batch-writer'), import('../../lambdas/handlers/ingest')]),
    );
    databaseUrl = await freshDatabase();
    pool = createPool({ connection: databaseUrl });
    sqs = sqsClient();
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    sqs.destroy();
    await pool.end();
  });

  it('the batch writer counts stored, duplicate and malformed records and times the insert, once a batch', async () => {
    const writer = writerModule.makeBatchWriterHandler({ store: new PgRecordStore(pool), fanout: noMonitors, redelivery: new SqsRedelivery(sqs), deadLetters: new PgDeadLetterLog(pool) });
    const good = [body('alice', 3, 'm-1'), body('bob', 2, 'm-2')];

    const { emf } = await outputOf(async () => {
      await writer(sqsEvent([good[0]!, '{"not":"a batch"}', good[1]!]), lambdaContext());
      await writer(sqsEvent(good), lambdaContext()); // a redelivery: every record is a duplicate
    });

    const batches = emitted(emf, 'RecordsStored');
    expect(batches).toHaveLength(2);
    expect(Object.keys(batches[0]!.values).sort()).toEqual([...WRITER_METRICS].sort());
    expect(batches[0]).toMatchObject({
      namespace: 'DataHandler',
      dimensions: [['service']],
      service: 'data-handler',
      values: { BatchSize: 5, MalformedMessages: 1, StoreFailures: 0, RefusedMessages: 0, RecordsStored: 5, DuplicateRecords: 0, PushFailures: 0, ConnectionsGone: 0 },
      units: { InsertMs: 'Milliseconds', BatchSize: 'Count', RecordsStored: 'Count', DuplicateRecords: 'Count' },
    });
    expect(batches[0]!.values.InsertMs).toBeGreaterThanOrEqual(0);
    expect(batches[1]!.values).toMatchObject({ BatchSize: 5, MalformedMessages: 0, RecordsStored: 0, DuplicateRecords: 5 });
  });

  it('the batch writer counts a failed store, and leaves out what a failed insert cannot tell', async () => {
    const broken = createPool({ connection: databaseUrl.replace(/\/[^/]+$/, '/no_such_database') });
    const writer = writerModule.makeBatchWriterHandler({ store: new PgRecordStore(broken), fanout: noMonitors, redelivery: new SqsRedelivery(sqs), deadLetters: new PgDeadLetterLog(pool) });

    const { emf } = await outputOf(() => writer(sqsEvent([body('carol', 3, 'f-1'), body('carol', 4, 'f-2')]), lambdaContext()));

    const [batch, ...others] = emitted(emf, 'StoreFailures');
    expect(others).toEqual([]);
    expect(batch!.values).toEqual({ BatchSize: 7, MalformedMessages: 0, StoreFailures: 1, RefusedMessages: 0, PushFailures: 0, ConnectionsGone: 0 });
    await broken.end();
  });

  it('the ingest handler counts the records of each accepted upload', async () => {
    const { queueUrl } = await freshQueue(sqs);
    const ingest = ingestModule.makeIngestHandler({ queue: new SqsRecordQueue(sqs, queueUrl), maxBodyBytes: 1024 * 1024 });
    const records = Array.from({ length: 4 }, (_, i) => ({ data: i, date: '2024-06-01T00:00:00Z' }));

    const { emf } = await outputOf(async () => {
      expect((await ingest(httpEvent({ body: { records } }), lambdaContext())).statusCode).toBe(202);
      expect((await ingest(httpEvent({ body: '{"records": [' }), lambdaContext())).statusCode).toBe(400);
    });

    expect(emitted(emf, 'RecordsAccepted').map((b) => [b.values, b.units])).toEqual([[{ RecordsAccepted: 4 }, { RecordsAccepted: 'Count' }]]);
  });

  it('the ingest handler counts each upload the queue refused, for the queue-unavailable alarm', async () => {
    const dead = localSqsClient('http://127.0.0.1:1', { maxAttempts: 1 });
    // The adapter from the same fresh module graph as the handler, so its error classes match.
    const { SqsRecordQueue: FreshQueue } = await import('../../lambdas/adapters/sqs-record-queue');
    const ingest = ingestModule.makeIngestHandler({ queue: new FreshQueue(dead, 'http://127.0.0.1:1/000000000000/gone'), maxBodyBytes: 1024 });

    const { emf } = await outputOf(async () => {
      expect((await ingest(httpEvent({ body: { data: 1, date: '2024-06-01T00:00:00Z' } }), lambdaContext())).statusCode).toBe(503);
    });

    expect(emitted(emf, 'QueueUnavailable').map((b) => b.values)).toEqual([{ QueueUnavailable: 1 }]);
    dead.destroy();
  });
});
