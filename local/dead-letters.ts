/**
 * The dead-letter queue, for operators: list what is in it and why, and move it back to the
 * record queue once the cause is fixed. Works on the embedded queue, LocalStack and AWS alike.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { deadLetterReason } from '../lambdas/core/record';

export interface DeadLetter {
  readonly messageId: string;
  readonly sentAt: string;
  readonly receiveCount: number;
  readonly reason: string;
  readonly body: string;
}

/** Receives every message of a queue (at most `max`), holding each out of sight meanwhile. */
async function receiveAll(sqs: SQSClient, queueUrl: string, max: number): Promise<Message[]> {
  const messages: Message[] = [];
  while (messages.length < max) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, max - messages.length),
        VisibilityTimeout: 60,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (!out.Messages?.length) break;
    messages.push(...out.Messages);
  }
  return messages;
}

function toDeadLetter(m: Message): DeadLetter {
  const sent = Number(m.Attributes?.SentTimestamp ?? 0);
  return {
    messageId: m.MessageId ?? '',
    sentAt: sent ? new Date(sent).toISOString() : '',
    receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
    reason: deadLetterReason(m.Body ?? ''),
    body: m.Body ?? '',
  };
}

async function inGroups(messages: Message[], act: (group: Message[]) => Promise<void>) {
  for (let i = 0; i < messages.length; i += 10) await act(messages.slice(i, i + 10));
}

/** Lists the dead letters with their reasons, leaving them where they are. */
export async function listDeadLetters(sqs: SQSClient, dlqUrl: string, max = 1000): Promise<DeadLetter[]> {
  const messages = await receiveAll(sqs, dlqUrl, max);
  // Hand them straight back: listing must not hide them for the visibility timeout.
  await inGroups(messages, async (group) => {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: dlqUrl,
        Entries: group.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  });
  return messages.map(toDeadLetter);
}

/**
 * Moves dead letters back to the record queue (valid batches only, unless `includeMalformed`:
 * a malformed body would only come back). Each is sent before it is deleted, so none is lost.
 */
export async function redriveDeadLetters(
  sqs: SQSClient,
  urls: { dlqUrl: string; queueUrl: string },
  options: { includeMalformed?: boolean; max?: number } = {},
): Promise<{ moved: number; kept: number }> {
  const messages = await receiveAll(sqs, urls.dlqUrl, options.max ?? 1000);
  const move = messages.filter((m) => options.includeMalformed || !deadLetterReason(m.Body ?? '').startsWith('malformed'));
  const keep = messages.filter((m) => !move.includes(m));
  await inGroups(move, async (group) => {
    const sent = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl: urls.queueUrl, Entries: group.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' })) }),
    );
    if (sent.Failed?.length) throw new Error(`the record queue refused ${sent.Failed.length} message(s); they stay in the DLQ`);
    await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: urls.dlqUrl, Entries: group.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
    );
  });
  await inGroups(keep, async (group) => {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: urls.dlqUrl,
        Entries: group.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
      }),
    );
  });
  return { moved: move.length, kept: keep.length };
}
