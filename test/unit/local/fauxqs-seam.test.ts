/**
 * The seam where the local stack reaches past fauxqs's public API (local/fauxqs-internals.ts):
 * the version is pinned, and the private stores and persistence still do what
 * durable-queue.ts relies on. An upgrade of fauxqs that changes them fails here, naming the
 * version, rather than in a start or a restart that silently loses the queue. No socket: the
 * public `buildApp` is driven through Fastify's `inject`.
 */
import { buildApp } from 'fauxqs';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { durableStores, FAUXQS_CHECKED_VERSION, installedFauxqs, loadFauxqsInternals, type FauxqsInternals } from '../../../local/fauxqs-internals';

const manifest = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

/** fauxqs over its durable stores, as durable-queue.ts builds it. */
function durableApp(parts: FauxqsInternals, dir: string) {
  const { stores, persistence } = durableStores(parts, dir);
  const { sqsStore } = stores;
  const app = buildApp({ logger: false, stores: stores as never });
  const call = async (action: string, body: object) => {
    const response = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${action}` },
      payload: JSON.stringify(body),
    });
    expect(response.statusCode, `${action}: ${response.body}`).toBe(200);
    return response.json() as Record<string, unknown>;
  };
  const close = async () => {
    await app.close();
    persistence.close();
  };
  return { sqsStore, call, close };
}

describe("fauxqs's private seam", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dh-fauxqs-seam-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('is pinned to the exact version the seam was checked against', () => {
    // Arrange
    const pinned = manifest.devDependencies.fauxqs;

    // Act
    const installed = installedFauxqs().version;

    // Assert
    expect(pinned, 'package.json must pin fauxqs exactly: its private dist/ files may change in any release').toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed, `fauxqs ${installed} is installed, package.json pins ${pinned}: run npm ci`).toBe(pinned);
    expect(
      installed,
      `fauxqs ${installed} is not the version local/fauxqs-internals.ts was checked against (${FAUXQS_CHECKED_VERSION}): check its dist/ files, then FAUXQS_CHECKED_VERSION`,
    ).toBe(FAUXQS_CHECKED_VERSION);
  });

  it('loads the private stores and persistence with the shape the durable queue uses', async () => {
    // Act
    const parts = await loadFauxqsInternals();

    // Assert
    expect(parts.version).toBe(installedFauxqs().version);
    const store = new parts.SqsStore();
    expect(store.queues).toBeInstanceOf(Map);
    expect([...store.allQueues()]).toEqual([]);
    expect(parts.SqsQueue.prototype.dequeue, `fauxqs ${parts.version}: SqsQueue no longer receives through dequeue()`).toEqual(expect.any(Function));
  });

  it('keeps queues, keyed by URL, and their messages across a restart on the same folder', async () => {
    // Arrange
    const parts = await loadFauxqsInternals();
    const first = durableApp(parts, dir);
    const { QueueUrl } = (await first.call('CreateQueue', { QueueName: 'seam' })) as { QueueUrl: string };
    await first.call('SendMessage', { QueueUrl, MessageBody: 'kept' });
    await first.close();

    // Act
    const second = durableApp(parts, dir);
    try {
      const queues = [...second.sqsStore.allQueues()];
      const received = (await second.call('ReceiveMessage', { QueueUrl, MaxNumberOfMessages: 10 })) as { Messages?: { Body: string }[] };

      // Assert
      expect(queues.map((q) => q.name)).toEqual(['seam']);
      expect(second.sqsStore.queues.get(queues[0]!.url), `fauxqs ${parts.version}: SqsStore.queues is no longer keyed by queue URL`).toBe(queues[0]);
      expect(queues[0]!.persistence, `fauxqs ${parts.version}: a restored queue no longer takes its persistence`).toBeDefined();
      expect(received.Messages?.map((m) => m.Body)).toEqual(['kept']);
    } finally {
      await second.close();
    }
  });

  it("sends and deletes with its SendMessage, SendMessageBatch and DeleteMessageBatch actions as its API does, refusing as its API refuses", async () => {
    // Arrange
    const parts = await loadFauxqsInternals();
    const app = durableApp(parts, dir);
    try {
      const { QueueUrl } = (await app.call('CreateQueue', { QueueName: 'actions' })) as { QueueUrl: string };

      // Act
      const one = parts.sendMessage({ QueueUrl, MessageBody: 'one' }, app.sqsStore) as { MessageId?: string };
      const batch = parts.sendMessageBatch({ QueueUrl, Entries: [{ Id: '0', MessageBody: 'two' }, { Id: '1', MessageBody: 'three' }] }, app.sqsStore) as { Successful?: unknown[]; Failed?: unknown[] };
      const received = (await app.call('ReceiveMessage', { QueueUrl, MaxNumberOfMessages: 10 })) as { Messages?: { Body: string; ReceiptHandle: string }[] };
      const deleted = parts.deleteMessageBatch({ QueueUrl, Entries: received.Messages!.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }, app.sqsStore) as { Successful?: unknown[] };

      // Assert
      expect(one.MessageId, `fauxqs ${parts.version}: sendMessage no longer answers a MessageId`).toEqual(expect.any(String));
      expect(batch.Successful, `fauxqs ${parts.version}: sendMessageBatch no longer answers Successful`).toHaveLength(2);
      expect(received.Messages?.map((m) => m.Body).sort()).toEqual(['one', 'three', 'two']);
      expect(deleted.Successful, `fauxqs ${parts.version}: deleteMessageBatch no longer answers Successful`).toHaveLength(3);
      expect(app.sqsStore.queues.get(QueueUrl), 'the queue').toBeDefined();
      expect(() => parts.sendMessage({ QueueUrl: `${QueueUrl}-none`, MessageBody: 'x' }, app.sqsStore)).toThrow(expect.objectContaining({ statusCode: 400 }));
    } finally {
      await app.close();
    }
  });

  it('receives with its ReceiveMessage action as its API does: what is there at once, a long poll answered by the next send, with the attributes asked for', async () => {
    // Arrange
    const parts = await loadFauxqsInternals();
    const app = durableApp(parts, dir);
    try {
      const { QueueUrl } = (await app.call('CreateQueue', { QueueName: 'receives' })) as { QueueUrl: string };
      parts.sendMessage({ QueueUrl, MessageBody: 'waiting' }, app.sqsStore);
      type Received = { Messages?: { Body: string; ReceiptHandle: string; MessageId: string; Attributes?: Record<string, string> }[] };

      // Act
      const atOnce = (await parts.receiveMessage({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }, app.sqsStore)) as Received;
      const polling = parts.receiveMessage({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }, app.sqsStore) as Promise<Received>;
      parts.sendMessage({ QueueUrl, MessageBody: 'late' }, app.sqsStore);
      const late = await polling;
      const empty = (await parts.receiveMessage({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }, app.sqsStore)) as Received;

      // Assert
      expect(atOnce.Messages?.map((m) => m.Body), `fauxqs ${parts.version}: receiveMessage no longer answers Messages`).toEqual(['waiting']);
      expect(atOnce.Messages?.[0]).toMatchObject({ MessageId: expect.any(String), ReceiptHandle: expect.any(String), Attributes: { ApproximateReceiveCount: '1', SentTimestamp: expect.any(String) } });
      expect(late.Messages?.map((m) => m.Body), `fauxqs ${parts.version}: a long poll no longer ends with the next send`).toEqual(['late']);
      expect(empty.Messages).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
