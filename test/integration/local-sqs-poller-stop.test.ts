/**
 * Stopping the local SQS event source leaves nothing in flight: every message a receive brought
 * back is handed to the function and settled before `stop()` resolves, and a message that no
 * receive took stays visible, not hidden until the visibility timeout. While it gathers a
 * batch, it does not ask for each message as it arrives; it receives, and deletes what it
 * settled, over the embedded queue's channel when it has one. Real fauxqs with its
 * SQLite persistence (the local stack's queue), on a folder of this test's own.
 */
import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localSqsClient, startQueue, type QueueInfo } from '../../local/services';
import { deleteOverChannel, receiveOverChannel } from '../../local/queue-channel';
import { ChannelClient } from '../../local/queue-channel-client.mjs';
import { SqsEventSource } from '../../local/sqs-poller';
import { requestCounter } from '../support/services';
import { waitFor } from '../support/stack';

/** Long enough that a message hidden by a lost receive would still be hidden when the test looks. */
const VISIBILITY_TIMEOUT_S = 30;
/** A bound, not a measurement: a stop that waited out a 20 s long poll would pass it. */
const PROMPT_STOP_MS = 5_000;

describe('stopping the SQS event source', () => {
  let dir: string;
  let queue: { info: QueueInfo; stop: () => Promise<void> };
  let queueArn: string;
  let sqs: SQSClient; // the test's own client
  let pollerSqs: SQSClient; // the event source's client, whose receives the test counts
  let source: SqsEventSource | undefined;
  let requests: ReturnType<typeof requestCounter>;
  const receivesSent = () => requests('ReceiveMessageCommand');
  const delivered: string[] = [];
  const records: SQSEvent['Records'] = [];

  const invoke = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    delivered.push(...event.Records.map((r) => r.body));
    records.push(...event.Records);
    return { batchItemFailures: [] };
  };

  const counts = async () => {
    const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.info.queueUrl, AttributeNames: ['All'] }));
    return { visible: Number(Attributes.ApproximateNumberOfMessages), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
  };

  type Channelled = Pick<ConstructorParameters<typeof SqsEventSource>[0], 'deleteMessages' | 'receiveMessages'>;
  const eventSource = (options: { batchSize: number; batchWindowMs: number; maxConcurrency: number } & Channelled) =>
    new SqsEventSource({ sqs: pollerSqs, queueUrl: queue.info.queueUrl, queueArn, invoke, ...options });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dh-poller-'));
    queue = await startQueue({ port: 0, dataDir: path.join(dir, 'queue'), visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_S, maxReceiveCount: 3 });
    sqs = localSqsClient(queue.info.endpoint);
    pollerSqs = localSqsClient(queue.info.endpoint);
    requests = requestCounter(pollerSqs);
    queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.info.queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    delivered.length = 0;
    records.length = 0;
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    sqs.destroy();
    pollerSqs.destroy();
    await queue.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves a message sent as it stops delivered or visible at once, never in flight, and stops promptly', async () => {
    // Arrange: every worker waiting in a long poll on the empty queue.
    source = eventSource({ batchSize: 10, batchWindowMs: 0, maxConcurrency: 2 });
    source.start();
    await waitFor(() => receivesSent() >= 2);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the receives reach the queue

    // Act: the message arrives while the stop is under way.
    const began = Date.now();
    const stopping = source.stop();
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.info.queueUrl, MessageBody: 'sent-as-it-stops' }));
    await stopping;
    const tookMs = Date.now() - began;

    // Assert: handed to the function and deleted, or still there to receive; hidden, never.
    const { visible, inFlight } = await counts();
    expect(inFlight).toBe(0);
    expect({ delivered, visible }).toSatisfy(
      (s: { delivered: string[]; visible: number }) =>
        (s.delivered.length === 1 && s.delivered[0] === 'sent-as-it-stops' && s.visible === 0) || (s.delivered.length === 0 && s.visible === 1),
    );
    expect(source.stats.messagesDeleted).toBe(delivered.length);
    expect(tookMs).toBeLessThan(PROMPT_STOP_MS);
  });

  it('while it gathers a batch, waits after a receive that came back short rather than asking again at once', async () => {
    // Arrange: each receive's start and what it brought, read from the poller's own client.
    const receives: { at: number; got: number }[] = [];
    pollerSqs.middlewareStack.add(
      (next, context) => async (args) => {
        const at = performance.now();
        const result = await next(args);
        if (context.commandName === 'ReceiveMessageCommand') receives.push({ at, got: (result.output as { Messages?: unknown[] }).Messages?.length ?? 0 });
        return result;
      },
      { step: 'initialize', name: 'timeReceives' },
    );
    source = eventSource({ batchSize: 100, batchWindowMs: 500, maxConcurrency: 1 });
    source.start();
    await waitFor(() => receivesSent() >= 1);

    // Act: 40 messages, one after another (a bounded loop), delivered in the window.
    for (let i = 0; i < 40; i++) await sqs.send(new SendMessageCommand({ QueueUrl: queue.info.queueUrl, MessageBody: `t${i}` }));
    await waitFor(() => delivered.length === 40, 10_000);
    await source.stop();

    // Assert: within the first window (well before it closes, when the last pause is cut
    // short), a receive that brought fewer than 10 is followed by a pause of GATHER_PAUSE_MS
    // (25 ms, timers allowing a millisecond early), not by another receive at once.
    expect(new Set(delivered).size).toBe(40);
    const first = receives.findIndex((r) => r.got > 0);
    const gathering = receives.slice(first).filter((r) => r.at < receives[first]!.at + 400);
    const short = gathering.slice(0, -1).filter((r, i) => r.got < 10 && gathering[i + 1]!.at - r.at < 24);
    expect(short).toEqual([]);
    expect(gathering.length).toBeGreaterThan(1);
  });

  it("receives and deletes over the embedded queue's channel, and with ReceiveMessage and DeleteMessageBatch requests when the channel cannot", async () => {
    // Arrange: the poller's DeleteMessageBatch requests counted.
    const deleteRequests = () => requests('DeleteMessageBatchCommand');
    const channel = new ChannelClient(queue.info.channel!()!);
    let channelWorks = true;
    source = eventSource({
      batchSize: 100,
      batchWindowMs: 100,
      maxConcurrency: 1,
      deleteMessages: async (handles) => (channelWorks ? deleteOverChannel(channel, queue.info.queueUrl, handles) : undefined),
      receiveMessages: async (max, waitSeconds) => (channelWorks ? receiveOverChannel(channel, queue.info.queueUrl, max, waitSeconds) : undefined),
    });
    source.start();
    const sendAll = async (prefix: string) => {
      for (let i = 0; i < 25; i++) await sqs.send(new SendMessageCommand({ QueueUrl: queue.info.queueUrl, MessageBody: `${prefix}${i}` }));
    };

    try {
      // Act + Assert: over the channel, no request; the queue is empty after, and each record
      // carries the queue's own attributes, as a request's messages do.
      await sendAll('c');
      await waitFor(async () => source!.stats.messagesDeleted === 25 && (await counts()).inFlight === 0);
      expect(deleteRequests()).toBe(0);
      expect(receivesSent()).toBe(0);
      expect(await counts()).toEqual({ visible: 0, inFlight: 0 });
      expect(records[0]).toMatchObject({ eventSource: 'aws:sqs', eventSourceARN: queueArn, md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/), attributes: { ApproximateReceiveCount: '1', SenderId: '000000000000' } });

      // The channel cannot: the same deletes go as requests.
      channelWorks = false;
      await sendAll('r');
      await waitFor(async () => source!.stats.messagesDeleted === 50 && (await counts()).inFlight === 0);
      expect(deleteRequests()).toBeGreaterThanOrEqual(3);
      expect(receivesSent()).toBeGreaterThan(0);
      expect(new Set(delivered).size).toBe(50);
    } finally {
      channel.close();
    }
  });

  it('delivers and settles the batch it was gathering when the stop came', async () => {
    // Arrange: a long batching window, and one message already taken into the batch.
    source = eventSource({ batchSize: 10, batchWindowMs: 20_000, maxConcurrency: 1 });
    source.start();
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.info.queueUrl, MessageBody: 'gathered' }));
    await waitFor(async () => (await counts()).inFlight === 1);

    // Act
    const began = Date.now();
    await source.stop();
    const tookMs = Date.now() - began;

    // Assert: the batch went to the function and was deleted; nothing waits for its timeout.
    expect(delivered).toEqual(['gathered']);
    expect(source.stats).toMatchObject({ invocations: 1, messagesReceived: 1, messagesDeleted: 1, messagesFailed: 0 });
    expect(await counts()).toEqual({ visible: 0, inFlight: 0 });
    expect(tookMs).toBeLessThan(PROMPT_STOP_MS);
  });
});
