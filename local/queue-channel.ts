/**
 * The ingest function's sends to the embedded queue over a MessagePort, without the SDK, a
 * socket or HTTP: one message per request body, enqueued by fauxqs's own SendMessage and
 * SendMessageBatch actions, and answered, as over HTTP, only once its messages are on disk
 * (group-commit.ts). The function's side is queue-channel-client.mjs; whatever fails on the
 * channel is sent again over SQS's API by the function's own SqsRecordQueue, which the records'
 * ids make harmless. The event source deletes the messages it settled the same way
 * (deleteOverChannel), a batch of 400 in one message rather than 40 DeleteMessageBatch requests,
 * and over SQS's API when the channel cannot.
 *
 * Measured (one client, single-record uploads, GET /health at 0.9 ms): with the SDK's
 * SendMessage over HTTP an upload took a p50 of 3.5-3.7 ms, its send 2.07 ms of that (0.55 ms
 * the sync to disk); over this channel, 1.9 ms.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ChannelClient } from './queue-channel-client.mjs';

/** One send: the bodies of the messages, as RecordQueue.send takes them. */
export interface ChannelSend {
  readonly id: number;
  readonly queueUrl: string;
  readonly bodies: readonly string[];
}

/** One delete: the receipt handles of messages the event source has settled. */
export interface ChannelDelete {
  readonly id: number;
  readonly kind: 'delete';
  readonly queueUrl: string;
  readonly receiptHandles: readonly string[];
}

export type ChannelAnswer =
  | { readonly id: number; readonly ok: true; readonly deleted?: number }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** What takes a SendMessage, SendMessageBatch or DeleteMessageBatch request's body: its status and answer, as over HTTP. */
export type QueueSend = (action: 'SendMessage' | 'SendMessageBatch' | 'DeleteMessageBatch', body: Record<string, unknown>) => Promise<{ statusCode: number; body: string }>;

/** SendMessageBatch and DeleteMessageBatch take at most 10 entries (an upload's bodies are far below 1 MiB). */
const BATCH_ENTRIES = 10;

/** An answer's parsed body; throws with it when its status is not 200. */
function answerOf({ statusCode, body }: { statusCode: number; body: string }): { Successful?: unknown[]; Failed?: unknown[] } {
  if (statusCode !== 200) throw new Error(`${statusCode}: ${body.slice(0, 200)}`);
  return JSON.parse(body) as { Successful?: unknown[]; Failed?: unknown[] };
}

/** `action` called on every ten of `entries` (each given its Id); the parsed answers. */
async function inTens(queue: QueueSend, action: 'SendMessageBatch' | 'DeleteMessageBatch', queueUrl: string, entries: readonly object[]) {
  const answers: ReturnType<typeof answerOf>[] = [];
  for (let i = 0; i < entries.length; i += BATCH_ENTRIES) {
    const group = entries.slice(i, i + BATCH_ENTRIES).map((entry, k) => ({ Id: String(k), ...entry }));
    answers.push(answerOf(await queue(action, { QueueUrl: queueUrl, Entries: group })));
  }
  return answers;
}

/** Enqueues one send's bodies; throws with fauxqs's answer when it refuses any. */
export async function enqueue(queue: QueueSend, send: Omit<ChannelSend, 'id'>): Promise<void> {
  if (send.bodies.length === 1) {
    answerOf(await queue('SendMessage', { QueueUrl: send.queueUrl, MessageBody: send.bodies[0] }));
    return;
  }
  const refused = (await inTens(queue, 'SendMessageBatch', send.queueUrl, send.bodies.map((body) => ({ MessageBody: body })))).find((a) => a.Failed?.length);
  if (refused) throw new Error(`some entries were refused: ${JSON.stringify(refused.Failed).slice(0, 200)}`);
}

/** Deletes the messages of `receiptHandles`, ten a call; resolves with how many were deleted. */
export async function deleteMessages(queue: QueueSend, request: Omit<ChannelDelete, 'id' | 'kind'>): Promise<number> {
  const answers = await inTens(queue, 'DeleteMessageBatch', request.queueUrl, request.receiptHandles.map((handle) => ({ ReceiptHandle: handle })));
  return answers.reduce((n, a) => n + (a.Successful?.length ?? 0), 0);
}

/** Answers every send and delete that arrives on `port` until it closes. */
export function serveChannel(port: MessagePort, queue: QueueSend): void {
  port.on('message', (request: ChannelSend | ChannelDelete) => {
    const work = 'kind' in request ? deleteMessages(queue, request) : enqueue(queue, request).then(() => undefined);
    work.then(
      (deleted) => port.postMessage({ id: request.id, ok: true, ...(deleted === undefined ? {} : { deleted }) } satisfies ChannelAnswer),
      (error: unknown) => port.postMessage({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies ChannelAnswer),
    );
  });
}

/**
 * The event source's deletes over `channel`: how many were deleted, or undefined when the
 * channel cannot (closed, no answer in time, a refusal) and the caller deletes over SQS's API.
 */
export async function deleteOverChannel(channel: ChannelClient, queueUrl: string, receiptHandles: readonly string[]): Promise<number | undefined> {
  const answer = await channel.request<ChannelAnswer>({ kind: 'delete', queueUrl, receiptHandles } satisfies Omit<ChannelDelete, 'id'>);
  return answer?.ok ? (answer.deleted ?? 0) : undefined;
}
