/**
 * `npm start`: the whole system on this machine, with no Docker and no AWS account.
 *
 * Stopping: SIGINT or SIGTERM to this process (its PID is printed in the banner), or Ctrl-C,
 * stops it cleanly. npm is this process's parent and does not pass a signal sent to npm's own
 * PID on: SIGTERM there ends npm alone, so this process also stops cleanly when its parent
 * goes away.
 */
import path from 'node:path';
import { FUNCTION_SPECS } from '../lambdas/functions';
import { localConfigFromEnv } from '../local/config';
import { CPU_USAGE_FILE, formatCpuUsage } from '../local/cpu-usage';
import { writeStateFile } from '../local/state-file';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Metrics would print an EMF blob after every invocation; there is no CloudWatch to read them.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// The durable queue uses node:sqlite, which Node 22 flags as experimental on first use: that
// one warning says nothing to act on. Every other warning is still printed.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'ExperimentalWarning' && /SQLite/i.test(warning.message)) return;
  console.error(`(node:${process.pid}) ${warning.name}: ${warning.message}`);
});
// Imported only now: the handlers' logger and metrics read the environment when first loaded.
const { startLocalStack } = await import('../local/stack');
type LocalStack = Awaited<ReturnType<typeof startLocalStack>>;

const say = (line: string) => console.log(`[local] ${line}`);
/** Said once the functions started ahead of traffic are ready (test/e2e/local-child-stack.ts waits for it). */
const WARM_LINE = 'functions warm';

