/**
 * Idempotency-Key conflicts, through the ingest handler with its real adapters: the queue on
 * fauxqs and the claimed keys in a table on dynalite, made as the local stack makes its own.
 */
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoIdempotencyKeys } from '../../lambdas/adapters/dynamo-idempotency-keys';
import { SqsRecordQueue } from '../../lambdas/adapters/sqs-record-queue';
import { IDEMPOTENCY_KEY_TTL_SECONDS } from '../../lambdas/core/idempotency';
import { parseQueueMessage, type QueueMessage } from '../../lambdas/core/record';
import { makeIngestHandler } from '../../lambdas/handlers/ingest';
import { localSqsClient } from '../../local/services';
import { httpEvent, lambdaContext } from '../fixtures/events';
import { documentClient, freshIdempotencyKeysTable, freshQueue, sqsClient } from '../support/services';

describe('the ingest handler with an Idempotency-Key', () => {
  let sqs: SQSClient;
  let doc: DynamoDBDocumentClient;
  let queueUrl: string;
  let tableName: string;
  let nowMs: number;
  let ingest: ReturnType<typeof makeIngestHandler>;

  beforeAll(async () => {
    sqs = sqsClient();
    doc = documentClient();
    ({ queueUrl } = await freshQueue(sqs));
    tableName = await freshIdempotencyKeysTable();
    ingest = makeIngestHandler({
      queue: new SqsRecordQueue(sqs, queueUrl),
      maxBodyBytes: 1024 * 1024,
      keys: new DynamoIdempotencyKeys(doc, tableName),
      now: () => nowMs,
    });
  });
  afterAll(() => {
    sqs.destroy();
    doc.destroy();
  });

  const takeAll = async (): Promise<QueueMessage[]> => {
    const all: QueueMessage[] = [];
    for (;;) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      if (!out.Messages?.length) return all;
      all.push(...out.Messages.map((m) => parseQueueMessage(m.Body!)));
    }
  };
  beforeEach(async () => {
    nowMs = Date.parse('2024-06-01T00:00:00Z');
    await takeAll();
  });

  const upload = (body: object, key: string, user = 'alice') =>
    ingest(httpEvent({ body, headers: { 'idempotency-key': key }, claims: { sub: user, 'cognito:groups': '[]' } }), lambdaContext());
  const twoRecords = { records: [{ data: 1, date: '2024-01-01T00:00:00Z' }, { data: 2, date: '2024-01-01T00:01:00Z' }] };
  const threeRecords = { records: [{ data: 10, date: '2024-01-01T00:00:00Z' }, { data: 20, date: '2024-01-01T00:01:00Z' }, { data: 30, date: '2024-01-01T00:02:00Z' }] };

  it('answers 202 with the same ids to the same key and body sent twice, and enqueues both under those ids', async () => {
    // Act
    const first = await upload(twoRecords, 'same-twice');
    const second = await upload(twoRecords, 'same-twice');
    // Assert: the second copy carries the same ids, which the store keeps once (pipeline tests).
    expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
    const firstIds = JSON.parse(first.body!).ids as string[];
    expect(JSON.parse(second.body!).ids).toEqual(firstIds);
    const messages = await takeAll();
    expect(messages.flatMap((m) => m.records.map((r) => r.id)).sort()).toEqual([...firstIds, ...firstIds].sort());
  });

  it('enqueues a retry again when the first attempt is not known to have reached the queue', async () => {
    // Arrange: the first attempt claimed the key, then the queue refused it (503).
    const dead = localSqsClient('http://127.0.0.1:1', { maxAttempts: 1 });
    const failing = makeIngestHandler({ queue: new SqsRecordQueue(dead, queueUrl), maxBodyBytes: 1024 * 1024, keys: new DynamoIdempotencyKeys(doc, tableName) });
    const refused = await failing(httpEvent({ body: twoRecords, headers: { 'idempotency-key': 'after-503' } }), lambdaContext());
    dead.destroy();
    expect(refused.statusCode).toBe(503);
    // Act
    const retry = await upload(twoRecords, 'after-503');
    // Assert
    expect(retry.statusCode).toBe(202);
    expect((await takeAll()).flatMap((m) => m.records.map((r) => r.data))).toEqual([1, 2]);
  });

  it('treats the same records spelled differently as the same body', async () => {
    // Arrange
    const first = await upload({ data: 5, date: '2024-01-01T02:00:00+02:00' }, 'respelled');
    // Act
    const second = await upload({ records: [{ date: '2024-01-01T00:00:00Z', data: 5 }] }, 'respelled');
    // Assert
    expect(second.statusCode).toBe(202);
    expect(JSON.parse(second.body!).ids).toEqual(JSON.parse(first.body!).ids);
  });

  it('refuses the same key with a different body with a 422 naming the header, and enqueues nothing of it', async () => {
    // Arrange
    const first = await upload(twoRecords, 'reused');
    const firstIds = JSON.parse(first.body!).ids as string[];
    await takeAll();
    // Act
    const second = await upload(threeRecords, 'reused');
    // Assert
    expect(second.statusCode).toBe(422);
    const error = JSON.parse(second.body!).error;
    expect(error.code).toBe('idempotency_key_reused');
    expect(error.message).toContain('Idempotency-Key');
    expect(await takeAll()).toEqual([]);
    // The first body is still a safe retry afterwards.
    const retry = await upload(twoRecords, 'reused');
    expect(retry.statusCode).toBe(202);
    expect(JSON.parse(retry.body!).ids).toEqual(firstIds);
  });

  it('keeps keys per user: two users may use the same key with different bodies', async () => {
    // Act
    const alice = await upload(twoRecords, 'shared-key', 'alice');
    const bob = await upload(threeRecords, 'shared-key', 'bob');
    // Assert
    expect([alice.statusCode, bob.statusCode]).toEqual([202, 202]);
    const aliceIds = JSON.parse(alice.body!).ids as string[];
    const bobIds = JSON.parse(bob.body!).ids as string[];
    expect(aliceIds.filter((id) => bobIds.includes(id))).toEqual([]);
    const byUser = new Map((await takeAll()).map((m) => [m.user_id, m.records.map((r) => r.data)]));
    expect(byUser).toEqual(new Map([['alice', [1, 2]], ['bob', [10, 20, 30]]]));
  });

  it('accepts a different body under a key whose claim has expired', async () => {
    // Arrange
    await upload(twoRecords, 'expired');
    nowMs += (IDEMPOTENCY_KEY_TTL_SECONDS + 1) * 1000;
    // Act
    const later = await upload(threeRecords, 'expired');
    // Assert
    expect(later.statusCode).toBe(202);
  });

  it('answers every one of 20 parallel requests with one key and body with 202 and the same ids', async () => {
    // Act
    const answers = await Promise.all(Array.from({ length: 20 }, () => upload(twoRecords, 'parallel')));
    // Assert
    expect(answers.map((a) => a.statusCode)).toEqual(Array(20).fill(202));
    expect(new Set(answers.map((a) => a.body!)).size).toBe(1);
  });

  it('stores hashes only: neither the user, the key nor the values', async () => {
    // Arrange
    await upload(threeRecords, 'secret-key-123', 'carol');
    // Act
    const items = (await doc.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
    // Assert
    const text = JSON.stringify(items);
    expect(items.length).toBeGreaterThan(0);
    expect(text).not.toContain('carol');
    expect(text).not.toContain('secret-key-123');
    expect(text).not.toContain('2024-01-01');
  });
});
