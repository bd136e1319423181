/**
 * RecordQueue on SQS.
 */
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { QueueUnavailableError } from '../core/errors';
import type { RecordQueue } from '../core/ports';
import { MAX_QUEUE_MESSAGE_BYTES } from '../core/record';
import { byteLength } from '../core/chunking';

/** SendMessageBatch takes at most 10 entries and 1 MiB in all. */
const MAX_BATCH_ENTRIES = 10;

export class SqsRecordQueue implements RecordQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(bodies: readonly string[]): Promise<void> {
    try {
      if (bodies.length === 1) {
        await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: bodies[0] }));
        return;
      }
      for (const group of groupForBatch(bodies)) {
        const out = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: group.map((body, i) => ({ Id: String(i), MessageBody: body })),
          }),
        );
        if (out.Failed?.length) throw new Error(`SQS refused ${out.Failed.length} entries: ${out.Failed[0]?.Code}`);
      }
    } catch (error) {
      throw new QueueUnavailableError(error);
    }
  }
}

/** Groups bodies for SendMessageBatch: at most 10 entries and 1 MiB in each call. */
function groupForBatch(bodies: readonly string[]): string[][] {
  const groups: string[][] = [];
  let group: string[] = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = byteLength(body);
    if (group.length === MAX_BATCH_ENTRIES || (group.length > 0 && bytes + size > MAX_QUEUE_MESSAGE_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(body);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
