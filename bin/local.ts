/**
 * `npm start`: the whole system on this machine, with no Docker and no AWS account.
 */
import { FUNCTION_SPECS } from '../lambdas/functions';
import { localConfigFromEnv } from '../local/config';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Metrics would print an EMF blob after every invocation; there is no CloudWatch to read them.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// Imported only now: the handlers' logger and metrics read the environment when first loaded.
const { startLocalStack } = await import('../local/stack');

const say = (line: string) => console.log(`[local] ${line}`);

async function main() {
  let config;
  try {
    config = localConfigFromEnv();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const started = Date.now();
  const stack = await startLocalStack(config, { log: say });
  const bar = '─'.repeat(72);
  console.log(`
${bar}
 data-handler is running (local stack, ready in ${((Date.now() - started) / 1000).toFixed(1)} s)

 Dashboard       ${stack.httpUrl}/
 HTTP API        ${stack.httpUrl}
   upload        POST ${stack.httpUrl}/api/data/upload
   records       GET  ${stack.httpUrl}/api/data/records?start_time=…&end_time=…
   analysis      GET  ${stack.httpUrl}/api/data/swing-analyze?start_time=…&end_time=…
   log in        POST ${stack.httpUrl}/auth/token
   health        GET  ${stack.httpUrl}/health
 WebSocket API   ${stack.wsUrl}/?token=<access_token>

 LOCAL-ONLY CREDENTIALS (change with LOCAL_USERNAME / LOCAL_PASSWORD):
   username ${config.LOCAL_USERNAME}   password ${config.LOCAL_PASSWORD}   ${config.LOCAL_USER_IS_ADMIN ? '(admin: sees every user\'s records)' : ''}

 PostgreSQL      ${stack.databaseUrl.replace(/:[^:@/]+@/, ':***@')}${config.DATABASE_URL ? '' : `  (embedded, data in ${config.DATA_DIR})`}
 SQS             ${stack.sqsEndpoint}  queue ${stack.queue.queueName}, DLQ ${stack.queue.dlqName} (after ${config.MAX_RECEIVE_COUNT} receives)
 DynamoDB        ${stack.dynamoEndpoint}  table ${stack.tableName}
 Event source    batch ${config.BATCH_SIZE}, window ${config.BATCH_WINDOW_MS} ms, concurrency ${config.MAX_CONCURRENCY}${config.LOCAL_WRITER ? '' : ' (off: LOCAL_WRITER=false)'}
 Functions       ${FUNCTION_SPECS.length} from lambdas/functions.ts, each its deploy bundle in environments of its own; log lines start [name]

 Try it:  npm run demo          Stop: Ctrl-C
${bar}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      say('stopping already; a second signal does not skip the queue drain');
      return;
    }
    stopping = true;
    say(`${signal}: no new uploads; draining the queue, then stopping…`);
    await stack.stop();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error) => {
  const message = error instanceof Error ? error.message : String(error);
  const hint = (error as { code?: string }).code === 'EADDRINUSE' ? ' Another program has that port: stop it, or choose others with PORT and WS_PORT.' : '';
  console.error(`[local] failed to start: ${message}.${hint}`);
  process.exit(1);
});
