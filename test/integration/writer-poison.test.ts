/**
 * Poison isolation: a constraint refuses 5 of 5,000 records. Exactly their 5 messages fail and
 * reach the DLQ (after the queue's receives), with the database's reason logged under each
 * message id and kept for the dead-letter listing; every other record is stored once. Real
 * PostgreSQL (a CHECK added to this test's own database), fauxqs, the local event source with
 * the catalogue's batch size, and the writer's real adapters.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDeadLetterLog } from '../../lambdas/adapters/pg-dead-letter-log';
import { createPool, PgRecordStore } from '../../lambdas/adapters/pg-record-store';
import { SqsRecordQueue } from '../../lambdas/adapters/sqs-record-queue';
import { SqsRedelivery } from '../../lambdas/adapters/sqs-redelivery';
import type { FanoutDeps } from '../../lambdas/core/fanout';
import { packQueueMessages, recordIds, toQueuedRecords } from '../../lambdas/core/record';
import { WRITER_EVENT_SOURCE } from '../../lambdas/functions';
import { makeBatchWriterHandler } from '../../lambdas/handlers/batch-writer';
import { listDeadLetters } from '../../local/dead-letters';
import { SqsEventSource } from '../../local/sqs-poller';
import { lambdaContext } from '../fixtures/events';
import { outputOf } from '../support/metrics-output';
import { freshDatabase, freshQueue, sqsClient } from '../support/services';
import { waitFor } from '../support/stack';
import { MemoryRegistry } from '../support/memory-registry';

const REFUSED_VALUE = -666;
const CONSTRAINT = 'writer_test_refuses_minus_666';
const MAX_RECEIVES = 3;

const noMonitors: FanoutDeps = {
  registry: new MemoryRegistry(),
  broadcaster: { post: async () => 'delivered' },
};

const depth = async (sqs: SQSClient, url: string) => {
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
};

describe('records the database refuses', () => {
  let sqs: SQSClient;
  let pool: pg.Pool;
  let source: SqsEventSource | undefined;

  beforeAll(async () => {
    sqs = sqsClient();
    pool = createPool({ connection: await freshDatabase(), max: 4 });
    await pool.query(`ALTER TABLE records ADD CONSTRAINT ${CONSTRAINT} CHECK (data <> ${REFUSED_VALUE})`);
  });
  afterAll(async () => {
    await source?.stop();
    await pool.end();
    sqs.destroy();
  });

  it('fail exactly their own messages, with the reason kept, and every other record is stored once', { timeout: 180_000 }, async () => {
    // Arrange: 5,000 single-record uploads; 5 of them carry a value the CHECK refuses.
    // The visibility timeout covers gathering a batch of 1,000 and storing it, as on AWS.
    const queue = await freshQueue(sqs, { visibilityTimeoutSeconds: 5, maxReceiveCount: MAX_RECEIVES });
    const poisoned = new Set([17, 1203, 2500, 3999, 4998]);
    const records = Array.from({ length: 5000 }, (_, i) => ({ id: recordIds(1, 'alice')[0]!, data: poisoned.has(i) ? REFUSED_VALUE : i }));
    const bodies = records.map((r) => packQueueMessages('alice', '2024-06-01T00:00:00Z', toQueuedRecords([{ data: r.data, date: '2024-06-01T00:00:00Z' }], [r.id]))[0]!);
    const real = new PgRecordStore(pool);
    let statements = 0;
    const store = { insertBatch: (batch: Parameters<PgRecordStore['insertBatch']>[0]) => (statements++, real.insertBatch(batch)), findStored: (keys: Parameters<PgRecordStore['findStored']>[0]) => real.findStored(keys) };
    const writer = makeBatchWriterHandler({ store, redelivery: new SqsRedelivery(sqs), deadLetters: new PgDeadLetterLog(pool), fanout: noMonitors });
    source = new SqsEventSource({
      sqs,
      queueUrl: queue.queueUrl,
      queueArn: queue.queueArn,
      invoke: (event) => writer(event, lambdaContext()),
      batchSize: WRITER_EVENT_SOURCE.batchSize,
      batchWindowMs: 500,
      maxConcurrency: 2,
    });
    const count = async (sql: string) => Number((await pool.query(sql)).rows[0].count);

    // Act
    const { otherLines } = await outputOf(async () => {
      await new SqsRecordQueue(sqs, queue.queueUrl).send(bodies);
      source!.start();
      // A timeout falls through to the assertions, which say what was there instead.
      await waitFor(async () => (await depth(sqs, queue.dlqUrl)) === 5 && (await depth(sqs, queue.queueUrl)) === 0, 120_000).catch(() => undefined);
      await source!.stop();
    });

    // Assert: the store.
    const stored = await count('SELECT count(*) FROM records');
    const distinct = await count('SELECT count(DISTINCT id) FROM records');
    expect(stored).toBe(4995);
    expect(distinct).toBe(stored);
    expect(await count(`SELECT count(*) FROM records WHERE data = ${REFUSED_VALUE}`)).toBe(0);
    // The DLQ: exactly the 5 poisoned messages, each with the database's reason.
    const letters = await listDeadLetters(sqs, queue.dlqUrl, { reasons: new PgDeadLetterLog(pool) });
    expect(letters.map((l) => JSON.parse(l.body).records[0].data)).toEqual([REFUSED_VALUE, REFUSED_VALUE, REFUSED_VALUE, REFUSED_VALUE, REFUSED_VALUE]);
    for (const l of letters) {
      // The relation named is the partition that refused the row (records is partitioned by date).
      expect(l.reason).toMatch(new RegExp(`^refused by the database: new row for relation "records(_\\w+)?" violates check constraint "${CONSTRAINT}" \\(SQLSTATE 23514`));
      expect(l.refusal).toMatchObject({ sqlstate: '23514', constraint: CONSTRAINT, receiveCount: MAX_RECEIVES });
    }
    // The writer's log: each refusal under its message id, and nothing else refused.
    const logged = otherLines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    const refusals = logged.filter((l) => l.message === 'message refused by the database');
    expect(new Set(refusals.map((l) => l.messageId))).toEqual(new Set(letters.map((l) => l.messageId)));
    expect(refusals).toHaveLength(5 * MAX_RECEIVES);
    expect(refusals.every((l) => l.sqlstate === '23514' && String(l.reason).includes(CONSTRAINT))).toBe(true);
    console.log(`poison: sent 5000 records in 5000 messages, stored ${stored}, duplicated ${stored - distinct}, in DLQ ${letters.length} messages, ${refusals.length} refusals logged, ${statements} statements`);
  });
});
