/**
 * Linux /proc readings of the processes a benchmark measures: resident memory and CPU time.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CPU_USAGE_FILE, type CpuUsage } from '../local/cpu-usage';

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards). */
function statFields(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone
  }
}

/** CPU time (user + system, all threads) a process has used, in ms; NaN when it is gone. */
export function processCpuMs(pid: number): number {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) * 10 : Number.NaN; // utime, stime in 1/100 s
}

/**
 * CPU time of a process and of its live children (PostgreSQL's postmaster and its backends),
 * in ms. A child that has exited is no longer counted: read it while they run.
 */
export function processTreeCpuMs(pid: number): number {
  let total = processCpuMs(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f && Number(f[1]) === pid) total += (Number(f[11]) + Number(f[12])) * 10;
  }
  return total;
}

/** A process's resident memory in MiB, from /proc (Linux); NaN when it is gone. */
export function rssMiB(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.replace(/\D+/g, '')) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * The local stack's CPU by part (local/cpu-usage.ts), as `npm start` writes it on SIGUSR2 to
 * its data folder.
 */
export async function readStackCpuUsage(pid: number, dataDir: string, timeoutMs = 5_000): Promise<CpuUsage> {
  const file = path.join(dataDir, CPU_USAGE_FILE);
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`the stack (pid ${pid}) wrote no ${CPU_USAGE_FILE} within ${timeoutMs} ms of SIGUSR2`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return JSON.parse(readFileSync(file, 'utf8')) as CpuUsage;
}

/** What each part used between two readings. */
export function cpuUsageBetween(from: CpuUsage, to: CpuUsage): CpuUsage {
  const functionsMs = Object.fromEntries(Object.entries(to.functionsMs).map(([name, ms]) => [name, ms - (from.functionsMs[name as keyof CpuUsage['functionsMs']] ?? 0)]));
  return {
    processMs: to.processMs - from.processMs,
    mainThreadMs: to.mainThreadMs - from.mainThreadMs,
    queueThreadMs: to.queueThreadMs - from.queueThreadMs,
    functionsMs: functionsMs as CpuUsage['functionsMs'],
    otherThreadsMs: to.otherThreadsMs - from.otherThreadsMs,
  };
}
