/**
 * Redelivery on SQS: ChangeMessageVisibility on messages the event source handed over. A message
 * then reported in `batchItemFailures` stays out of sight for its delay instead of the queue's
 * visibility timeout; the event source itself never changes it.
 */
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DelayedMessage, Redelivery } from '../core/ports';

/** Entries per ChangeMessageVisibilityBatch (SQS's limit). */
const BATCH = 10;
/** Requests in flight at once: 1,000 messages take 100 requests. */
const CONCURRENCY = 8;

/**
 * The URL of the queue with this ARN. The event carries only the ARN; the URL's form is fixed
 * by SQS (`https://sqs.{region}.{domain}/{account}/{name}`), and the emulators (fauxqs,
 * LocalStack) resolve it by region, account and name too.
 */
export function queueUrlFromArn(arn: string): string {
  const [prefix, partition, service, region, account, name] = arn.split(':');
  if (prefix !== 'arn' || service !== 'sqs' || !region || !account || !name) throw new Error(`not an SQS queue ARN: ${arn}`);
  const domain = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${domain}/${account}/${name}`;
}

export class SqsRedelivery implements Redelivery {
  constructor(private readonly sqs: SQSClient) {}

  async delay(messages: readonly DelayedMessage[]): Promise<string[]> {
    const requests: { queueUrl: string; entries: DelayedMessage[] }[] = [];
    const byQueue = new Map<string, DelayedMessage[]>();
    for (const m of messages) {
      const group = byQueue.get(m.queueArn) ?? [];
      group.push(m);
      byQueue.set(m.queueArn, group);
    }
    for (const [arn, group] of byQueue) {
      const queueUrl = queueUrlFromArn(arn);
      for (let i = 0; i < group.length; i += BATCH) requests.push({ queueUrl, entries: group.slice(i, i + BATCH) });
    }
    const failed: string[] = [];
    const next = requests.entries();
    const worker = async () => {
      for (const [, { queueUrl, entries }] of next) failed.push(...(await this.send(queueUrl, entries)));
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, requests.length) }, worker));
    return failed;
  }

  /** One batch request; resolves with the ids it could not delay. */
  private async send(queueUrl: string, entries: DelayedMessage[]): Promise<string[]> {
    try {
      const out = await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries.map((m, i) => ({ Id: String(i), ReceiptHandle: m.receiptHandle, VisibilityTimeout: m.delaySeconds })),
        }),
      );
      return (out.Failed ?? []).map((f) => entries[Number(f.Id)]!.messageId);
    } catch {
      return entries.map((m) => m.messageId);
    }
  }
}
