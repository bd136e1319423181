/**
 * `npm run dlq`: every message in the dead-letter queue and why it is there; `-- --redrive`
 * moves them back to the record queue once their cause is fixed. No cap on how many: a progress
 * line on stderr counts them.
 *
 * Against the running local stack it needs nothing. Against AWS pass the stack outputs:
 * `npm run dlq -- --dlq-url <DeadLetterQueueUrl> --queue-url <queue URL>` with AWS credentials,
 * and `--database-url` when the database is reachable from here (the reasons it refused records).
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { PgDeadLetterLog } from '../lambdas/adapters/pg-dead-letter-log';
import { createPool } from '../lambdas/adapters/pg-record-store';
import { listDeadLetters, redriveDeadLetters, type Progress } from '../local/dead-letters';
import { localSqsClient } from '../local/services';
import { RUNTIME_FILE } from '../local/stack';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const USAGE = `npm run dlq [-- --redrive [--include-malformed]] [--dlq-url URL --queue-url URL] [--database-url URL] [--json]

  (no option)          list every dead letter with its reason
  --redrive            move the dead letters back to the record queue (malformed ones stay)
  --include-malformed  move malformed ones too (they only come back)
  --dlq-url, --queue-url   a deployed stack's queues (stack outputs); default: the running local stack
  --database-url       where the writer noted the database's reasons (default: the local stack's, or DATABASE_URL)
  --json               the list as JSON`;

const { values } = parseArgs({
  options: {
    redrive: { type: 'boolean', default: false },
    'include-malformed': { type: 'boolean', default: false },
    'dlq-url': { type: 'string' },
    'queue-url': { type: 'string' },
    'database-url': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

let sqs: SQSClient;
let urls: { dlqUrl: string; queueUrl: string };
let databaseUrl = values['database-url'] ?? process.env.DATABASE_URL;
if (values['dlq-url']) {
  if (values.redrive && !values['queue-url']) {
    console.error('--redrive needs --queue-url too');
    process.exit(2);
  }
  // The SDK's own endpoint (AWS_ENDPOINT_URL_SQS, or the region's), never a queue URL's host.
  sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  urls = { dlqUrl: values['dlq-url'], queueUrl: values['queue-url'] ?? '' };
} else {
  const file = path.resolve(process.env.DATA_DIR ?? '.data', RUNTIME_FILE);
  if (!existsSync(file)) {
    console.error(`The local stack is not running (no ${file}). Start it with \`npm start\`, or pass --dlq-url for a deployed stack.`);
    process.exit(1);
  }
  const running = JSON.parse(readFileSync(file, 'utf8')) as { sqsEndpoint: string; queueUrl: string; dlqUrl: string; databaseUrl?: string };
  sqs = localSqsClient(running.sqsEndpoint);
  urls = running;
  databaseUrl ??= running.databaseUrl;
}

/** One line on stderr, rewritten in place on a terminal, otherwise every 1,000 and at the end. */
function progress(label: string): Progress & { end(): void } {
  let last = '';
  let printedAt = 0;
  const report = ((done: number, expected: number) => {
    last = `${label}: ${done.toLocaleString('en')} of about ${expected.toLocaleString('en')}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${last}\u001b[K`);
    else if (done - printedAt >= 1000) {
      printedAt = done;
      process.stderr.write(`${last}\n`);
    }
  }) as Progress & { end(): void };
  report.end = () => {
    if (process.stderr.isTTY && last) process.stderr.write('\n');
    else if (last) process.stderr.write(`${last}: done\n`);
  };
  return report;
}

let pool: pg.Pool | undefined;
try {
  if (values.redrive) {
    const bar = progress('moved');
    const result = await redriveDeadLetters(sqs, urls, { includeMalformed: values['include-malformed'], onProgress: bar });
    bar.end();
    console.log(`redrive path: ${result.path === 'move-task' ? 'SQS message move task' : 'receive/send/delete'} (${result.why})`);
    console.log(`moved ${result.moved} message(s) back to the record queue; ${result.kept} malformed one(s) stay in the DLQ`);
  } else {
    pool = databaseUrl ? createPool({ connection: databaseUrl, max: 1 }) : undefined;
    const bar = progress('listed');
    const letters = await listDeadLetters(sqs, urls.dlqUrl, { ...(pool ? { reasons: new PgDeadLetterLog(pool) } : {}), onProgress: bar });
    bar.end();
    if (values.json) console.log(JSON.stringify(letters, null, 2));
    else if (letters.length === 0) console.log('The dead-letter queue is empty: every accepted record was stored.');
    else {
      console.log(`${letters.length} message(s) in the dead-letter queue:\n`);
      for (const l of letters) console.log(`${l.messageId}  sent ${l.sentAt}  received ${l.receiveCount}×\n  ${l.reason}\n`);
      if (!pool) console.log('(No --database-url: the reasons the database gave for refused records are not shown.)');
      console.log('Fix the cause, then `npm run dlq -- --redrive` moves the valid batches back.');
    }
  }
} catch (error) {
  console.error(`dlq: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  sqs.destroy();
  await pool?.end();
}
