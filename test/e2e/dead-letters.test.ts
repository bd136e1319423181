/**
 * The dead-letter tooling on the local stack: every message in the DLQ comes with its reason,
 * and a redrive stores the valid batches once their cause is gone.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packQueueMessages, recordIds, toQueuedRecords } from '../../lambdas/core/record';
import { listDeadLetters, redriveDeadLetters } from '../../local/dead-letters';
import { RUNTIME_FILE } from '../../local/stack';
import { startTestStack, waitFor } from '../support/stack';

describe('the dead-letter queue tools', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.cleanup());

  it('publishes the running stack\'s endpoints for the tools', async () => {
    const running = JSON.parse(await readFile(path.join(stack.config.DATA_DIR, RUNTIME_FILE), 'utf8'));
    expect(running).toMatchObject({ httpUrl: stack.httpUrl, dlqUrl: stack.queue.dlqUrl, queueUrl: stack.queue.queueUrl });
  });

  it('lists each dead letter with its reason and leaves it in place; a redrive stores the valid one', async () => {
    const valid = packQueueMessages('parsa', '2024-01-01T00:00:00Z', toQueuedRecords([{ data: 4, date: '2006-01-01T00:00:00Z' }], recordIds(1, 'parsa')))[0]!;
    const id = JSON.parse(valid).records[0].id as string;
    // As if they had failed maxReceiveCount times: one could never parse, one met a database outage.
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queue.dlqUrl, MessageBody: '{"records":"nope"}' }));
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queue.dlqUrl, MessageBody: valid }));

    const letters = await listDeadLetters(stack.sqs, stack.queue.dlqUrl);
    expect(letters.map((l) => l.reason).sort()).toEqual([
      expect.stringMatching(/^a valid batch of 1 record\(s\) from parsa/),
      expect.stringMatching(/^malformed: body is not a record batch/),
    ]);
    expect(await listDeadLetters(stack.sqs, stack.queue.dlqUrl)).toHaveLength(2); // listing hid nothing

    expect(await redriveDeadLetters(stack.sqs, stack.queue)).toMatchObject({ path: 'copy', moved: 1, kept: 1 });
    await waitFor(async () => (await stack.pool.query('SELECT 1 FROM records WHERE id = $1', [id])).rowCount === 1);
    const left = await listDeadLetters(stack.sqs, stack.queue.dlqUrl);
    expect(left.map((l) => l.body)).toEqual(['{"records":"nope"}']);
  });
});
