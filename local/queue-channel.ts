/**
 * The ingest function's sends to the embedded queue over a MessagePort, without the SDK, a
 * socket or HTTP: one message per request body, enqueued by fauxqs's own SendMessage and
 * SendMessageBatch actions, and answered, as over HTTP, only once its messages are on disk
 * (group-commit.ts). The function's side is queue-channel-client.mjs; whatever fails on the
 * channel is sent again over SQS's API by the function's own SqsRecordQueue, which the records'
 * ids make harmless. The event source receives (receiveOverChannel: fauxqs's ReceiveMessage,
 * long poll included) and deletes the messages it settled (deleteOverChannel, a batch of 400 in
 * one message rather than 40 DeleteMessageBatch requests) the same way, and over SQS's API when
 * the channel cannot.
 *
 * Measured (one client, single-record uploads, GET /health at 0.9 ms): with the SDK's
 * SendMessage over HTTP an upload took a p50 of 3.5-3.7 ms, its send 2.07 ms of that (0.55 ms
 * the sync to disk); over this channel, 1.9 ms. With the event source's receives here too, its
 * polls (one every 25 ms while a batch gathers) no longer take the main thread and the queue's
 * HTTP listener: one client's p99 over /health went from 4.4-5.3 to 3.2-3.9 ms, 4 clients from
 * 770-790 to 830-890 uploads/s, and the main thread from 4.2 to 3.4 CPU-s a million records
 * (bench ingest-loop, sustained).
 */
import type { Message } from '@aws-sdk/client-sqs';
import type { MessagePort } from 'node:worker_threads';
import { ChannelClient } from './queue-channel-client.mjs';

/** One send: the bodies of the messages, as RecordQueue.send takes them. */
export interface ChannelSend {
  readonly id: number;
  readonly queueUrl: string;
  readonly bodies: readonly string[];
}

/** One receive: up to `max` messages (at most 10), waiting up to `waitSeconds` for a first one. */
export interface ChannelReceive {
  readonly id: number;
  readonly kind: 'receive';
  readonly queueUrl: string;
  readonly max: number;
  readonly waitSeconds: number;
}

/** One delete: the receipt handles of messages the event source has settled. */
export interface ChannelDelete {
  readonly id: number;
  readonly kind: 'delete';
  readonly queueUrl: string;
  readonly receiptHandles: readonly string[];
}

export type ChannelAnswer =
  | { readonly id: number; readonly ok: true; readonly deleted?: number; readonly messages?: readonly Message[] }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** fauxqs's answer to one action: what it would answer over HTTP, or its refusal's status and message. */
export type QueueAnswer = { readonly ok: true; readonly answer: unknown } | { readonly ok: false; readonly statusCode: number; readonly error: string };

/** What takes a SendMessage, SendMessageBatch, ReceiveMessage or DeleteMessageBatch request's body. */
export type QueueSend = (action: 'SendMessage' | 'SendMessageBatch' | 'ReceiveMessage' | 'DeleteMessageBatch', body: Record<string, unknown>) => Promise<QueueAnswer>;

/** SendMessageBatch and DeleteMessageBatch take at most 10 entries (an upload's bodies are far below 1 MiB). */
const BATCH_ENTRIES = 10;

/** An action's answer; throws with the refusal when there is one. */
function answerOf<T>(result: QueueAnswer): T {
  if (!result.ok) throw new Error(`${result.statusCode}: ${result.error.slice(0, 200)}`);
  return result.answer as T;
}

/** What SendMessageBatch and DeleteMessageBatch answer. */
type BatchAnswer = { Successful?: unknown[]; Failed?: unknown[] };

/**
 * `action` called on every ten of `entries` (each given its Id); the parsed answers. Between
 * tens the thread turns to whatever else came meanwhile: a delete of 400 settled messages ran
 * for 3 to 17 ms in one go (nothing to wait for between its SQLite writes), holding up every
 * upload's send that arrived then, the worst 1 % of one client's uploads.
 */
async function inTens(queue: QueueSend, action: 'SendMessageBatch' | 'DeleteMessageBatch', queueUrl: string, entries: readonly object[]) {
  const answers: BatchAnswer[] = [];
  for (let i = 0; i < entries.length; i += BATCH_ENTRIES) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    const group = entries.slice(i, i + BATCH_ENTRIES).map((entry, k) => ({ Id: String(k), ...entry }));
    answers.push(answerOf<BatchAnswer>(await queue(action, { QueueUrl: queueUrl, Entries: group })));
  }
  return answers;
}

