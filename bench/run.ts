/**
 * `npm run bench`: runs every benchmark in sequence and prints one table each, its baseline
 * measured in the same run. Starts and stops everything it needs itself.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { formatFixed, formatTable, type BenchTable } from './table';

// The batch writer logs a line per batch at info level, and its metrics would print an EMF blob
// per batch; the logger and metrics read LOG_LEVEL and POWERTOOLS_METRICS_DISABLED once, when
// first imported, so they are set here and the benchmarks are imported only afterwards.
process.env.LOG_LEVEL ??= 'warn';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // Lambda runs Node 22; this warning is about the local Node 20
const { startBenchPostgres } = await import('./postgres');
const { runBulkInsertBench } = await import('./bulk-insert');
const { runFramesBench } = await import('./frames');
const { runIngestLoopBench } = await import('./ingest-loop');

const print = (table: BenchTable) => console.log(`${formatTable(table)}\n`);
const cpus = os.cpus();
console.log(
  `data-handler benchmarks — ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ` +
    `${formatFixed(os.totalmem() / 1024 ** 3, 1)} GiB, node ${process.version}, ${os.platform()}-${os.arch()}\n`,
);

const started = performance.now();
let postgres: Awaited<ReturnType<typeof startBenchPostgres>> | undefined;
// PostgreSQL runs in its own process group, so Ctrl-C does not reach it: stop it on the way out.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, stopping PostgreSQL…`);
    void (postgres?.stop() ?? Promise.resolve()).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

try {
  postgres = await startBenchPostgres();
  print(await runBulkInsertBench({ databaseUrl: await postgres.freshDatabase('bench_bulk_insert'), serverVersion: postgres.version }));
  print(runFramesBench());
  print(await runIngestLoopBench({ databaseUrl: await postgres.freshDatabase('bench_ingest_loop') }));
  console.log(`all benchmarks done in ${formatFixed((performance.now() - started) / 1000, 1)} s`);
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await postgres?.stop();
}

// Everything was stopped above, so the process should now end by itself. If a handle was left
// open, say so and exit anyway, rather than hang a CI job.
setTimeout(() => {
  console.error('bench: handles still open after cleanup; exiting');
  process.exit(process.exitCode ?? 1);
}, 5_000).unref();
