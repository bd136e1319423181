/**
 * The dead-letter queue, for operators: list every dead letter and why it is there, and move
 * them back to the record queue once the cause is fixed. Works on the embedded queue, LocalStack
 * and AWS alike; on AWS a redrive is SQS's own message move task.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetterLog, NotedRefusal } from '../lambdas/core/ports';
import { deadLetterReason } from '../lambdas/core/record';

export interface DeadLetter {
  readonly messageId: string;
  readonly sentAt: string;
  readonly receiveCount: number;
  /** Why it is here: what is wrong with a malformed body, or the database's reason when it refused the records. */
  readonly reason: string;
  /** The database's refusal, as the batch writer noted it. */
  readonly refusal?: NotedRefusal;
  readonly body: string;
}

/** Told how far a long operation has got: `done` of about `expected`. */
export type Progress = (done: number, expected: number) => void;

export interface ListOptions {
  /** Where the writer noted the database's refusals; without it, only the body speaks. */
  readonly reasons?: DeadLetterLog;
  readonly onProgress?: Progress;
}

/** The queue's approximate number of visible messages. */
async function approximateCount(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  if (!out.Attributes?.QueueArn) throw new Error(`no ARN for ${queueUrl}`);
  return out.Attributes.QueueArn;
}

/**
 * One second rather than 0: fauxqs 2.4.1 with its SQLite persistence (the embedded queue) loses
 * a message whose visibility is set to 0 (it writes NULL into a NOT NULL column, fails the call,
 * and the SDK's retry finds the receipt handle gone). Any other value takes another path.
 */
const RELEASE_SECONDS = 1;

/** Long enough to hold `expected` messages out of sight while they are all received (SQS allows 12 h). */
const holdSecondsFor = (expected: number) => Math.min(43_200, 120 + Math.ceil(expected / 20));

function receive(sqs: SQSClient, queueUrl: string, holdSeconds: number): Promise<Message[]> {
  return sqs
    .send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: holdSeconds,
        // Longer than a release, so messages another listing has just handed back are seen.
        WaitTimeSeconds: RELEASE_SECONDS + 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    )
    .then((out) => out.Messages ?? []);
}

/** Runs `act` on groups of 10 (SQS's batch limit), a few groups at a time. */
async function inGroups(messages: readonly Message[], act: (group: Message[]) => Promise<unknown>): Promise<void> {
  const groups = Array.from({ length: Math.ceil(messages.length / 10) }, (_, i) => messages.slice(i * 10, i * 10 + 10));
  const next = groups.values();
  const worker = async () => {
    for (const group of next) await act(group);
  };
  await Promise.all(Array.from({ length: Math.min(8, groups.length) }, worker));
}

/** Hands messages back: listing or keeping them must not hide them. */
function release(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  return inGroups(messages, (group) =>
    sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: group.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: RELEASE_SECONDS })),
      }),
    ),
  );
}

/**
 * Receives every message of a queue once, each held out of sight until all are in, however many
 * there are. Stops at an empty receive, or when only messages already seen come back (a hold
 * that ran out); a message seen again keeps its newest receipt handle.
 */
async function receiveEvery(sqs: SQSClient, queueUrl: string, onProgress?: Progress): Promise<Message[]> {
  const expected = await approximateCount(sqs, queueUrl);
  const hold = holdSecondsFor(expected);
  const seen = new Map<string, Message>();
  for (;;) {
    const messages = await receive(sqs, queueUrl, hold);
    const fresh = messages.filter((m) => !seen.has(m.MessageId!));
    for (const m of messages) seen.set(m.MessageId!, m);
    if (fresh.length === 0) break;
    onProgress?.(seen.size, Math.max(expected, seen.size));
  }
  return [...seen.values()];
}

const isMalformed = (m: Message) => deadLetterReason(m.Body ?? '').startsWith('malformed');

function toDeadLetter(m: Message, refusal?: NotedRefusal): DeadLetter {
  const sent = Number(m.Attributes?.SentTimestamp ?? 0);
  const fromBody = deadLetterReason(m.Body ?? '');
  const reason =
    refusal && !fromBody.startsWith('malformed')
      ? `refused by the database: ${refusal.reason} (SQLSTATE ${refusal.sqlstate}${refusal.constraint ? `, constraint ${refusal.constraint}` : ''})` +
        `${refusal.detail ? `; ${refusal.detail}` : ''}; refused ${refusal.receiveCount}× from ${refusal.firstSeen} to ${refusal.lastSeen}`
      : fromBody;
  return {
    messageId: m.MessageId ?? '',
    sentAt: sent ? new Date(sent).toISOString() : '',
    receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
    reason,
    ...(refusal ? { refusal } : {}),
    body: m.Body ?? '',
  };
}

/** Lists every dead letter with its reason, leaving each where it was. */
export async function listDeadLetters(sqs: SQSClient, dlqUrl: string, options: ListOptions = {}): Promise<DeadLetter[]> {
  const messages = await receiveEvery(sqs, dlqUrl, options.onProgress);
  await release(sqs, dlqUrl, messages);
  const refusals = options.reasons ? await options.reasons.refusals(messages.map((m) => m.MessageId!)) : new Map<string, NotedRefusal>();
  return messages.map((m) => toDeadLetter(m, refusals.get(m.MessageId!)));
}

