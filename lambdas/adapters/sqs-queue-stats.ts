/**
 * QueueStats on SQS: GetQueueAttributes' approximate counts (visible, in flight, delayed).
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueDepth, QueueStats } from '../core/pipeline';

const ATTRIBUTES = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;

export class SqsQueueStats implements QueueStats {
  constructor(private readonly sqs: SQSClient) {}

  async depth(queueUrl: string): Promise<QueueDepth> {
    const attributes = (await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...ATTRIBUTES] }))).Attributes ?? {};
    const count = (name: (typeof ATTRIBUTES)[number]) => Number(attributes[name] ?? 0);
    return { visible: count('ApproximateNumberOfMessages'), in_flight: count('ApproximateNumberOfMessagesNotVisible'), delayed: count('ApproximateNumberOfMessagesDelayed') };
  }
}
