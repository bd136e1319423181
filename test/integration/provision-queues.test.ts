/**
 * The local stack finds the queues another tool made (`npm run deploy:localstack`), whatever
 * their attributes, instead of failing on CreateQueue's "same name, other attributes" error.
 */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { provisionQueues } from '../../local/services';
import { sqsClient } from '../support/services';

describe('provisioning the record queue', () => {
  const sqs = sqsClient();
  afterAll(() => sqs.destroy());

  it('uses a queue and DLQ that exist with the deployed attributes, as they are', async () => {
    const name = `deployed-${randomBytes(4).toString('hex')}`;
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn;
    // As CloudFormation writes them: six writer timeouts, and JSON spelled with spaces.
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { VisibilityTimeout: '180', RedrivePolicy: `{"deadLetterTargetArn": "${dlqArn}", "maxReceiveCount": 5}` },
      }),
    );

    const info = await provisionQueues(inject('sqsEndpoint'), { queueName: name, visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });

    expect(info).toMatchObject({ queueUrl: queue.QueueUrl, dlqUrl: dlq.QueueUrl, queueName: name, dlqName: `${name}-dlq` });
    const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['VisibilityTimeout'] }))).Attributes;
    expect(attributes?.VisibilityTimeout).toBe('180');
  });

  it('creates a missing queue with its DLQ and redrive policy', async () => {
    const name = `fresh-${randomBytes(4).toString('hex')}`;

    const info = await provisionQueues(inject('sqsEndpoint'), { queueName: name, visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });

    const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: info.queueUrl, AttributeNames: ['All'] }))).Attributes!;
    expect(attributes.VisibilityTimeout).toBe('30');
    expect(JSON.parse(attributes.RedrivePolicy!)).toMatchObject({ maxReceiveCount: 3 });
  });
});
