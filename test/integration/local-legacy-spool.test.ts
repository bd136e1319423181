/**
 * A `queue-spool.json` left by a version whose queue lived in memory is put back into the
 * (now durable) queue once; one that cannot be read is set aside, named, and blocks nothing.
 */
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreLegacySpool } from '../../local/legacy-spool';
import { freshQueue, sqsClient } from '../support/services';

describe('restoring an old queue spool', () => {
  let sqs: SQSClient;
  let dir: string;
  beforeAll(async () => {
    sqs = sqsClient();
    dir = await mkdtemp(path.join(tmpdir(), 'dh-spool-'));
  });
  afterAll(async () => {
    sqs.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const bodiesIn = async (queueUrl: string) => {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    return (out.Messages ?? []).map((m) => m.Body).sort();
  };

  it('moves the spooled messages into the queue and its DLQ once, then removes the file', async () => {
    // Arrange
    const queue = await freshQueue(sqs);
    const file = path.join(dir, 'queue-spool.json');
    await writeFile(file, JSON.stringify({ version: 1, savedAt: '2026-01-01T00:00:00Z', queue: ['a', 'b', 'c'], dlq: ['d'] }));

    // Act
    const first = await restoreLegacySpool(file, sqs, queue);
    const second = await restoreLegacySpool(file, sqs, queue);

    // Assert
    expect(first).toEqual({ outcome: 'restored', queue: 3, dlq: 1 });
    expect(second).toEqual({ outcome: 'none' });
    expect(existsSync(file)).toBe(false);
    expect(await bodiesIn(queue.queueUrl)).toEqual(['a', 'b', 'c']);
    expect(await bodiesIn(queue.dlqUrl)).toEqual(['d']);
  });

  it('sets a truncated spool aside, private and named in the answer, without failing', async () => {
    // Arrange
    const queue = await freshQueue(sqs);
    const file = path.join(dir, 'truncated-spool.json');
    await writeFile(file, '{"version":1,"queue":["a",', { mode: 0o644 });

    // Act
    const result = await restoreLegacySpool(file, sqs, queue);

    // Assert
    expect(result).toMatchObject({ outcome: 'unreadable', keptAs: expect.stringContaining('truncated-spool.json.unreadable-') });
    const keptAs = (result as { keptAs: string }).keptAs;
    expect((await stat(keptAs)).mode & 0o777).toBe(0o600);
    expect(existsSync(file)).toBe(false);
    expect(await bodiesIn(queue.queueUrl)).toEqual([]);
  });
});
