/**
 * The ingest function's sends to the embedded queue over a MessagePort, without the SDK, a
 * socket or HTTP: one message per request body, enqueued by fauxqs's own SendMessage and
 * SendMessageBatch actions, and answered, as over HTTP, only once its messages are on disk
 * (group-commit.ts). The function's side is queue-channel-client.mjs; whatever fails on the
 * channel is sent again over SQS's API by the function's own SqsRecordQueue, which the records'
 * ids make harmless.
 *
 * Measured (one client, single-record uploads, GET /health at 0.9 ms): with the SDK's
 * SendMessage over HTTP an upload took a p50 of 3.5-3.7 ms, its send 2.07 ms of that (0.55 ms
 * the sync to disk); over this channel, 1.9 ms.
 */
import type { MessagePort } from 'node:worker_threads';

/** One send: the bodies of the messages, as RecordQueue.send takes them. */
export interface ChannelSend {
  readonly id: number;
  readonly queueUrl: string;
  readonly bodies: readonly string[];
}

export type ChannelAnswer = { readonly id: number; readonly ok: true } | { readonly id: number; readonly ok: false; readonly error: string };

/** What takes a SendMessage or SendMessageBatch request's body: its status and answer, as over HTTP. */
export type QueueSend = (action: 'SendMessage' | 'SendMessageBatch', body: Record<string, unknown>) => Promise<{ statusCode: number; body: string }>;

/** SendMessageBatch takes at most 10 entries (the bodies of one upload are far below its 1 MiB). */
const BATCH_ENTRIES = 10;

/** Enqueues one send's bodies; throws with fauxqs's answer when it refuses any. */
export async function enqueue(queue: QueueSend, send: Omit<ChannelSend, 'id'>): Promise<void> {
  for (let i = 0; i < send.bodies.length; i += BATCH_ENTRIES) {
    const group = send.bodies.slice(i, i + BATCH_ENTRIES);
    const answer =
      group.length === 1
        ? await queue('SendMessage', { QueueUrl: send.queueUrl, MessageBody: group[0] })
        : await queue('SendMessageBatch', { QueueUrl: send.queueUrl, Entries: group.map((body, k) => ({ Id: String(k), MessageBody: body })) });
    if (answer.statusCode !== 200) throw new Error(`${answer.statusCode}: ${answer.body.slice(0, 200)}`);
    if (group.length > 1 && (JSON.parse(answer.body) as { Failed?: unknown[] }).Failed?.length) throw new Error(`some entries were refused: ${answer.body.slice(0, 200)}`);
  }
}

/** Answers every send that arrives on `port` until it closes. */
export function serveChannel(port: MessagePort, queue: QueueSend): void {
  port.on('message', (send: ChannelSend) => {
    enqueue(queue, send).then(
      () => port.postMessage({ id: send.id, ok: true } satisfies ChannelAnswer),
      (error: unknown) => port.postMessage({ id: send.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies ChannelAnswer),
    );
  });
}
