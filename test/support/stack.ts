/**
 * A whole local stack for one test file: random ports, a fresh database on the shared
 * PostgreSQL, its own fauxqs and dynalite, and fast event-source settings.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { StoredRecord } from '../../lambdas/core/record';
import { localConfigFromEnv } from '../../local/config';
import { startLocalStack, type LocalStack, type StartOptions } from '../../local/stack';
import { frameRecords } from '../../web/monitor-client.js';
import { freshDatabase } from './services';

export async function startTestStack(env: Record<string, string> = {}, options: StartOptions = {}): Promise<LocalStack & { cleanup(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'dh-stack-'));
  const config = localConfigFromEnv({
    PORT: '0',
    WS_PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: await freshDatabase(),
    BATCH_WINDOW_MS: '200',
    WRITER_TIMEOUT_MS: '5000',
    QUEUE_VISIBILITY_TIMEOUT_S: '5',
    ...env,
  });
  const stack = await startLocalStack(config, { drainTimeoutMs: 2_000, ...options });
  return {
    ...stack,
    cleanup: async () => {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Logs in through the HTTP API. */
export async function login(httpUrl: string, username = 'parsa', password = 'admin'): Promise<string> {
  const response = await fetch(`${httpUrl}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** A monitoring client that collects every frame it receives. */
export interface Monitor {
  readonly socket: WebSocket;
  readonly frames: any[];
  /** Record ids pushed, in arrival order (repeats kept, to catch duplicates). */
  pushedIds(): string[];
  /** Every record pushed so far, whole, repeats included. */
  pushedRecords(): StoredRecord[];
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function connectMonitor(wsUrl: string, token: string): Promise<Monitor> {
  const socket = new WebSocket(`${wsUrl}/?token=${encodeURIComponent(token)}`);
  const frames: any[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(data.toString())));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
  });
  return {
    socket,
    frames,
    pushedIds: () => frames.filter((f) => f.type === 'records').flatMap((f) => frameRecords(f).map((r) => r.id)),
    pushedRecords: () => frames.filter((f) => f.type === 'records').flatMap((f) => frameRecords(f)),
    waitFor: (predicate, timeoutMs = 15_000) => waitFor(predicate, timeoutMs),
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        socket.close();
      }),
  };
}

const POLL_MS = 25;

/** Polls `predicate` until it holds, or fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const started = performance.now();
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    // Every 25 ms, or twice the check's own time apart: an expensive check (a count over 60,000
    // ids, say) then takes at most a third of the wait, and not the CPU the stack under test needs.
    await new Promise((r) => setTimeout(r, Math.max(POLL_MS, 2 * (performance.now() - started))));
  }
}


/** The handshake status of a refused WebSocket connect. */
export function handshakeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('unexpected-response', (_, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      socket.close();
      reject(new Error('the connection opened'));
    });
    socket.once('error', () => undefined);
  });
}
