/**
 * A database outage is not poison: with the writer's retry schedule, a 15-minute outage ends with
 * every record stored once, nothing in the DLQ, and no manual step. Real PostgreSQL (behind a
 * proxy that is taken down), fauxqs, the local event source and the writer's real adapters. Time
 * is scaled down 60×: the schedule is the deployed one divided by 60, the outage 15 s for 15 min,
 * and the queue's visibility timeout 2 s, so that a returned message not delayed by the writer
 * would spend its 5 receives in seconds.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDeadLetterLog } from '../../lambdas/adapters/pg-dead-letter-log';
import { createPool, PgRecordStore } from '../../lambdas/adapters/pg-record-store';
import { SqsRecordQueue } from '../../lambdas/adapters/sqs-record-queue';
import { SqsRedelivery } from '../../lambdas/adapters/sqs-redelivery';
import type { FanoutDeps } from '../../lambdas/core/fanout';
import { packQueueMessages, recordIds, toQueuedRecords } from '../../lambdas/core/record';
import { STORE_RETRY_DELAYS_S } from '../../lambdas/core/redelivery';
import { QUEUE_MAX_RECEIVE_COUNT } from '../../lambdas/functions';
import { makeBatchWriterHandler } from '../../lambdas/handlers/batch-writer';
import { SqsEventSource } from '../../local/sqs-poller';
import { lambdaContext } from '../fixtures/events';
import { freshDatabase, freshQueue, sqsClient } from '../support/services';
import { waitFor } from '../support/stack';
import { DatabaseProxy } from '../support/writer-db-proxy';
import { MemoryRegistry } from '../support/memory-registry';

const SCALE = 60;
const OUTAGE_MS = (15 * 60 * 1000) / SCALE;

const noMonitors: FanoutDeps = {
  registry: new MemoryRegistry(),
  broadcaster: { post: async () => 'delivered' },
};

/** `messages` bodies of `perMessage` records each, for user `user`. */
const bodies = (user: string, messages: number, perMessage: number) =>
  Array.from({ length: messages }, (_, m) =>
    packQueueMessages(user, '2024-06-01T00:00:00Z', toQueuedRecords(Array.from({ length: perMessage }, (_, i) => ({ data: m * perMessage + i, date: '2024-06-01T00:00:00Z' })), recordIds(perMessage, user)))[0]!,
  );

const queueDepth = async (sqs: SQSClient, url: string) => {
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
};

describe('a database outage of 15 minutes (scaled 60× down)', () => {
  let sqs: SQSClient;
  let proxy: Awaited<ReturnType<typeof DatabaseProxy.start>>;
  let pool: pg.Pool;
  let direct: pg.Pool;
  let source: SqsEventSource | undefined;

  beforeAll(async () => {
    sqs = sqsClient();
    const databaseUrl = await freshDatabase();
    direct = createPool({ connection: databaseUrl });
    proxy = await DatabaseProxy.start(databaseUrl);
    pool = createPool({ connection: proxy.url, max: 2 });
  });
  afterAll(async () => {
    await source?.stop();
    await proxy.down();
    await Promise.all([pool.end(), direct.end()]);
    sqs.destroy();
  });

  it('ends with every record stored once and nothing in the DLQ, without a manual step', { timeout: 180_000 }, async () => {
    // Arrange: the deployed queue's receives, a short visibility timeout, the schedule scaled.
    const queue = await freshQueue(sqs, { visibilityTimeoutSeconds: 2, maxReceiveCount: QUEUE_MAX_RECEIVE_COUNT });
    const schedule = STORE_RETRY_DELAYS_S.map((s) => Math.max(1, Math.round(s / SCALE)));
    const writer = makeBatchWriterHandler({
      store: new PgRecordStore(pool),
      redelivery: new SqsRedelivery(sqs),
      deadLetters: new PgDeadLetterLog(pool),
      fanout: noMonitors,
      retryDelaysSeconds: schedule,
    });
    let maxReceive = 0;
    let failedInvocations = 0;
    const invoke = async (event: SQSEvent): Promise<SQSBatchResponse> => {
      for (const r of event.Records) maxReceive = Math.max(maxReceive, Number(r.attributes.ApproximateReceiveCount));
      const result = await writer(event, lambdaContext());
      if (result.batchItemFailures.length > 0) failedInvocations++;
      return result;
    };
    source = new SqsEventSource({ sqs, queueUrl: queue.queueUrl, queueArn: queue.queueArn, invoke, batchSize: 100, batchWindowMs: 100, maxConcurrency: 2 });
    const ingest = new SqsRecordQueue(sqs, queue.queueUrl);
    const early = bodies('before', 200, 10);
    const late = bodies('during', 100, 10);
    const sent = early.length * 10 + late.length * 10;

    // Act: the database goes away, records keep coming, and it comes back after the outage.
    await proxy.down();
    const outageStarted = Date.now();
    source.start();
    await ingest.send(early);
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
    await ingest.send(late);
    await new Promise((resolve) => setTimeout(resolve, outageStarted + OUTAGE_MS - Date.now()));
    await proxy.up();
    const count = async () => Number((await direct.query('SELECT count(*) FROM records')).rows[0].count);
    await waitFor(async () => (await count()) === sent, 120_000);
    // The last batches may still be in flight (stored, not yet deleted, or delayed before the
    // database came back and now redelivered as duplicates): the queue must drain by itself.
    await waitFor(async () => (await queueDepth(sqs, queue.queueUrl)) === 0, 60_000);

    // Assert
    const stored = await count();
    const distinct = Number((await direct.query('SELECT count(DISTINCT id) FROM records')).rows[0].count);
    const inDlq = await queueDepth(sqs, queue.dlqUrl);
    console.log(`outage: sent ${sent}, stored ${stored}, duplicated ${stored - distinct}, in DLQ ${inDlq}, highest receive ${maxReceive} of ${QUEUE_MAX_RECEIVE_COUNT}, failed invocations ${failedInvocations}`);
    expect(stored).toBe(sent);
    expect(distinct).toBe(sent);
    expect(inDlq).toBe(0);
    expect(await queueDepth(sqs, queue.queueUrl)).toBe(0);
    // The outage really spent receives, and the delays kept them within the DLQ's limit.
    expect(failedInvocations).toBeGreaterThan(0);
    expect(maxReceive).toBeGreaterThanOrEqual(3);
    expect(maxReceive).toBeLessThanOrEqual(QUEUE_MAX_RECEIVE_COUNT);
  });
});
