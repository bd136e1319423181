/**
 * The record queue of the ingest function: SQS's API (SqsRecordQueue), or, in an execution
 * environment of the local runtime that has a channel to the embedded queue, that channel
 * with SqsRecordQueue behind it for whatever the channel cannot send (local/queue-channel.ts).
 * The global is set by local/function-worker.mjs only; on AWS it is absent.
 */
import { SqsRecordQueue } from '../adapters/sqs-record-queue';
import type { RecordQueue } from '../core/ports';
import { sqsClient } from './sqs-client';

type LocalQueueFactory = (queueUrl: string, fallback: RecordQueue) => RecordQueue;

export function recordQueue(queueUrl: string): RecordQueue {
  const sqs = new SqsRecordQueue(sqsClient, queueUrl);
  const local = (globalThis as Record<symbol, unknown>)[Symbol.for('data-handler.local.record-queue')] as LocalQueueFactory | undefined;
  return local ? local(queueUrl, sqs) : sqs;
}
