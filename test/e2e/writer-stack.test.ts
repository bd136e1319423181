/**
 * The writer as `npm start` runs it: its own bundle, in its own environment, behind the local
 * event source, with the queue found from each message's ARN. A database outage hands the batch
 * back with the first wait of the schedule (the embedded queue honours it), and a refused record
 * fails only its own message, whose dead letter then shows the database's reason.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDeadLetterLog } from '../../lambdas/adapters/pg-dead-letter-log';
import { createPool } from '../../lambdas/adapters/pg-record-store';
import { STORE_RETRY_DELAYS_S } from '../../lambdas/core/redelivery';
import { listDeadLetters } from '../../local/dead-letters';
import { freshDatabase } from '../support/services';
import { login, startTestStack, waitFor } from '../support/stack';
import { DatabaseProxy } from '../support/writer-db-proxy';
import { functionLines } from '../support/function-log';

const writerLines = (output: readonly string[]) => functionLines(output, 'batch-writer');
/** The queue's visibility timeout here (and the writer's timeout, which it must cover): the least the local stack takes. */
const VISIBILITY_S = 3;
/** The first wait of the schedule, shortened from 30 s: still longer than the visibility timeout. */
const FIRST_WAIT_S = 5;

describe('the batch writer in the local stack', () => {
  const output: string[] = [];
  let proxy: Awaited<ReturnType<typeof DatabaseProxy.start>>;
  let direct: pg.Pool;
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let token: string;

  const upload = async (data: number) => {
    const response = await fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data, date: '2024-07-01T00:00:00Z' }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { ids: string[] }).ids[0]!;
  };
  const stored = async (id: string) => (await direct.query('SELECT 1 FROM records WHERE id = $1', [id])).rowCount === 1;

  beforeAll(async () => {
    const databaseUrl = await freshDatabase();
    direct = createPool({ connection: databaseUrl });
    proxy = await DatabaseProxy.start(databaseUrl);
    stack = await startTestStack(
      {
        DATABASE_URL: proxy.url,
        STORE_RETRY_DELAYS_S: FIRST_WAIT_S + ',' + STORE_RETRY_DELAYS_S.slice(1).join(','),
        QUEUE_VISIBILITY_TIMEOUT_S: String(VISIBILITY_S),
        WRITER_TIMEOUT_MS: String(VISIBILITY_S * 1000),
        // A refused record's message goes to the DLQ after this many receives, one visibility timeout apart.
        MAX_RECEIVE_COUNT: '3',
      },
      { functionOutput: (line) => output.push(line) },
    );
    token = await login(stack.httpUrl);
  });
  afterAll(async () => {
    await proxy.up();
    await stack?.cleanup();
    await proxy.down();
    await direct.end();
  });

  it('hands a batch back for the first wait of the schedule while the database is down, then stores it', { timeout: 120_000 }, async () => {
    // Arrange
    await proxy.down();

    // Act
    const id = await upload(11);
    await waitFor(() => writerLines(output).some((l) => l.message === 'database unreachable; returning the messages with a delay'), 30_000);
    const returned = writerLines(output).find((l) => l.message === 'database unreachable; returning the messages with a delay')!;
    // Past the queue's own visibility timeout: a message that was not delayed would be back.
    await new Promise((resolve) => setTimeout(resolve, (VISIBILITY_S + 1) * 1000));
    const hidden = (await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.queue.queueUrl, AttributeNames: ['All'] }))).Attributes!;
    const attemptsWhileDown = writerLines(output).filter((l) => l.message === 'database unreachable; returning the messages with a delay').length;
    await proxy.up();

    // Assert
    expect(returned.delays).toEqual([{ delaySeconds: FIRST_WAIT_S, messageIds: [expect.any(String)] }]);
    expect(writerLines(output).filter((l) => String(l.message).includes('could not be delayed'))).toEqual([]);
    expect(attemptsWhileDown).toBe(1);
    expect(hidden).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1' });
    await waitFor(() => stored(id), 30_000);
  });

  it('fails only the message the database refuses, and its dead letter shows the reason', { timeout: 120_000 }, async () => {
    // Arrange
    await direct.query('ALTER TABLE records ADD CONSTRAINT writer_stack_refuses CHECK (data <> -666)');

    // Act
    const [refusedId, goodId] = await Promise.all([upload(-666), upload(12)]);
    await waitFor(() => stored(goodId), 30_000);
    const letters = async () => listDeadLetters(stack.sqs, stack.queue.dlqUrl, { reasons: new PgDeadLetterLog(direct) });
    let dead: Awaited<ReturnType<typeof letters>> = [];
    await waitFor(async () => (dead = await letters()).length === 1, 60_000);

    // Assert
    expect(await stored(refusedId)).toBe(false);
    expect(JSON.parse(dead[0]!.body).records[0].id).toBe(refusedId);
    expect(dead[0]!.reason).toMatch(/^refused by the database: new row for relation "records(_\w+)?" violates check constraint "writer_stack_refuses" \(SQLSTATE 23514/);
    const refusals = writerLines(output).filter((l) => l.message === 'message refused by the database');
    expect(new Set(refusals.map((l) => l.messageId))).toEqual(new Set([dead[0]!.messageId]));
    expect(refusals.length).toBe(stack.config.MAX_RECEIVE_COUNT);
  });
});
