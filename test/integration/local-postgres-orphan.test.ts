/**
 * A start finds what an earlier start left in the data folder's `postmaster.pid`. Stand-ins
 * for the server are real processes: node under the name `postgres`, with the folder on its
 * command line, as the embedded server runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stopOrphanedServer } from '../../local/postgres-orphan';
import { waitFor } from '../support/stack';

/** Whether `pid` has its SIGINT handler in place (before, a SIGINT might meet the shell's 'ignore'). */
const catchesSigint = (pid: number) => {
  const caught = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return caught !== undefined && (BigInt(`0x${caught}`) & 2n) !== 0n;
};

/** Whether `pid` runs: not gone, and not a zombie that init has yet to reap. */
const running = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

describe.runIf(process.platform === 'linux')('an embedded PostgreSQL left behind by an earlier start', () => {
  let root: string;
  let dataDir: string;
  let fakePostgres: string;
  const started: number[] = [];
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'dh-orphan-'));
    dataDir = path.join(root, 'postgres');
    fakePostgres = path.join(root, 'postgres-bin', 'postgres');
    await mkdir(path.dirname(fakePostgres), { recursive: true });
    await symlink(process.execPath, fakePostgres);
  });
  afterEach(async () => {
    for (const pid of started.splice(0)) if (running(pid)) process.kill(pid, 'SIGKILL');
    await rm(root, { recursive: true, force: true });
  });

  // Ends on SIGINT as PostgreSQL's fast shutdown does, whatever signal dispositions it inherited.
  const serverArgs = () => ['-e', "process.on('SIGINT', () => process.exit(0)); setInterval(() => {}, 1000)", '--', '-D', dataDir];
  const lock = (pid: number) => writeFile(path.join(dataDir, 'postmaster.pid'), `${pid}\n${dataDir}\n0\n5432\n`);

  it('stops a server whose starter is gone, and says so in one line', async () => {
    // Arrange: started through a shell that exits at once, so init adopts it, as after a SIGKILL of node
    await mkdir(dataDir, { recursive: true });
    const shell = spawn('sh', ['-c', `"$0" "$@" >/dev/null 2>&1 & echo $!`, fakePostgres, ...serverArgs()], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(await new Promise<string>((resolve) => shell.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()))));
    started.push(pid);
    await waitFor(() => catchesSigint(pid));
    await lock(pid);
    const lines: string[] = [];

    // Act
    await stopOrphanedServer(dataDir, (line) => lines.push(line));

    // Assert
    expect(running(pid)).toBe(false);
    expect(lines).toEqual([expect.stringContaining(`PostgreSQL (pid ${pid}) was still running on ${dataDir}`)]);
  });

  it('removes the lock of a server killed with its starter and not yet reaped, which PostgreSQL would take for a running one', async () => {
    // Arrange: the server's parent never reaps it (a shell that became `sleep`), as a slow init does
    await mkdir(dataDir, { recursive: true });
    const parent = spawn('sh', ['-c', `"$0" "$@" >/dev/null 2>&1 & echo $!; exec sleep 60`, fakePostgres, ...serverArgs()], { stdio: ['ignore', 'pipe', 'ignore'] });
    started.push(parent.pid!);
    const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()))));
    await waitFor(() => catchesSigint(pid));
    // Only once the shell has become `sleep` does nothing reap the server: a shell still
    // between its `echo` and its `exec` may reap it (on a loaded machine it did, and the zombie
    // this test needs was gone).
    await waitFor(() => readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim() === 'sleep');
    process.kill(pid, 'SIGKILL');
    await waitFor(() => readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '));
    await lock(pid);
    const lines: string[] = [];

    // Act
    await stopOrphanedServer(dataDir, (line) => lines.push(line));

    // Assert
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(lines).toEqual([expect.stringContaining(`of PostgreSQL (pid ${pid}), which was killed with an earlier start`)]);
  });

  it('leaves alone, and refuses to start beside, a server whose starter still runs', async () => {
    // Arrange: this test's own process is the starter
    await mkdir(dataDir, { recursive: true });
    const server: ChildProcess = spawn(fakePostgres, serverArgs(), { stdio: 'ignore' });
    started.push(server.pid!);
    await waitFor(() => running(server.pid!));
    await lock(server.pid!);

    // Act
    const outcome = stopOrphanedServer(dataDir);

    // Assert
    await expect(outcome).rejects.toThrow(/belongs to another running local stack/);
    expect(running(server.pid!)).toBe(true);
  });

  it('removes a lock whose process id now belongs to another program, and says so', async () => {
    // Arrange: the lock names this test's process, which is not a PostgreSQL
    await mkdir(dataDir, { recursive: true });
    await lock(process.pid);
    const lines: string[] = [];

    // Act
    await stopOrphanedServer(dataDir, (line) => lines.push(line));

    // Assert
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(lines).toEqual([expect.stringContaining('belongs to another program now')]);
    expect(running(process.pid)).toBe(true);
  });
});
