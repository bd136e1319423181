/**
 * Where the local stack's CPU goes, by part: the main thread (the gateways, the event source,
 * DynamoDB), the embedded queue's thread, each function's environments, and the rest of the
 * process's threads (V8's parallel GC and compiler, libuv's pool, and the start's one-off
 * migration, which runs in an environment of its own). PostgreSQL runs apart and is not
 * counted. `npm start` writes it on SIGUSR2 (bin/local.ts); the benchmarks read it.
 */
import type { FunctionName } from '../lambdas/functions';

export const CPU_USAGE_FILE = 'cpu-usage.json';

export interface CpuUsage {
  /** The whole process, every thread, in ms. */
  readonly processMs: number;
  readonly mainThreadMs: number;
  /** NaN when the queue has no thread of its own (LocalStack) or it did not answer. */
  readonly queueThreadMs: number;
  readonly functionsMs: Readonly<Record<FunctionName, number>>;
  /** What the process used beyond the parts above. */
  readonly otherThreadsMs: number;
}

const ms = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

/** The calling thread's CPU time so far, in ms; NaN before Node 22.19 (function-worker.mjs has its own copy). */
export function threadCpuMs(): number {
  const usage = process.threadCpuUsage?.();
  return usage ? ms(usage) : Number.NaN;
}

/** Reads every part now; the functions' figures are as of each environment's last answer. */
export async function readCpuUsage(parts: { queueThreadMs?: () => Promise<number>; functionsMs: () => Record<FunctionName, number> }): Promise<CpuUsage> {
  const queueThreadMs = parts.queueThreadMs ? await parts.queueThreadMs() : Number.NaN;
  const functionsMs = parts.functionsMs();
  const processMs = ms(process.cpuUsage());
  const mainThreadMs = threadCpuMs();
  const known = mainThreadMs + (Number.isNaN(queueThreadMs) ? 0 : queueThreadMs) + Object.values(functionsMs).reduce((a, b) => a + b, 0);
  return { processMs, mainThreadMs, queueThreadMs, functionsMs, otherThreadsMs: processMs - known };
}

/** One line: each part in CPU-seconds, the busiest functions first. */
export function formatCpuUsage(usage: CpuUsage): string {
  const s = (v: number) => `${(v / 1000).toFixed(1)} s`;
  const functions = Object.entries(usage.functionsMs)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `${name} ${s(v)}`);
  return [`process ${s(usage.processMs)}`, `main thread ${s(usage.mainThreadMs)}`, `queue thread ${s(usage.queueThreadMs)}`, ...functions, `other threads ${s(usage.otherThreadsMs)}`].join(', ');
}
