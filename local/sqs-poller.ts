/**
 * The SQS event source mapping, locally: long-polls the queue, gathers messages until the
 * batch size or the batching window is reached, invokes the function with a real SQS event,
 * deletes what succeeded and leaves `batchItemFailures` to reappear after the visibility
 * timeout. A thrown error or a timeout fails the whole batch.
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
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private inFlight = 0;

  constructor(private readonly options: EventSourceOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.workers = Array.from({ length: this.options.maxConcurrency }, (_, i) => this.work(i));
  }

  /** Batches being processed right now. */
  get busy(): number {
    return this.inFlight;
  }

  /** Stops polling; resolves when the batches in flight have finished. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await Promise.all(this.workers);
  }

  private async work(worker: number): Promise<void> {
    while (this.running) {
      try {
        const batch = await this.gather();
        if (batch.length === 0) continue;
        this.inFlight++;
        try {
          await this.deliver(batch);
        } finally {
          this.inFlight--;
        }
      } catch (error) {
        if (!this.running) return;
        this.options.log?.(`event source worker ${worker}: ${error instanceof Error ? error.message : String(error)}`);
        await sleep(1_000);
      }
    }
  }

  private async receive(waitSeconds: number, max: number): Promise<Message[]> {
    const out = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.abort.signal },
    );
    return out.Messages ?? [];
  }

  /** Waits for a first message, then gathers until the batch is full or the window closes. */
  private async gather(): Promise<Message[]> {
    const batch: Message[] = await this.receive(20, this.options.batchSize);
    if (batch.length === 0) return batch;
    const closesAt = Date.now() + this.options.batchWindowMs;
    let bytes = batch.reduce((n, m) => n + (m.Body?.length ?? 0), 0);
    while (this.running && batch.length < this.options.batchSize && bytes < MAX_EVENT_BYTES / 2) {
      const left = closesAt - Date.now();
      if (left <= 0) break;
      const more = await this.receive(Math.min(20, Math.floor(left / 1000)), this.options.batchSize - batch.length);
      if (more.length === 0 && left < 1000) await sleep(Math.min(left, 25));
      for (const m of more) bytes += m.Body?.length ?? 0;
      batch.push(...more);
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
