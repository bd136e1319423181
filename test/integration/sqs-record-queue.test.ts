import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsRecordQueue } from '../../lambdas/adapters/sqs-record-queue';
import { QueueUnavailableError } from '../../lambdas/core/errors';
import { localSqsClient } from '../../local/services';
import { freshQueue, sqsClient } from '../support/services';

describe('SqsRecordQueue on fauxqs', () => {
  let sqs: SQSClient;
  let queueUrl: string;
  beforeAll(async () => {
    sqs = sqsClient();
    ({ queueUrl } = await freshQueue(sqs));
  });
  afterAll(() => sqs.destroy());

  const drain = async () => {
    const bodies: string[] = [];
    for (;;) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      if (!out.Messages?.length) return bodies;
      bodies.push(...out.Messages.map((m) => m.Body!));
    }
  };

  it('sends one body as one message', async () => {
    await new SqsRecordQueue(sqs, queueUrl).send(['{"a":1}']);
    expect(await drain()).toEqual(['{"a":1}']);
  });

  it('sends many bodies in batches of at most ten, losing none', async () => {
    const bodies = Array.from({ length: 23 }, (_, i) => JSON.stringify({ i }));
    await new SqsRecordQueue(sqs, queueUrl).send(bodies);
    expect((await drain()).sort()).toEqual([...bodies].sort());
  });

  it('reports an unreachable queue as QueueUnavailableError (a 503 to the client)', async () => {
    const dead = localSqsClient('http://127.0.0.1:1', { maxAttempts: 1 });
    await expect(new SqsRecordQueue(dead, queueUrl).send(['{}'])).rejects.toBeInstanceOf(QueueUnavailableError);
    dead.destroy();
  });

  it('reports a missing queue as QueueUnavailableError', async () => {
    await expect(new SqsRecordQueue(sqs, `${queueUrl}-missing`).send(['{}'])).rejects.toBeInstanceOf(QueueUnavailableError);
  });
});
