/**
 * Earlier versions kept the embedded queue in memory and saved what was left at a clean stop
 * in `queue-spool.json`. The queue is durable now; a spool that such a version left behind is
 * put back into it once, on the first start that finds it, and then removed.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { existsSync } from 'node:fs';
import { chmod, readFile, rename, rm } from 'node:fs/promises';

/** The file name, in DATA_DIR. */
export const LEGACY_SPOOL_FILE = 'queue-spool.json';

interface SpoolFile {
  readonly queue: string[];
  readonly dlq: string[];
}

function isSpool(value: unknown): value is SpoolFile {
  const v = value as SpoolFile;
  const bodies = (list: unknown) => Array.isArray(list) && list.every((b) => typeof b === 'string');
  return typeof v === 'object' && v !== null && bodies(v.queue) && bodies(v.dlq);
}

export type SpoolRestore =
  | { readonly outcome: 'none' }
  | { readonly outcome: 'restored'; readonly queue: number; readonly dlq: number }
  /** The file could not be read as a spool; it was set aside (mode 0600) under `keptAs`. */
  | { readonly outcome: 'unreadable'; readonly keptAs: string; readonly reason: string };

/**
 * Puts the messages of an old spool file back into the queues, then removes the file. A file
 * that is not a spool (truncated, say) does not block the start: it is set aside, and the
 * answer names it.
 */
export async function restoreLegacySpool(file: string, sqs: SQSClient, urls: { queueUrl: string; dlqUrl: string }): Promise<SpoolRestore> {
  if (!existsSync(file)) return { outcome: 'none' };
  let spool: unknown;
  let reason = 'it is not a queue spool';
  try {
    spool = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    reason = (error as Error).message;
  }
  if (!isSpool(spool)) {
    const keptAs = `${file}.unreadable-${Date.now()}`;
    await rename(file, keptAs);
    await chmod(keptAs, 0o600);
    return { outcome: 'unreadable', keptAs, reason };
  }
  for (const [url, bodies] of [[urls.queueUrl, spool.queue], [urls.dlqUrl, spool.dlq]] as const) {
    for (let i = 0; i < bodies.length; i += 10) {
      const out = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody })),
        }),
      );
      if (out.Failed?.length) throw new Error(`restoring ${file} failed: ${out.Failed[0]?.Message}`);
    }
  }
  // Every message is in the durable queue now; a crash before this line only sends them again,
  // which the writer's idempotence on record ids absorbs.
  await rm(file);
  return { outcome: 'restored', queue: spool.queue.length, dlq: spool.dlq.length };
}
