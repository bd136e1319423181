/**
 * The embedded queue keeps what it accepted on disk (fauxqs's SQLite, written through before
 * each answer, synced before a send's answer, one sync shared by the sends answered together): a
 * restart on the same folder finds every message, the files are private, and it listens on
 * 127.0.0.1 alone.
 */
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqsRecordQueue } from '../../lambdas/adapters/sqs-record-queue';
import { QUEUE_DB_FILE, startDurableQueue, startDurableQueueThread } from '../../local/durable-queue';
import { deleteMessages, enqueue, eventSourceChannel, receiveMessages } from '../../local/queue-channel';
import { ChannelRecordQueue } from '../../local/queue-channel-client.mjs';
import { localSqsClient, provisionQueues, startQueue } from '../../local/services';
import { SqsEventSource } from '../../local/sqs-poller';
import { requestCounter } from '../support/services';
import { waitFor } from '../support/stack';

/** node:sqlite (Node 22; this project's @types/node is 20's, which has no types for it). */
const { DatabaseSync } = createRequire(import.meta.url)('node:sqlite') as {
  DatabaseSync: new (file: string) => { prepare(sql: string): { get(): unknown }; close(): void };
};

describe('the durable embedded queue', () => {
  let dir: string;
  beforeEach(async () => {
    dir = path.join(await mkdtemp(path.join(tmpdir(), 'dh-dq-')), 'queue');
  });
  afterEach(async () => rm(path.dirname(dir), { recursive: true, force: true }));

  const start = (settings: { visibilityTimeoutSeconds: number; maxReceiveCount: number } = { visibilityTimeoutSeconds: 1, maxReceiveCount: 3 }) =>
    startQueue({ port: 0, dataDir: dir, ...settings });

  /**
   * Receives and deletes until `expected` bodies came (messages in flight become visible again
   * within the 1 s visibility timeout), then once more without waiting, so that a message too
   * many would show; sorted.
   */
  const receiveAll = async (endpoint: string, queueUrl: string, expected: number) => {
    const sqs = localSqsClient(endpoint);
    const bodies: string[] = [];
    const take = async (waitSeconds: number) => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds }));
      for (const m of out.Messages ?? []) {
        bodies.push(m.Body!);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    };
    try {
      const deadline = Date.now() + 15_000;
      while (bodies.length < expected && Date.now() < deadline) await take(1);
      await take(0);
    } finally {
      sqs.destroy();
    }
    return bodies.sort();
  };

  it('finds every message again after a restart on the same folder, those in flight included', async () => {
    // Arrange
    const first = await start();
    const sqs = localSqsClient(first.info.endpoint);
    const sent = Array.from({ length: 25 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    for (const body of sent) await sqs.send(new SendMessageCommand({ QueueUrl: first.info.queueUrl, MessageBody: body }));
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: first.info.queueUrl, MaxNumberOfMessages: 5 })); // in flight, never deleted
    sqs.destroy();

    // Act
    await first.stop();
    const second = await start();
    try {
      // Assert
      expect(new URL(second.info.queueUrl).port).toBe(new URL(second.info.endpoint).port);
      expect(await receiveAll(second.info.endpoint, second.info.queueUrl, sent.length)).toEqual(sent);
    } finally {
      await second.stop();
    }
  });

  it('answers a send only after a sync to disk, one for a batch; receives and deletes wait for none', async () => {
    // Arrange: the queue in this thread, to read its counts.
    const server = await startDurableQueue({ dir, port: 0 });
    const sqs = localSqsClient(server.endpoint);
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'group-commit' }));
      const commits = server.commits!;
      const at = () => ({ ...commits });

      // Act + Assert: one send, one sync that covers it.
      let before = at();
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'one' }));
      expect(commits.syncs - before.syncs).toBe(1);
      expect(commits.writes - before.writes).toBe(1);

      // A batch of ten: one sync.
      before = at();
      await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: `b${i}` })) }));
      expect(commits.syncs - before.syncs).toBe(1);
      expect(commits.writes - before.writes).toBe(10);

      // Receiving and deleting every message makes no sync.
      before = at();
      expect((await receiveAll(server.endpoint, QueueUrl!, 11)).length).toBe(11);
      expect(at()).toEqual(before);
    } finally {
      sqs.destroy();
      await server.close();
    }
  });

  it('writes a batch of ten sent, a receive of ten and a delete of ten in one commit each, where ten sends alone take ten', async () => {
    // Arrange: a second connection to the database reads the log's frames (each commit writes
    // at least one; one commit writes each page it changed once) and sees only what is committed.
    const server = await startDurableQueue({ dir, port: 0 });
    const sqs = localSqsClient(server.endpoint);
    const reader = new DatabaseSync(path.join(dir, QUEUE_DB_FILE));
    const framesWrittenBy = async (action: () => Promise<unknown>) => {
      reader.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
      await action();
      return (reader.prepare('PRAGMA wal_checkpoint(PASSIVE)').get() as { log: number }).log;
    };
    try {
      const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'one-commit' }))).QueueUrl!;
      const bodies = Array.from({ length: 10 }, (_, i) => `m${i}`);
      let handles: string[] = [];

      // Act
      const alone = await framesWrittenBy(async () => {
        for (const body of bodies) await enqueue(server.send, { queueUrl, bodies: [body] });
      });
      const batch = await framesWrittenBy(() => enqueue(server.send, { queueUrl, bodies }));
      const receive = await framesWrittenBy(async () => {
        handles = (await receiveMessages(server.send, { queueUrl, max: 10, waitSeconds: 0 })).map((m) => m.ReceiptHandle!);
      });
      const removal = await framesWrittenBy(() => deleteMessages(server.send, { queueUrl, receiptHandles: handles }));

      // Assert
      expect(handles).toHaveLength(10);
      expect(alone).toBeGreaterThanOrEqual(10);
      expect({ batch, receive, removal }).toEqual({ batch: expect.any(Number), receive: expect.any(Number), removal: expect.any(Number) });
      for (const [what, frames] of Object.entries({ batch, receive, removal })) expect(frames, `${what}: frames in the log`).toBeLessThan(10);
      const stored = reader.prepare("SELECT count(*) AS n, sum(receipt_handle IS NOT NULL) AS inFlight FROM sqs_messages WHERE queue_name = 'one-commit'").get() as { n: number; inFlight: number };
      expect(stored).toEqual({ n: 10, inFlight: 0 }); // committed: 20 sent, the 10 received deleted
    } finally {
      reader.close();
      sqs.destroy();
      await server.close();
    }
  });

  it("takes the ingest function's sends over a channel to its thread, and once the thread dies they go over SQS's API", async () => {
    // Arrange
    const server = await startDurableQueueThread({ dir, port: 0, log: () => undefined });
    const viaApi: string[] = [];
    try {
      const info = await provisionQueues(server.endpoint, { visibilityTimeoutSeconds: 1, maxReceiveCount: 3 });
      const sqs = localSqsClient(server.endpoint);
      const api = new SqsRecordQueue(sqs, info.queueUrl);
      const queue = new ChannelRecordQueue(server.channel()!, info.queueUrl, {
        send: async (bodies) => {
          viaApi.push(...bodies);
          await api.send(bodies);
        },
      });

      // Act: one body, then 25 (three SendMessageBatch calls in the thread).
      await queue.send(['one']);
      await queue.send(Array.from({ length: 25 }, (_, i) => `b${String(i).padStart(2, '0')}`));
      const beforeCrash = [...viaApi];
      await server.thread!.terminate();
      const deadline = Date.now() + 15_000;
      while (server.health().status !== 'ok' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await queue.send(['after']);

      // Assert: nothing went over the API until the channel closed; every body is queued once.
      expect(beforeCrash).toEqual([]);
      expect(viaApi).toEqual(['after']);
      sqs.destroy();
      expect(await receiveAll(server.endpoint, info.queueUrl, 27)).toEqual(['after', ...Array.from({ length: 25 }, (_, i) => `b${String(i).padStart(2, '0')}`), 'one'].sort());
    } finally {
      await server.close();
    }
  });

  it('keeps its files private: the folder 0700, the database and its WAL files 0600', async () => {
    // Arrange, Act
    const queue = await start();
    try {
      // Assert
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      const files = await readdir(dir);
      expect(files).toContain('fauxqs.db');
      for (const file of files) expect({ file, mode: (await stat(path.join(dir, file))).mode & 0o777 }).toEqual({ file, mode: 0o600 });
    } finally {
      await queue.stop();
    }
  });

  it('listens on 127.0.0.1 alone: another loopback address is refused', async () => {
    // Arrange
    const queue = await start();
    const port = Number(new URL(queue.info.endpoint).port);
    try {
      // Act
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.2');
        socket.once('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });

      // Assert
      expect(outcome).toBe('ECONNREFUSED');
    } finally {
      await queue.stop();
    }
  });

  it('brings a kept queue to the configured visibility timeout and receive count on the next start', async () => {
    // Arrange
    await (await start({ visibilityTimeoutSeconds: 30, maxReceiveCount: 3 })).stop();

    // Act
    const queue = await start({ visibilityTimeoutSeconds: 7, maxReceiveCount: 9 });
    const sqs = localSqsClient(queue.info.endpoint);
    try {
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.info.queueUrl, AttributeNames: ['All'] }));

      // Assert
      expect(Attributes?.VisibilityTimeout).toBe('7');
      expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}').maxReceiveCount).toBe(9);
    } finally {
      sqs.destroy();
      await queue.stop();
    }
  });

  it('refuses to start on a port already taken, naming the cause, and a stopped queue stops again quietly', async () => {
    // Arrange: a first queue holds its port.
    const first = await start();
    const port = Number(new URL(first.info.endpoint).port);
    try {
      // Act / Assert: its thread reports the failure instead of hanging the start.
      await expect(startQueue({ port, dataDir: `${dir}-second`, visibilityTimeoutSeconds: 1, maxReceiveCount: 3 })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.stop();
    }
    await expect(first.stop()).resolves.toBeUndefined();
  });

  it("answers an upload's send while it deletes thousands of settled messages, rather than after", async () => {
    // Arrange: 5,000 messages in flight, as after a large batch the writer has settled.
    const server = await startDurableQueueThread({ dir, port: 0, log: () => undefined });
    const info = await provisionQueues(server.endpoint, { visibilityTimeoutSeconds: 60, maxReceiveCount: 3 });
    const source = eventSourceChannel(() => server.channel(), info.queueUrl);
    const upload = new ChannelRecordQueue(server.channel()!, info.queueUrl, { send: async () => expect.fail('the channel must take the send') });
    try {
      await upload.send(Array.from({ length: 5_000 }, (_, i) => `settled-${i}`));
      const handles: string[] = [];
      while (handles.length < 5_000) handles.push(...(await source.receiveMessages(10, 0))!.map((m) => m.ReceiptHandle!));
      const order: string[] = [];

      // Act: the delete goes first; the send arrives while it runs.
      const deleting = source.deleteMessages(handles).then((n) => order.push(`delete of ${n}`));
      await new Promise((resolve) => setTimeout(resolve, 1));
      await upload.send(['an upload']).then(() => order.push('send'));
      await deleting;

      // Assert
      expect(order).toEqual(['send', 'delete of 5000']);
    } finally {
      await server.close();
    }
  });

  it("keeps the event source receiving when its thread dies: over the channel before, SQS's API while it is down, a new channel after, each message delivered once", async () => {
    // Arrange: the event source as the local stack wires it, its ReceiveMessage requests counted.
    const server = await startDurableQueueThread({ dir, port: 0, log: () => undefined });
    const info = await provisionQueues(server.endpoint, { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    const sqs = localSqsClient(server.endpoint);
    const pollerSqs = localSqsClient(server.endpoint);
    const requests = requestCounter(pollerSqs);
    const receiveRequests = () => requests('ReceiveMessageCommand');
    const delivered: string[] = [];
    const source = new SqsEventSource({
      sqs: pollerSqs,
      queueUrl: info.queueUrl,
      queueArn: info.queueUrl,
      invoke: async (event) => {
        delivered.push(...event.Records.map((r) => r.body));
        return { batchItemFailures: [] };
      },
      batchSize: 10,
      batchWindowMs: 50,
      maxConcurrency: 1,
      ...eventSourceChannel(() => server.channel(), info.queueUrl),
    });
    const sendAll = async (prefix: string) => {
      for (let i = 0; i < 5; i++) await sqs.send(new SendMessageCommand({ QueueUrl: info.queueUrl, MessageBody: `${prefix}${i}` }));
    };
    source.start();
    try {
      await sendAll('before');
      await waitFor(() => source.stats.messagesDeleted === 5);
      const requestsBefore = receiveRequests();

      // Act: the thread ends as a crash would, with the event source's long poll waiting on it.
      await server.thread!.terminate();
      await waitFor(() => server.health().status === 'ok', 15_000);
      await sendAll('after');
      await waitFor(() => source.stats.messagesDeleted === 10, 15_000);

      // Assert
      expect(requestsBefore).toBe(0);
      expect(receiveRequests()).toBeGreaterThan(0); // while the thread was down
      expect([...delivered].sort()).toEqual([...['after', 'before'].flatMap((p) => [0, 1, 2, 3, 4].map((i) => `${p}${i}`))].sort());
      expect(source.stats).toMatchObject({ messagesFailed: 0, invocationErrors: 0 });
    } finally {
      await source.stop();
      sqs.destroy();
      pollerSqs.destroy();
      await server.close();
    }
  });

  it('is started again on its port when its thread dies, reporting itself degraded meanwhile, and keeps what it had accepted', async () => {
    // Arrange
    const lines: string[] = [];
    const server = await startDurableQueueThread({ dir, port: 0, log: (line) => lines.push(line) });
    try {
      const info = await provisionQueues(server.endpoint, { visibilityTimeoutSeconds: 1, maxReceiveCount: 3 });
      const sqs = localSqsClient(server.endpoint);
      for (const body of ['a', 'b', 'c']) await sqs.send(new SendMessageCommand({ QueueUrl: info.queueUrl, MessageBody: body }));
      sqs.destroy();

      // Act: the thread ends as a crash would end it.
      await server.thread!.terminate();

      // Assert
      expect(server.health()).toMatchObject({ status: 'degraded', reason: expect.stringMatching(/embedded queue stopped/) });
      const deadline = Date.now() + 15_000;
      while (server.health().status !== 'ok' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(server.health()).toEqual({ status: 'ok' });
      expect(lines.some((l) => /the embedded queue is back after/.test(l))).toBe(true);
      expect(await receiveAll(server.endpoint, info.queueUrl, 3)).toEqual(['a', 'b', 'c']);
    } finally {
      await server.close();
    }
  });
});
