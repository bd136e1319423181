/**
 * The SQS event source mapping, locally: long-polls the queue, gathers messages until the
 * batch size or the batching window is reached, invokes the function with a real SQS event,
 * deletes what succeeded and leaves `batchItemFailures` to reappear after the visibility
 * timeout. A thrown error or a timeout fails the whole batch.
 *
 * A receive is never aborted. The queue does not notice a client that gave up on a long poll:
 * fauxqs keeps the abandoned poll waiting and hands it the next message to arrive, which then
 * stays in flight, unseen, until its visibility timeout (SQS may do the same). So each long
 * poll is short (POLL_WAIT_SECONDS), and a stop lets the receives under way come back and
 * delivers what they bring: every message received is settled before `stop()` resolves.
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/** Lambda's event payload limit for a synchronous invoke. */
const MAX_EVENT_BYTES = 6 * 1024 * 1024;

/**
 * The longest a receive waits for a message. Lambda polls for up to 20 s, but a stop waits for
 * the receives under way, so the local one keeps them short: an idle worker asks once a second.
 */
const POLL_WAIT_SECONDS = 1;

/** While a batch gathers, the pause after a receive that did not fill up: messages arrive meanwhile. */
const GATHER_PAUSE_MS = 25;
/** How long a worker waits after a failed receive or delete before it polls again. */
const RETRY_PAUSE_MS = 1_000;

export interface EventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  /** Invokes the function once; the function enforces its own timeout and rejects past it. */
  readonly invoke: (event: SQSEvent) => Promise<SQSBatchResponse | void | null>;
  /** Messages per invocation at most (Lambda: 1 to 10,000). */
  readonly batchSize: number;
  /** How long to gather a batch after its first message (Lambda: MaximumBatchingWindowInSeconds). */
  readonly batchWindowMs: number;
  /** Concurrent invocations at most (Lambda: ScalingConfig.MaximumConcurrency). */
  readonly maxConcurrency: number;
  /**
   * Deletes settled messages by another way than DeleteMessageBatch requests (the embedded
   * queue's channel); resolves how many it deleted, or undefined when it could not, and the
   * requests are made. @default - DeleteMessageBatch requests only
   */
  readonly deleteMessages?: (receiptHandles: readonly string[]) => Promise<number | undefined>;
  /**
   * Receives by another way than ReceiveMessage requests (the embedded queue's channel), with
   * the same long poll; resolves the messages, or undefined when it could not, and a request is
   * made. @default - ReceiveMessage requests only
   */
  readonly receiveMessages?: (max: number, waitSeconds: number) => Promise<Message[] | undefined>;
  readonly log?: (line: string) => void;
}

/** What the event source has done so far. */
export interface EventSourceStats {
  invocations: number;
  messagesReceived: number;
  messagesDeleted: number;
  messagesFailed: number;
  /** Invocations that threw or timed out (their whole batch failed). */
  invocationErrors: number;
}

export class SqsEventSource {
  readonly stats: EventSourceStats = { invocations: 0, messagesReceived: 0, messagesDeleted: 0, messagesFailed: 0, invocationErrors: 0 };
  private running = false;
  /** Cuts short a worker's pause after an error; receives are never aborted (see above). */
  private wake = new AbortController();
  private workers: Promise<void>[] = [];
  private stopping: Promise<void> | undefined;
  private inFlight = 0;

  constructor(private readonly options: EventSourceOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.wake = new AbortController();
    this.workers = Array.from({ length: this.options.maxConcurrency }, (_, i) => this.work(i));
    this.stopping = undefined;
  }

  /** Batches being processed right now. */
  get busy(): number {
    return this.inFlight;
  }

  /**
   * Stops polling. Resolves once the receives under way have come back (POLL_WAIT_SECONDS at
   * most) and every message they brought has been handed to the function and settled.
   */
  stop(): Promise<void> {
    if (this.running) {
      this.running = false;
      this.wake.abort();
      this.stopping = Promise.all(this.workers).then(() => undefined);
    }
    return this.stopping ?? Promise.resolve();
  }

