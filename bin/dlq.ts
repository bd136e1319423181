/**
 * `npm run dlq`: what is in the dead-letter queue and why; `-- --redrive` moves the valid
 * batches back to the record queue once their cause is fixed.
 *
 * Against the running local stack it needs nothing. Against AWS pass the stack outputs:
 * `npm run dlq -- --dlq-url <DeadLetterQueueUrl> --queue-url <queue URL>` with AWS credentials.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { listDeadLetters, redriveDeadLetters } from '../local/dead-letters';
import { localSqsClient } from '../local/services';
import { RUNTIME_FILE } from '../local/stack';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({
  options: {
    redrive: { type: 'boolean', default: false },
    'include-malformed': { type: 'boolean', default: false },
    'dlq-url': { type: 'string' },
    'queue-url': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('npm run dlq [-- --redrive [--include-malformed]] [--dlq-url URL --queue-url URL] [--json]');
  process.exit(0);
}

let sqs: SQSClient;
let urls: { dlqUrl: string; queueUrl: string };
if (values['dlq-url']) {
  if (values.redrive && !values['queue-url']) {
    console.error('--redrive needs --queue-url too');
    process.exit(2);
  }
  sqs = new SQSClient({});
  urls = { dlqUrl: values['dlq-url'], queueUrl: values['queue-url'] ?? '' };
} else {
  const file = path.resolve(process.env.DATA_DIR ?? '.data', RUNTIME_FILE);
  if (!existsSync(file)) {
    console.error(`The local stack is not running (no ${file}). Start it with \`npm start\`, or pass --dlq-url for a deployed stack.`);
    process.exit(1);
  }
  const running = JSON.parse(readFileSync(file, 'utf8')) as { sqsEndpoint: string; queueUrl: string; dlqUrl: string };
  sqs = localSqsClient(running.sqsEndpoint);
  urls = running;
}

try {
  if (values.redrive) {
    const { moved, kept } = await redriveDeadLetters(sqs, urls, { includeMalformed: values['include-malformed'] });
    console.log(`moved ${moved} message(s) back to the record queue; ${kept} malformed one(s) stay in the DLQ`);
  } else {
    const letters = await listDeadLetters(sqs, urls.dlqUrl);
    if (values.json) console.log(JSON.stringify(letters, null, 2));
    else if (letters.length === 0) console.log('The dead-letter queue is empty: every accepted record was stored.');
    else {
      console.log(`${letters.length} message(s) in the dead-letter queue:\n`);
      for (const l of letters) console.log(`${l.messageId}  sent ${l.sentAt}  received ${l.receiveCount}×\n  ${l.reason}\n`);
      console.log('Fix the cause, then `npm run dlq -- --redrive` moves the valid batches back.');
    }
  }
} catch (error) {
  console.error(`dlq: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  sqs.destroy();
}
