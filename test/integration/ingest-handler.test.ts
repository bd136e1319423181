import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqsRecordQueue } from '../../lambdas/adapters/sqs-record-queue';
import { parseQueueMessage } from '../../lambdas/core/record';
import { makeIngestHandler } from '../../lambdas/handlers/ingest';
import { localSqsClient } from '../../local/services';
import { httpEvent, lambdaContext } from '../fixtures/events';
import { freshQueue, sqsClient } from '../support/services';

describe('the ingest handler with a real queue', () => {
  let sqs: SQSClient;
  let queueUrl: string;
  let ingest: ReturnType<typeof makeIngestHandler>;

  beforeAll(async () => {
    sqs = sqsClient();
    ({ queueUrl } = await freshQueue(sqs));
    ingest = makeIngestHandler({ queue: new SqsRecordQueue(sqs, queueUrl), maxBodyBytes: 1024 * 1024, now: () => Date.parse('2024-06-01T00:00:00Z') });
  });
  afterAll(() => sqs.destroy());

  const depth = async () =>
    Number((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes!.ApproximateNumberOfMessages);
  const takeAll = async () => {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    return (out.Messages ?? []).map((m) => parseQueueMessage(m.Body!));
  };
  beforeEach(async () => {
    while ((await takeAll()).length > 0);
  });

  it('answers 202 with the ids and puts the whole request in one message', async () => {
    const records = Array.from({ length: 1000 }, (_, i) => ({ data: i, date: '2024-05-01T12:00:00.000001+02:00' }));

    const response = await ingest(httpEvent({ body: { records } }), lambdaContext());

    expect(response.statusCode).toBe(202);
    const body = JSON.parse(response.body!);
    expect(body.accepted).toBe(1000);
    const messages = await takeAll();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ v: 1, user_id: 'alice', accepted_at: '2024-06-01T00:00:00Z' });
    expect(messages[0]!.records.map((r) => r.id)).toEqual(body.ids);
    expect(messages[0]!.records[0]).toEqual({ id: body.ids[0], data: 0, date: '2024-05-01T10:00:00.000001Z' });
  });

  it('maps a retried request with the same Idempotency-Key to the same ids', async () => {
    const event = () => httpEvent({ body: { data: 1, date: '2024-01-01T00:00:00Z' }, headers: { 'idempotency-key': 'k-1' } });
    const first = JSON.parse((await ingest(event(), lambdaContext())).body!);
    const second = JSON.parse((await ingest(event(), lambdaContext())).body!);
    expect(second.ids).toEqual(first.ids);
  });

  it.each([
    ['invalid JSON', httpEvent({ body: '{"data": 1,' }), 400, 'invalid_json'],
    ['a schema error', httpEvent({ body: { data: '1', date: '2024-01-01T00:00:00Z' } }), 400, 'validation_failed'],
    ['a bad Idempotency-Key', httpEvent({ body: { data: 1, date: '2024-01-01T00:00:00Z' }, headers: { 'idempotency-key': 'a b' } }), 400, 'validation_failed'],
    ['no claims', httpEvent({ body: { data: 1, date: '2024-01-01T00:00:00Z' }, claims: null }), 401, 'unauthorized'],
    ['a body that is not JSON', httpEvent({ body: 'data=1', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type'],
    ['a body over the limit', httpEvent({ body: { records: Array.from({ length: 1000 }, () => ({ data: 1, date: '2024-01-01T00:00:00Z', pad: 'x'.repeat(2000) })) } }), 413, 'payload_too_large'],
  ])('refuses %s with a JSON error and enqueues nothing', async (_, event, status, code) => {
    const response = await ingest(event, lambdaContext());
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body!).error.code).toBe(code);
    expect(await depth()).toBe(0);
  });

  it('names every bad field in a 400', async () => {
    const response = await ingest(httpEvent({ body: { records: [{ data: 1, date: '2024-01-01T00:00:00Z' }, { data: 1.5, date: '2024-01-01' }] } }), lambdaContext());
    expect(JSON.parse(response.body!).error.details).toEqual([
      { path: 'records.1.data', message: expect.stringContaining('integer') },
      { path: 'records.1.date', message: expect.stringContaining('ISO-8601') },
    ]);
  });

  it('answers 503 and accepts nothing when the queue is down', async () => {
    const dead = localSqsClient('http://127.0.0.1:1', { maxAttempts: 1 });
    const handler = makeIngestHandler({ queue: new SqsRecordQueue(dead, queueUrl), maxBodyBytes: 1024 });
    const response = await handler(httpEvent({ body: { data: 1, date: '2024-01-01T00:00:00Z' } }), lambdaContext());
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body!).error.code).toBe('queue_unavailable');
    dead.destroy();
  });
});
