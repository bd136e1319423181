/**
 * `npm run dlq` with more dead letters than one listing used to show (1,000): it lists every one
 * with its reason (the database's, where the writer noted one), prints its progress, and a
 * redrive moves every valid one back, saying which path it took. Run as the command itself,
 * against fauxqs and PostgreSQL, the way it runs against AWS (--dlq-url, --queue-url,
 * --database-url, the SDK's endpoint variable).
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { PgDeadLetterLog } from '../../lambdas/adapters/pg-dead-letter-log';
import { createPool } from '../../lambdas/adapters/pg-record-store';
import { packQueueMessages, recordIds, toQueuedRecords } from '../../lambdas/core/record';
import { PROJECT_ROOT } from '../../lib/bundling';
import { LOCAL_AWS_CREDENTIALS, LOCAL_REGION } from '../../local/bindings';
import { listDeadLetters, type DeadLetter } from '../../local/dead-letters';
import { freshDatabase, freshQueue, sqsClient } from '../support/services';

const VALID = 1200;
const MALFORMED = 3;
const NOTED = 200;

/** Runs `npm run dlq -- …args` (its script: node --import tsx bin/dlq.ts). */
async function dlq(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', 'bin/dlq.ts', ...args], {
    cwd: PROJECT_ROOT,
    maxBuffer: 64 * 1024 * 1024,
    env: {
      PATH: process.env.PATH,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
}

/** Sends `bodies` straight to `queueUrl`; resolves with their message ids, in order. */
async function sendAll(sqs: SQSClient, queueUrl: string, bodies: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < bodies.length; i += 10) {
    const group = bodies.slice(i, i + 10);
    const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: group.map((MessageBody, j) => ({ Id: String(j), MessageBody })) }));
    for (const s of [...(out.Successful ?? [])].sort((a, b) => Number(a.Id) - Number(b.Id))) ids.push(s.MessageId!);
  }
  return ids;
}

describe('npm run dlq with more than 1,000 dead letters', () => {
  let sqs: SQSClient;
  let pool: pg.Pool;
  let databaseUrl: string;

  beforeAll(async () => {
    sqs = sqsClient();
    databaseUrl = await freshDatabase();
    pool = createPool({ connection: databaseUrl });
  });
  afterAll(async () => {
    sqs.destroy();
    await pool.end();
  });

  it('lists every one with its reason, then moves every valid one back to the record queue', { timeout: 180_000 }, async () => {
    // Arrange: 1,200 valid batches and 3 malformed bodies in the DLQ; the database's reason noted for 200.
    const queue = await freshQueue(sqs);
    const valid = Array.from({ length: VALID }, (_, i) =>
      packQueueMessages('alice', '2024-06-01T00:00:00Z', toQueuedRecords([{ data: i, date: '2024-06-01T00:00:00Z' }], recordIds(1, 'alice')))[0]!,
    );
    const validIds = await sendAll(sqs, queue.dlqUrl, valid);
    await sendAll(sqs, queue.dlqUrl, Array.from({ length: MALFORMED }, (_, i) => `{"broken":${i}}`));
    const reason = 'new row for relation "records" violates check constraint "no_negative"';
    await new PgDeadLetterLog(pool).noteRefusals(validIds.slice(0, NOTED).map((messageId) => ({ messageId, receiveCount: 5, reason, sqlstate: '23514', constraint: 'no_negative' })));
    const urls = ['--dlq-url', queue.dlqUrl, '--queue-url', queue.queueUrl];

    // Act: list.
    const listed = await dlq([...urls, '--database-url', databaseUrl, '--json']);

    // Assert: every dead letter once, each with its reason, and a progress line.
    const letters = JSON.parse(listed.stdout) as DeadLetter[];
    expect(letters).toHaveLength(VALID + MALFORMED);
    expect(new Set(letters.map((l) => l.messageId)).size).toBe(VALID + MALFORMED);
    expect(letters.filter((l) => l.reason.startsWith(`refused by the database: ${reason} (SQLSTATE 23514, constraint no_negative)`))).toHaveLength(NOTED);
    expect(letters.filter((l) => l.reason.startsWith('a valid batch of 1 record(s) from alice'))).toHaveLength(VALID - NOTED);
    expect(letters.filter((l) => l.reason.startsWith('malformed:'))).toHaveLength(MALFORMED);
    expect(listed.stderr).toMatch(/listed: 1,0\d\d of about 1,203/);
    expect(listed.stderr).toMatch(/listed: 1,203 of about 1,203: done/);

    // Act: redrive.
    const redriven = await dlq([...urls, '--redrive']);

    // Assert: the path it took (fauxqs has no message move task), and where every message is now.
    expect(redriven.stdout).toMatch(/^redrive path: receive\/send\/delete \(.*no message move task.*ListMessageMoveTasks/m);
    expect(redriven.stdout).toMatch(/^moved 1200 message\(s\) back to the record queue; 3 malformed one\(s\) stay in the DLQ$/m);
    expect(redriven.stderr).toMatch(/moved: 1,200 of about 1,200: done/);
    const requeued = await listDeadLetters(sqs, queue.queueUrl);
    expect(requeued.map((l) => l.body).sort()).toEqual([...valid].sort());
    const left = await listDeadLetters(sqs, queue.dlqUrl);
    expect(left.map((l) => l.reason.slice(0, 10))).toEqual(['malformed:', 'malformed:', 'malformed:']);
    console.log(`dlq: ${letters.length} listed (${NOTED} with the database's reason), ${VALID} redriven, ${left.length} malformed left, queue holds ${requeued.length}`);
  });
});