/** Enqueues one send's bodies; throws with fauxqs's answer when it refuses any. */
export async function enqueue(queue: QueueSend, send: Omit<ChannelSend, 'id'>): Promise<void> {
  if (send.bodies.length === 1) {
    answerOf<unknown>(await queue('SendMessage', { QueueUrl: send.queueUrl, MessageBody: send.bodies[0] }));
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

/** Receives as the event source asks: every system and message attribute, as its SDK request does. */
export async function receiveMessages(queue: QueueSend, request: Omit<ChannelReceive, 'id' | 'kind'>): Promise<Message[]> {
  const body = { QueueUrl: request.queueUrl, MaxNumberOfMessages: request.max, WaitTimeSeconds: request.waitSeconds, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] };
  return answerOf<{ Messages?: Message[] }>(await queue('ReceiveMessage', body)).Messages ?? [];
}

/** What one request on the channel asks the queue, and the answer's fields. */
async function serve(queue: QueueSend, request: ChannelSend | ChannelReceive | ChannelDelete): Promise<{ deleted?: number; messages?: Message[] }> {
  if (!('kind' in request)) return enqueue(queue, request).then(() => ({}));
  if (request.kind === 'receive') return { messages: await receiveMessages(queue, request) };
  return { deleted: await deleteMessages(queue, request) };
}

/** Answers every send, receive and delete that arrives on `port` until it closes. */
export function serveChannel(port: MessagePort, queue: QueueSend): void {
  port.on('message', (request: ChannelSend | ChannelReceive | ChannelDelete) => {
    serve(queue, request).then(
      (fields) => port.postMessage({ id: request.id, ok: true, ...fields } satisfies ChannelAnswer),
      (error: unknown) => port.postMessage({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies ChannelAnswer),
    );
  });
}

/**
 * The event source's receive over `channel`: the messages (none when the wait ran out), or
 * undefined when the channel cannot (closed, no answer in time, a refusal) and the caller
 * receives over SQS's API. A receive whose answer came too late leaves its messages in flight
 * until their visibility timeout, as an abandoned long poll does over HTTP.
 */
export async function receiveOverChannel(channel: ChannelClient, queueUrl: string, max: number, waitSeconds: number): Promise<Message[] | undefined> {
  const answer = await channel.request<ChannelAnswer>({ kind: 'receive', queueUrl, max: Math.min(10, max), waitSeconds } satisfies Omit<ChannelReceive, 'id'>);
  return answer?.ok ? [...(answer.messages ?? [])] : undefined;
}

/**
 * The event source's deletes over `channel`: how many were deleted, or undefined when the
 * channel cannot (closed, no answer in time, a refusal) and the caller deletes over SQS's API.
 */
export async function deleteOverChannel(channel: ChannelClient, queueUrl: string, receiptHandles: readonly string[]): Promise<number | undefined> {
  const answer = await channel.request<ChannelAnswer>({ kind: 'delete', queueUrl, receiptHandles } satisfies Omit<ChannelDelete, 'id'>);
  return answer?.ok ? (answer.deleted ?? 0) : undefined;
}

/**
 * The event source's receives and deletes over the embedded queue's channel, for
 * EventSourceOptions: a new channel after the queue's thread restarts, and undefined (so SQS's
 * API) while there is none or a request on it failed.
 */
export function eventSourceChannel(open: () => MessagePort | undefined, queueUrl: string) {
  let channel: ChannelClient | undefined;
  const over = async <T>(call: (channel: ChannelClient) => Promise<T | undefined>): Promise<T | undefined> => {
    const port = channel ? undefined : open();
    if (port) channel = new ChannelClient(port);
    const answer = channel && (await call(channel));
    if (answer === undefined) {
      channel?.close();
      channel = undefined;
    }
    return answer;
  };
  return {
    receiveMessages: (max: number, waitSeconds: number) => over((c) => receiveOverChannel(c, queueUrl, max, waitSeconds)),
    deleteMessages: (receiptHandles: readonly string[]) => over((c) => deleteOverChannel(c, queueUrl, receiptHandles)),
  };
}