/** How a redrive moved the messages: SQS's message move task, or receive, send and delete. */
export type RedrivePath = 'move-task' | 'copy';

export interface RedriveResult {
  readonly path: RedrivePath;
  /** Why this path. */
  readonly why: string;
  readonly moved: number;
  /** Malformed dead letters left in the DLQ. */
  readonly kept: number;
}

export interface RedriveOptions {
  /** Move malformed bodies too (they only come back). @default false */
  readonly includeMalformed?: boolean;
  readonly onProgress?: Progress;
  /** How often a move task's progress is read. @default 2000 */
  readonly pollMs?: number;
}

/**
 * Moves the dead letters back to the record queue. SQS's message move task when it can do what
 * was asked: it moves every message, so it is used when none is malformed or malformed ones
 * are to move too. Otherwise, or where the SQS has no move task (fauxqs), each message is
 * received, sent to the record queue, and only then deleted, so none is lost.
 */
export async function redriveDeadLetters(
  sqs: SQSClient,
  urls: { dlqUrl: string; queueUrl: string },
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  const [sourceArn, destinationArn] = await Promise.all([queueArn(sqs, urls.dlqUrl), queueArn(sqs, urls.queueUrl)]);
  // Asking for the tasks changes nothing, and tells whether this SQS has them at all.
  try {
    await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }));
  } catch (error) {
    if (!isUnsupported(error)) throw error;
    return copy(sqs, urls, options, `this SQS has no message move task (${(error as Error).message})`);
  }
  if (!options.includeMalformed) {
    const all = await receiveEvery(sqs, urls.dlqUrl);
    await release(sqs, urls.dlqUrl, all);
    const malformed = all.filter(isMalformed).length;
    if (malformed > 0) return copy(sqs, urls, options, `${malformed} malformed dead letter(s) stay, and a move task moves every message`);
  }
  const task = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }));
  const moved = await followMoveTask(sqs, sourceArn, task.TaskHandle, options);
  return { path: 'move-task', why: 'SQS message move task (StartMessageMoveTask)', moved, kept: 0 };
}

/** An emulator without the action (fauxqs answers InvalidAction, "Unknown action: …"). */
function isUnsupported(error: unknown): boolean {
  const { name, message } = error as { name?: string; message?: string };
  return name === 'InvalidAction' || name === 'UnknownOperationException' || /unknown action|not (yet )?implemented/i.test(message ?? '');
}

/** Polls the move task until it ends; resolves with the messages it moved. */
async function followMoveTask(sqs: SQSClient, sourceArn: string, taskHandle: string | undefined, options: RedriveOptions): Promise<number> {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 2_000));
    const tasks = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }))).Results ?? [];
    const task = tasks.find((t) => !taskHandle || t.TaskHandle === taskHandle) ?? tasks[0];
    if (!task) throw new Error('the message move task is not listed');
    const moved = Number(task.ApproximateNumberOfMessagesMoved ?? 0);
    options.onProgress?.(moved, Number(task.ApproximateNumberOfMessagesToMove ?? moved));
    if (task.Status === 'COMPLETED') return moved;
    if (task.Status === 'FAILED' || task.Status === 'CANCELLED') {
      throw new Error(`the message move task ended ${task.Status} after ${moved} message(s): ${task.FailureReason ?? 'no reason given'}`);
    }
  }
}

/** Receive, send to the record queue, then delete: a batch at a time, however many there are. */
async function copy(sqs: SQSClient, urls: { dlqUrl: string; queueUrl: string }, options: RedriveOptions, why: string): Promise<RedriveResult> {
  const expected = await approximateCount(sqs, urls.dlqUrl);
  const hold = holdSecondsFor(expected);
  const kept = new Map<string, Message>();
  let moved = 0;
  try {
    for (;;) {
      const messages = await receive(sqs, urls.dlqUrl, hold);
      const fresh = messages.filter((m) => !kept.has(m.MessageId!));
      for (const m of messages) if (kept.has(m.MessageId!)) kept.set(m.MessageId!, m);
      if (fresh.length === 0) break;
      const move = fresh.filter((m) => options.includeMalformed || !isMalformed(m));
      for (const m of fresh) if (!move.includes(m)) kept.set(m.MessageId!, m);
      if (move.length > 0) moved += await sendThenDelete(sqs, urls, move);
      options.onProgress?.(moved, Math.max(expected - kept.size, moved));
    }
  } finally {
    await release(sqs, urls.dlqUrl, [...kept.values()]);
  }
  return { path: 'copy', why: `receive, send and delete: ${why}`, moved, kept: kept.size };
}

/** Sends up to 10 messages to the record queue and deletes from the DLQ those it took. */
async function sendThenDelete(sqs: SQSClient, urls: { dlqUrl: string; queueUrl: string }, group: Message[]): Promise<number> {
  const sent = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: urls.queueUrl,
      Entries: group.map((m, i) => ({
        Id: String(i),
        MessageBody: m.Body ?? '',
        ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0 ? { MessageAttributes: m.MessageAttributes } : {}),
      })),
    }),
  );
  const taken = (sent.Successful ?? []).map((s) => group[Number(s.Id)]!);
  if (taken.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: urls.dlqUrl, Entries: taken.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
    );
  }
  if (sent.Failed?.length) throw new Error(`the record queue refused ${sent.Failed.length} message(s) after ${taken.length} moved; they stay in the DLQ`);
  return taken.length;
}
