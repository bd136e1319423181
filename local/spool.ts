/**
 * The embedded queue lives in memory. On a clean stop, whatever is still in the queue or its
 * DLQ is written to a spool file, and the next start puts it back, so a restart loses nothing.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';

interface SpoolFile {
  readonly version: 1;
  readonly savedAt: string;
  readonly queue: string[];
  readonly dlq: string[];
}

interface InspectedQueue {
  messages: {
    ready: { body: string }[];
    delayed: { body: string }[];
    inflight: { message: { body: string } }[];
  };
}

async function bodiesOf(endpoint: string, name: string): Promise<string[]> {
  const response = await fetch(`${endpoint}/_fauxqs/queues/${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(`cannot inspect queue ${name}: HTTP ${response.status}`);
  const { messages } = (await response.json()) as InspectedQueue;
  return [...messages.ready.map((m) => m.body), ...messages.delayed.map((m) => m.body), ...messages.inflight.map((e) => e.message.body)];
}

/** Saves what is left in both queues; resolves with the counts saved. */
export async function saveSpool(
  file: string,
  endpoint: string,
  names: { queueName: string; dlqName: string },
): Promise<{ queue: number; dlq: number }> {
  const [queue, dlq] = await Promise.all([bodiesOf(endpoint, names.queueName), bodiesOf(endpoint, names.dlqName)]);
  if (queue.length + dlq.length > 0) {
    const spool: SpoolFile = { version: 1, savedAt: new Date().toISOString(), queue, dlq };
    await writeFile(`${file}.tmp`, JSON.stringify(spool));
    await rename(`${file}.tmp`, file);
  }
  return { queue: queue.length, dlq: dlq.length };
}

/** Puts a saved spool back into the queues and removes it; resolves with the counts restored. */
export async function restoreSpool(
  file: string,
  sqs: SQSClient,
  urls: { queueUrl: string; dlqUrl: string },
): Promise<{ queue: number; dlq: number }> {
  if (!existsSync(file)) return { queue: 0, dlq: 0 };
  const spool = JSON.parse(await readFile(file, 'utf8')) as SpoolFile;
  for (const [url, bodies] of [[urls.queueUrl, spool.queue], [urls.dlqUrl, spool.dlq]] as const) {
    for (let i = 0; i < bodies.length; i += 10) {
      const out = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody })),
        }),
      );
      if (out.Failed?.length) throw new Error(`restoring the queue spool failed: ${out.Failed[0]?.Message}`);
    }
  }
  // Keep the file until every message is back, then retire it (not delete: a record of it stays).
  await rename(file, `${file}.restored-${Date.now()}`);
  return { queue: spool.queue.length, dlq: spool.dlq.length };
}
