/**
 * What the local stack keeps in DATA_DIR besides the services' own data: the files that say
 * where a running stack is (for `npm run dlq`, `npm run smoke` and tests), and the queue's
 * folder. Every such file is private (0600) and written whole.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueInfo } from './services';

/** The embedded queue's folder in DATA_DIR (its SQLite database). */
export const QUEUE_DIR = 'queue';

/** The running stack's endpoints, in DATA_DIR while it runs. */
export const RUNTIME_FILE = 'local-stack.json';

/** The running stack's outputs, in DATA_DIR while it runs, shaped as `cdk deploy --outputs-file` writes them. */
export const OUTPUTS_FILE = 'outputs.json';

/** The stack name in OUTPUTS_FILE. */
export const LOCAL_STACK_NAME = 'DataHandlerLocal';

export function localOutputs(p: { httpUrl: string; wsUrl: string; clientId: string; queue: QueueInfo }) {
  return {
    [LOCAL_STACK_NAME]: {
      HttpApiUrl: `${p.httpUrl}/`,
      WebSocketUrl: p.wsUrl,
      UserPoolClientId: p.clientId,
      DeadLetterQueueUrl: p.queue.dlqUrl,
    },
  };
}



/** Messages visible, in flight or delayed. */
export async function queuedCount(sqs: SQSClient, queueUrl: string): Promise<number> {
  const attrs = (
    await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    )
  ).Attributes ?? {};
  return (
    Number(attrs.ApproximateNumberOfMessages ?? 0) + Number(attrs.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(attrs.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/** Waits until no message is visible or in flight, or the timeout passes. */
export async function waitForEmptyQueue(sqs: SQSClient, queueUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await queuedCount(sqs, queueUrl)) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