async function main() {
  let config;
  try {
    config = localConfigFromEnv();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }

  // Signals are taken from the first moment: one that comes while the stack starts stops it
  // as soon as it has started, rather than leaving PostgreSQL running on its own.
  let stack: LocalStack | undefined;
  let stopReason: string | undefined;
  const shutdown = async (reason: string) => {
    if (stopReason) {
      say('stopping already; a second signal does not skip answering requests in flight or the queue drain');
      return;
    }
    stopReason = reason;
    if (!stack) return say(`${reason}: stopping as soon as the start has finished…`);
    say(`${reason}: no new uploads; answering those in flight, draining the queue, then stopping…`);
    try {
      await stack.stop();
    } catch (error) {
      say(`stopping failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    }
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // SIGUSR2: where the CPU went so far, by part, printed and written to DATA_DIR/cpu-usage.json;
  // one report at a time, however many signals come.
  let reporting = Promise.resolve();
  process.on('SIGUSR2', () => (reporting = reporting.then(() => reportCpuUsage(stack, config.DATA_DIR))));
  // A SIGTERM to npm's PID ends npm and leaves this process to init: stop as if it had come here.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void shutdown(`the parent process (pid ${parent}) is gone`);
  }, 1_000).unref();

  const started = Date.now();
  stack = await startLocalStack(config, { log: say });
  if (stopReason) {
    const reason = stopReason;
    stopReason = undefined;
    return shutdown(reason);
  }
  const bar = '─'.repeat(72);
  console.log(`
${bar}
 data-handler is running (local stack, ready in ${((Date.now() - started) / 1000).toFixed(1)} s)

 Dashboard       ${stack.httpUrl}/
 HTTP API        ${stack.httpUrl}
   upload        POST ${stack.httpUrl}/api/data/upload
   records       GET  ${stack.httpUrl}/api/data/records?start_time=…&end_time=…
   analysis      GET  ${stack.httpUrl}/api/data/swing-analyze?start_time=…&end_time=…
   series        GET  ${stack.httpUrl}/api/data/series?start_time=…&end_time=…[&bucket=1m]
   pipeline      GET  ${stack.httpUrl}/api/pipeline/status  (admins)
   log in        POST ${stack.httpUrl}/auth/token
   health        GET  ${stack.httpUrl}/health
   contract      GET  ${stack.httpUrl}/openapi.json  (OpenAPI 3.1)
 WebSocket API   ${stack.wsUrl}/?token=<access_token>

${await usersBanner(stack, config)}

 PostgreSQL      ${stack.databaseUrl.replace(/:[^:@/]+@/, ':***@')}${config.DATABASE_URL ? '' : `  (embedded, data in ${config.DATA_DIR})`}
   functions as  writer ${new URL(stack.functionDatabaseUrls.writer).username}, readers ${new URL(stack.functionDatabaseUrls.reader).username} (migrations as the owner)
 SQS             ${stack.sqsEndpoint}  queue ${stack.queue.queueName}, DLQ ${stack.queue.dlqName} (after ${config.MAX_RECEIVE_COUNT} receives)
 DynamoDB        ${stack.dynamoEndpoint}  table ${stack.tableName}
 Event source    batch ${config.BATCH_SIZE}, window ${config.BATCH_WINDOW_MS} ms, concurrency ${config.MAX_CONCURRENCY}${config.LOCAL_WRITER ? '' : ' (off: LOCAL_WRITER=false)'}
 Functions       ${FUNCTION_SPECS.length} from lambdas/functions.ts, each its deploy bundle in environments of its own; log lines start [name]

 Try it:  npm run demo
 Stop:    Ctrl-C, or kill -TERM ${process.pid}   (this process; npm, its parent, does not pass signals on)
${bar}`);
  // The upload path's functions start environments now, in the background: the first uploads
  // (two clients, as the demo's) find them warm. Idle, they are reaped like any other.
  // (The writer only when this stack runs it: LOCAL_WRITER=false leaves the queue to another.)
  const warm = config.LOCAL_WRITER ? { ingest: 2, 'batch-writer': 1 } : { ingest: 2 };
  void stack.functions.prewarm(warm).then(() => say(`${WARM_LINE}: ${Object.entries(warm).map(([name, n]) => `${name} ×${n}`).join(', ')}`));
}

/** One line of where the CPU went, and the same as JSON in the data folder (written whole). */
async function reportCpuUsage(stack: LocalStack | undefined, dataDir: string): Promise<void> {
  if (!stack) return;
  try {
    const usage = await stack.cpuUsage();
    await writeStateFile(path.join(dataDir, CPU_USAGE_FILE), usage);
    say(`CPU so far: ${formatCpuUsage(usage)}`);
  } catch (error) {
    say(`CPU usage: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The banner's users: each name (a few at most), and a password only for the seed user while
 * it is still the env-provided one, which is no secret. Local-only credentials.
 */
async function usersBanner(stack: LocalStack, config: ReturnType<typeof localConfigFromEnv>): Promise<string> {
  const { store, seeded } = stack.users;
  let users;
  let seedPasswordHolds;
  try {
    users = await store.list();
    seedPasswordHolds = (await store.authenticate(config.LOCAL_USERNAME, config.LOCAL_PASSWORD)) !== null;
  } catch (error) {
    return ` LOCAL-ONLY USERS  ${store.file}: cannot read it: ${error instanceof Error ? error.message : String(error)}`;
  }
  const shown = 10;
  const width = Math.max(8, ...users.slice(0, shown).map((u) => u.username.length));
  const lines = users.slice(0, shown).map((u) => {
    const password = u.username === config.LOCAL_USERNAME && seedPasswordHolds ? `password ${config.LOCAL_PASSWORD}` : '';
    return `   ${u.username.padEnd(width)}  ${password.padEnd(24)}${u.admin ? 'admin: sees every user\'s records' : 'sees their own records'}`;
  });
  if (users.length === 0) lines.push('   (none: nobody can log in; add one with npm run users -- add NAME)');
  if (users.length > shown) lines.push(`   … and ${users.length - shown} more (npm run users -- list)`);
  const origin = seeded
    ? `   ${store.file} was made now, with the seed user from LOCAL_USERNAME / LOCAL_PASSWORD.`
    : `   ${store.file}: LOCAL_USERNAME / LOCAL_PASSWORD only seed a new users file; this one exists.`;
  return [` LOCAL-ONLY USERS (manage with npm run users -- add NAME [--admin] | list | remove NAME):`, ...lines, origin].join('\n');
}

main().catch((error) => {
  const message = error instanceof Error ? error.message : String(error);
  const hint = (error as { code?: string }).code === 'EADDRINUSE' ? ' Another program has that port: stop it, or choose others with PORT and WS_PORT.' : '';
  console.error(`[local] failed to start: ${message}.${hint}`);
  process.exit(1);
});
