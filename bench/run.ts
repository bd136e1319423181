/**
 * `npm run bench`: runs every benchmark in sequence and prints one table each, its baseline
 * measured in the same run. Starts and stops everything it needs itself.
 *
 *   npm run bench                      every benchmark
 *   npm run bench -- bundles frames    only these (names below)
 *   npm run bench -- --quick           fewer runs, smaller loads and shorter idle waits (or
 *                                      BENCH_QUICK=1): a quick look, noisier than the full run
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

type Postgres = Awaited<ReturnType<typeof import('./postgres').startBenchPostgres>>;
interface Context {
  readonly quick: boolean;
  /** Starts the benchmarks' PostgreSQL on first use. */
  postgres(): Promise<Postgres>;
}

/** Each benchmark by name, imported only when it runs (so one can run without the others' needs). */
const BENCHES: Record<string, (ctx: Context) => Promise<BenchTable>> = {
  'bulk-insert': async (ctx) => {
    const { runBulkInsertBench } = await import('./bulk-insert');
    const pg = await ctx.postgres();
    return runBulkInsertBench({ databaseUrl: await pg.freshDatabase('bench_bulk_insert'), serverVersion: pg.version, ...(ctx.quick ? { records: 10_000, runs: 1 } : {}) });
  },
  history: async (ctx) => {
    const { runHistoryBench } = await import('./history');
    const pg = await ctx.postgres();
    return runHistoryBench({ databaseUrl: await pg.freshDatabase('bench_history'), ...(ctx.quick ? { records: 1_000_000, retentionDayRecords: 200_000, runs: 3 } : {}) });
  },
  frames: async (ctx) => (await import('./frames')).runFramesBench(ctx.quick ? { rows: 2_000, runs: 2 } : {}),
  'ingest-loop': async (ctx) => {
    const { runIngestLoopBench } = await import('./ingest-loop');
    return runIngestLoopBench(ctx.quick ? { records: 500 } : {});
  },
  bundles: async (ctx) => (await import('./bundles')).runBundlesBench(ctx.quick ? { runs: 3 } : {}),
  handlers: async (ctx) => {
    const { runHandlersBench } = await import('./handlers');
    const pg = await ctx.postgres();
    return runHandlersBench({ databaseUrl: await pg.freshDatabase('bench_handlers'), ...(ctx.quick ? { invocations: 60 } : {}) });
  },
  fanout: async (ctx) => (await import('./fanout')).runFanoutBench(ctx.quick ? { monitorCounts: [1, 20], runs: 1, pausedAt: 20 } : {}),
  memory: async (ctx) => (await import('./memory')).runMemoryBench(ctx.quick ? { records: 20_000, reading: 1, paused: 4, settleMs: 5_000, idleTimeoutS: 10 } : {}),
  sustained: async (ctx) => (await import('./sustained')).runSustainedBench(ctx.quick ? { records: 20_000 } : {}),
  // The same loop at a steady rate below saturation: latency and memory as a steady load sees them.
  paced: async (ctx) => (await import('./sustained')).runSustainedBench({ paceRecordsPerSecond: 30_000, records: ctx.quick ? 60_000 : 1_200_000 }),
};

const args = process.argv.slice(2);
const quick = args.includes('--quick') || ['1', 'true'].includes(process.env.BENCH_QUICK ?? '');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length) {
  console.error(`bench: no benchmark named ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
const selected = names.length ? names : Object.keys(BENCHES);

const print = (table: BenchTable) => console.log(`${formatTable(table)}\n`);
const cpus = os.cpus();
console.log(
  `data-handler benchmarks — ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ` +
    `${formatFixed(os.totalmem() / 1024 ** 3, 1)} GiB, node ${process.version}, ${os.platform()}-${os.arch()}` +
    `${quick ? ' — quick run' : ''}\n`,
);

const started = performance.now();
let postgres: Promise<Postgres> | undefined;
const stopPostgres = async () => (postgres ? (await postgres.catch(() => undefined))?.stop() : undefined);
// PostgreSQL runs in its own process group, so Ctrl-C does not reach it: stop it on the way out.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, stopping…`);
    void stopPostgres().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

try {
  const context: Context = {
    quick,
    postgres: () => (postgres ??= import('./postgres').then((m) => m.startBenchPostgres())),
  };
  for (const name of selected) print(await BENCHES[name]!(context));
  console.log(`${selected.length === Object.keys(BENCHES).length ? 'all benchmarks' : selected.join(', ')} done in ${formatFixed((performance.now() - started) / 1000, 1)} s`);
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await stopPostgres();
}

// Everything was stopped above, so the process should now end by itself. If a handle was left
// open, say so and exit anyway, rather than hang a CI job.
setTimeout(() => {
  console.error('bench: handles still open after cleanup; exiting');
  process.exit(process.exitCode ?? 1);
}, 5_000).unref();
