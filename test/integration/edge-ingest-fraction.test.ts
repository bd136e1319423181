/**
 * The upload route judges a number by its JSON text: `2147483646.9999999999` is a fraction,
 * refused with a 400 naming the field, although JSON.parse reads it as 2147483647.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsRecordQueue } from '../../lambdas/adapters/sqs-record-queue';
import { makeIngestHandler } from '../../lambdas/handlers/ingest';
import { httpEvent, lambdaContext } from '../fixtures/events';
import { freshQueue, sqsClient } from '../support/services';

describe('the ingest handler and fractions', () => {
  let sqs: SQSClient;
  let queueUrl: string;
  let ingest: ReturnType<typeof makeIngestHandler>;

  beforeAll(async () => {
    sqs = sqsClient();
    ({ queueUrl } = await freshQueue(sqs));
    ingest = makeIngestHandler({ queue: new SqsRecordQueue(sqs, queueUrl), maxBodyBytes: 1024 * 1024 });
  });
  afterAll(() => sqs.destroy());

  const depth = async () =>
    Number((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes!.ApproximateNumberOfMessages);

  it.each([
    ['{"data": 2147483646.9999999999, "date": "2024-05-01T00:00:00Z"}', 'data'],
    ['{"data": -2147483648.00000000001, "date": "2024-05-01T00:00:00Z"}', 'data'],
    ['{"records": [{"data": 1, "date": "2024-05-01T00:00:00Z"}, {"data": 1e-400, "date": "2024-05-01T00:00:00Z"}]}', 'records.1.data'],
  ])('refuses %s with a 400 naming %s, and enqueues nothing', async (body, path) => {
    // Act
    const response = await ingest(httpEvent({ body }), lambdaContext());
    // Assert
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body!).error).toMatchObject({ code: 'validation_failed', details: [{ path, message: expect.stringMatching(/must be an integer/) }] });
    expect(await depth()).toBe(0);
  });

  it('accepts a whole number written with a fraction part or an exponent', async () => {
    // Act
    const response = await ingest(httpEvent({ body: '{"records": [{"data": 42.0, "date": "0050-01-01T00:00:00Z"}, {"data": 1e3, "date": "2024-05-01T00:00:00Z"}]}' }), lambdaContext());
    // Assert
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body!).accepted).toBe(2);
  });
});
