/**
 * `npm start` as a real process, for the tests that kill it: `node --import tsx bin/local.ts`
 * (or `npm start` itself, in a process group of its own as a terminal runs it) with a DATA_DIR
 * and ports of its own (embedded PostgreSQL, durable queue), plus a stream of uploads that
 * remembers exactly which records were answered 202.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { PROJECT_ROOT } from '../../lib/bundling';
import { waitFor } from '../support/stack';

export interface RunningInfo {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly pid: number;
  readonly postgresDataDir: string;
}

export class ChildStack {
  child: ChildProcess | undefined;
  /** Every line the process printed, over all its starts. */
  readonly lines: string[] = [];
  info!: RunningInfo;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });

  constructor(
    readonly dataDir: string,
    private readonly env: Record<string, string> = {},
    /** `npm start` in a process group of its own, rather than node directly. */
    private readonly viaNpm = false,
  ) {}

  private get runtimeFile(): string {
    return path.join(this.dataDir, 'local-stack.json');
  }

  /** Starts the process and resolves once its stack is ready. */
  async start(timeoutMs = 90_000): Promise<RunningInfo> {
    await rm(this.runtimeFile, { force: true }); // a SIGKILL leaves the last run's behind
    const [command, args] = this.viaNpm ? ['npm', ['start']] : [process.execPath, ['--import', 'tsx', 'bin/local.ts']];
    const child = spawn(command, args, {
      cwd: PROJECT_ROOT,
      detached: this.viaNpm,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DATA_DIR: this.dataDir,
        PORT: '0',
        WS_PORT: '0',
        BATCH_WINDOW_MS: '200',
        WRITER_TIMEOUT_MS: '5000',
        QUEUE_VISIBILITY_TIMEOUT_S: '5',
        LOG_LEVEL: 'warn',
        ...this.env,
      },
    });
    this.child = child;
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.on('data', (chunk: Buffer) => {
        const parts = (rest + chunk.toString()).split('\n');
        rest = parts.pop() ?? '';
        this.lines.push(...parts);
      });
    }
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let gone = false;
    void this.exited.then(() => (gone = true));
    await waitFor(() => {
      if (gone) throw new Error(`the stack exited while starting:\n${this.lines.slice(-20).join('\n')}`);
      return existsSync(this.runtimeFile); // written whole, once the stack is ready
    }, timeoutMs);
    this.info = JSON.parse(readFileSync(this.runtimeFile, 'utf8')) as RunningInfo;
    // The banner (with the PID to signal) is printed just after the runtime file is written.
    await waitFor(() => this.lines.some((l) => l.includes(`kill -TERM ${this.info.pid} `)), 10_000);
    return this.info;
  }

  /** Resolves once the functions `npm start` warms ahead of traffic are ready (bin/local.ts says so). */
  async warm(timeoutMs = 30_000): Promise<void> {
    await waitFor(() => this.lines.some((l) => l.includes('[local] functions warm')), timeoutMs);
  }

  /** The postmaster's process id and port, from its lock file. */
  postmaster(): { pid: number; port: number } {
    const lines = readFileSync(path.join(this.info.postgresDataDir, 'postmaster.pid'), 'utf8').split('\n');
    return { pid: Number(lines[0]), port: Number(lines[3]) };
  }

  /** A client for the stack's own database (local-only credentials). */
  async database(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: `postgres://postgres:local-only-password@127.0.0.1:${this.postmaster().port}/data_handler` });
    await client.connect();
    return client;
  }

  /** Sends a signal to the process and resolves with how it ended. */
  async signal(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child?.kill(signal);
    return this.exited;
  }

  /** What a terminal's Ctrl-C does: SIGINT to the whole foreground process group (npm, sh, node). */
  async ctrlC(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    process.kill(-this.child!.pid!, 'SIGINT');
    return this.exited;
  }

  /** SIGKILL of the process, and with `postgresToo` of PostgreSQL's process group as well. */
  async kill9({ postgresToo }: { postgresToo: boolean }): Promise<void> {
    const postmaster = postgresToo ? this.postmaster().pid : undefined;
    this.child?.kill('SIGKILL');
    if (postmaster) process.kill(-postmaster, 'SIGKILL');
    await this.exited;
  }

  /** Ends whatever is left (after a failed test). */
  async cleanup(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) await this.signal('SIGTERM');
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** Logs in as the local user. */
export async function token(httpUrl: string): Promise<string> {
  const answer = await fetch(`${httpUrl}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'parsa', password: 'admin' }),
  });
  return ((await answer.json()) as { access_token: string }).access_token;
}

/**
 * Uploads from `workers` clients at once, `perRequest` records a request, each record's `data`
 * a number of its own (so a duplicate row is visible), until `stop()`.
 */
export function uploadStream(httpUrl: string, bearer: string, options: { workers: number; perRequest: number; dataBase?: number }) {
  const accepted = new Map<string, number>(); // id → data
  let sent = 0;
  let requests = 0;
  let failures = 0;
  let inFlight = 0;
  const outcomes: Record<string, number> = {}; // answer status, or the error's code
  const count = (outcome: string) => (outcomes[outcome] = (outcomes[outcome] ?? 0) + 1);
  let running = true;
  let next = options.dataBase ?? 1;
  const worker = async () => {
    while (running) {
      const data = Array.from({ length: options.perRequest }, () => next++);
      sent += data.length;
      requests++;
      inFlight++;
      try {
        const answer = await fetch(`${httpUrl}/api/data/upload`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
          body: JSON.stringify({ records: data.map((d) => ({ data: d, date: '2024-09-01T00:00:00Z' })) }),
        });
        count(String(answer.status));
        if (answer.status === 202) {
          const { ids } = (await answer.json()) as { ids: string[] };
          ids.forEach((id, i) => accepted.set(id, data[i]!));
        } else {
          failures++;
          await answer.arrayBuffer();
        }
      } catch (error) {
        count(String((error as { cause?: { code?: string } }).cause?.code ?? 'error'));
        failures++; // refused, reset: not accepted
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        inFlight--;
      }
    }
  };
  const done = Promise.all(Array.from({ length: options.workers }, worker));
  return {
    accepted,
    counts: () => ({ sent, requests, accepted: accepted.size, failures, inFlight, outcomes: { ...outcomes } }),
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** What the database holds against what was answered 202. */
export async function tally(db: pg.Client, accepted: Map<string, number>, sent: number) {
  const { rows } = await db.query<{ id: string; data: number }>('SELECT id, data FROM records');
  const storedIds = new Set(rows.map((r) => r.id));
  const dataSeen = new Set(rows.map((r) => r.data));
  return {
    sent,
    accepted: accepted.size,
    stored: rows.length,
    duplicated: rows.length - dataSeen.size,
    lost: [...accepted.keys()].filter((id) => !storedIds.has(id)).length,
    /** Stored, but the client saw no 202 (the request was in flight at the crash): not a loss. */
    storedWithout202: rows.filter((r) => !accepted.has(r.id)).length,
  };
}
