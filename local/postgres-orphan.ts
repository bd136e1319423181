/**
 * An embedded PostgreSQL left running by a start that ended without stopping it.
 *
 * The server runs in its own process group, so a SIGKILL of `npm start` leaves it running,
 * holding its port and the data folder's `postmaster.pid`; PostgreSQL then refuses every later
 * start on that folder. Such an orphan is recognised by its lock file, its command line (our
 * binary, our folder) and its parent (init or a subreaper: its starter is gone), and stopped.
 * A server whose starter still runs belongs to another live stack on the same DATA_DIR, and is
 * left alone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * 'zombie': it has ended, but its parent (init, for an orphan) has not reaped it yet. It holds
 * nothing, yet PostgreSQL's own check (kill -0) takes it for a running server.
 */
function processState(pid: number): 'running' | 'zombie' | 'gone' {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: another account's, which PostgreSQL too takes for not its server.
    return 'gone';
  }
  return processInfo(pid)?.state === 'Z' ? 'zombie' : 'running';
}

const alive = (pid: number) => processState(pid) === 'running';

interface ProcessInfo {
  readonly state: string;
  readonly ppid: number;
  readonly args: string[];
}

function processInfo(pid: number): ProcessInfo | undefined {
  try {
    if (existsSync(`/proc/${pid}/stat`)) {
      // The command name in field 2 may hold spaces and parentheses: fields follow the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      return { state: state ?? '', ppid: Number(ppid), args };
    }
    const [state, ppid, ...args] = execFileSync('ps', ['-o', 'state=,ppid=,args=', '-p', String(pid)], { encoding: 'utf8' }).trim().split(/\s+/);
    return { state: state?.[0] ?? '', ppid: Number(ppid), args };
  } catch {
    return undefined;
  }
}

function isNode(pid: number): boolean {
  const name = path.basename(processInfo(pid)?.args[0] ?? '');
  return /^node\d*(\.exe)?$/.test(name);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !alive(pid);
}

/**
 * Stops an orphaned server of `dataDir`, and clears a lock file whose process id now belongs
 * to another program. Says what it did in one line; throws when the server belongs to another
 * running stack or will not stop.
 */
export async function stopOrphanedServer(dataDir: string, log: (line: string) => void = () => undefined): Promise<void> {
  const lockFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(lockFile)) return;
  const pid = Number((await readFile(lockFile, 'utf8').catch(() => '')).split('\n')[0]);
  // A lock whose process is gone: PostgreSQL replaces it by itself.
  if (!Number.isInteger(pid) || pid <= 0 || processState(pid) === 'gone') return;
  if (processState(pid) === 'zombie') {
    // Killed with its starter (SIGKILL of the whole stack); PostgreSQL would refuse the lock.
    await rm(lockFile, { force: true });
    log(`removed the lock ${lockFile} of PostgreSQL (pid ${pid}), which was killed with an earlier start and is not yet reaped`);
    return;
  }
  const info = processInfo(pid);
  if (!info) return; // cannot tell: PostgreSQL decides, and says why if it refuses
  const command = info.args.join(' ');
  if (!/(^|\/)postgres(:| |$)/.test(command)) {
    // The id was handed to another program since: the lock is stale, and PostgreSQL would
    // refuse it (the process exists) without this.
    await rm(lockFile, { force: true });
    log(`removed the stale lock ${lockFile}: its process id ${pid} belongs to another program now`);
    return;
  }
  if (!command.includes(`-D ${dataDir}`)) {
    throw new Error(`a PostgreSQL (pid ${pid}: ${command.slice(0, 120)}) holds ${lockFile} but was not started by this stack; stop it first`);
  }
  if (info.ppid > 1 && alive(info.ppid) && isNode(info.ppid)) {
    throw new Error(`PostgreSQL (pid ${pid}) on ${dataDir} belongs to another running local stack (pid ${info.ppid}); stop that one first, or give this one another DATA_DIR`);
  }
  // Fast shutdown, as a clean stop does; immediate shutdown if it does not end in time.
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, 15_000))) {
    process.kill(pid, 'SIGQUIT');
    if (!(await waitForExit(pid, 5_000))) throw new Error(`PostgreSQL (pid ${pid}) left running on ${dataDir} by an earlier start would not stop; stop it by hand`);
  }
  // It removes its lock as it stops; should it not have, its id is a zombie's now, which PostgreSQL would take for a server.
  if (processState(pid) === 'zombie') await rm(lockFile, { force: true });
  log(`PostgreSQL (pid ${pid}) was still running on ${dataDir}, left by a start that ended without stopping it: stopped it, starting afresh`);
}