  private async work(worker: number): Promise<void> {
    while (this.running) {
      try {
        // A batch gathered is delivered even when a stop came meanwhile: its messages are in flight.
        const batch = await this.gather();
        if (batch.length === 0) continue;
        this.inFlight++;
        try {
          await this.deliver(batch);
        } finally {
          this.inFlight--;
        }
      } catch (error) {
        this.options.log?.(`event source worker ${worker}: ${error instanceof Error ? error.message : String(error)}`);
        await pause(RETRY_PAUSE_MS, this.wake.signal);
      }
    }
  }

  private async receive(waitSeconds: number, max: number): Promise<Message[]> {
    const received = await this.options.receiveMessages?.(max, waitSeconds);
    if (received) return received;
    const out = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return out.Messages ?? [];
  }

  /**
   * Waits for a first message, then gathers until the batch is full or the window closes. A
   * stop closes the window early: what was gathered is returned, never dropped.
   */
  private async gather(): Promise<Message[]> {
    const batch: Message[] = await this.receive(POLL_WAIT_SECONDS, this.options.batchSize);
    if (batch.length === 0) return batch;
    const closesAt = Date.now() + this.options.batchWindowMs;
    let bytes = batch.reduce((n, m) => n + (m.Body?.length ?? 0), 0);
    while (this.running && batch.length < this.options.batchSize && bytes < MAX_EVENT_BYTES / 2) {
      const left = closesAt - Date.now();
      if (left <= 0) break;
      let more: Message[];
      try {
        more = await this.receive(Math.min(POLL_WAIT_SECONDS, Math.floor(left / 1000)), this.options.batchSize - batch.length);
      } catch (error) {
        // The batch so far is in flight already: deliver it rather than leave it to time out.
        this.options.log?.(`event source: a receive failed while gathering; delivering the ${batch.length} message(s) gathered: ${error instanceof Error ? error.message : String(error)}`);
        break;
      }
      // A receive that came back short found the queue empty: let messages gather before the
      // next one, rather than ask for each message as it arrives (every receive is a request).
      const wanted = Math.min(10, this.options.batchSize - batch.length);
      for (const m of more) bytes += m.Body?.length ?? 0;
      batch.push(...more);
      if (more.length < wanted && batch.length < this.options.batchSize) await sleep(Math.min(closesAt - Date.now(), GATHER_PAUSE_MS));
    }
    return batch;
  }

  private async deliver(messages: Message[]): Promise<void> {
    const { options, stats } = this;
    stats.invocations++;
    stats.messagesReceived += messages.length;
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, options.queueArn)) };
    let failed = new Set<string>();
    try {
      const result = await options.invoke(event);
      const ids = new Set(messages.map((m) => m.MessageId));
      for (const f of result?.batchItemFailures ?? []) {
        // An identifier that is not in the batch makes Lambda fail the whole batch.
        if (!ids.has(f.itemIdentifier)) throw new Error(`batchItemFailures names an unknown message ${f.itemIdentifier}`);
        failed.add(f.itemIdentifier);
      }
    } catch (error) {
      stats.invocationErrors++;
      options.log?.(`batch of ${messages.length} failed as a whole: ${error instanceof Error ? error.message : String(error)}`);
      failed = new Set(messages.map((m) => m.MessageId!));
    }
    stats.messagesFailed += failed.size;
    const done = messages.filter((m) => !failed.has(m.MessageId!));
    const deleted = done.length > 0 ? await options.deleteMessages?.(done.map((m) => m.ReceiptHandle!)) : 0;
    if (deleted !== undefined) {
      stats.messagesDeleted += deleted;
      return;
    }
    for (let i = 0; i < done.length; i += 10) {
      const group = done.slice(i, i + 10);
      const out = await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: group.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      stats.messagesDeleted += out.Successful?.length ?? 0;
    }
  }
}

function toRecord(m: Message, queueArn: string): SQSRecord {
  const attributes = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
        k,
        { dataType: v.DataType ?? 'String', stringValue: v.StringValue, stringListValues: [], binaryListValues: [] },
      ]),
    ),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? 'us-east-1',
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sleeps `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
