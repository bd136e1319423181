/**
 * What the local stack keeps in DATA_DIR besides the services' own data: the files that say
 * where a running stack is (for `npm run dlq`, `npm run smoke` and tests), and the queue's
 * folder. Every such file is private (0600) and written whole.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { QueueInfo } from './services';
import { writeStateFile } from './state-file';

/** The embedded queue's folder in DATA_DIR (its SQLite database). */
export const QUEUE_DIR = 'queue';

/** The running stack's endpoints, in DATA_DIR while it runs. */
export const RUNTIME_FILE = 'local-stack.json';

/** The running stack's outputs, in DATA_DIR while it runs, shaped as `cdk deploy --outputs-file` writes them. */
export const OUTPUTS_FILE = 'outputs.json';

/** The stack name in OUTPUTS_FILE. */
export const LOCAL_STACK_NAME = 'DataHandlerLocal';

/** Where a running stack is, and what a tool needs to reach it. */
export interface RunningStackFiles {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly clientId: string;
  readonly queue: QueueInfo;
  /** What `npm run dlq` connects with. */
  readonly databaseUrl: string;
  readonly postgresDataDir?: string;
}

/**
 * Writes RUNTIME_FILE, for tools such as `npm run dlq`, and OUTPUTS_FILE, in the shape of
 * `cdk deploy --outputs-file` for `npm run smoke`, both private (0600); resolves what removes
 * them again at stop.
 */
export async function writeRuntimeFiles(dataDir: string, stack: RunningStackFiles): Promise<() => Promise<unknown>> {
  const runtimeFile = path.join(dataDir, RUNTIME_FILE);
  await writeStateFile(runtimeFile, {
    httpUrl: stack.httpUrl,
    wsUrl: stack.wsUrl,
    sqsEndpoint: stack.queue.endpoint,
    queueUrl: stack.queue.queueUrl,
    dlqUrl: stack.queue.dlqUrl,
    databaseUrl: stack.databaseUrl,
    pid: process.pid,
    ...(stack.postgresDataDir ? { postgresDataDir: stack.postgresDataDir } : {}),
  });
  const outputsFile = path.join(dataDir, OUTPUTS_FILE);
  await writeStateFile(outputsFile, localOutputs(stack));
  return () => Promise.all([rm(runtimeFile, { force: true }), rm(outputsFile, { force: true })]);
}

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
