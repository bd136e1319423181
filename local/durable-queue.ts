/**
 * fauxqs with its SQLite persistence (WAL), listening on 127.0.0.1 only.
 *
 * fauxqs writes every mutation through to SQLite before it answers, so a message that
 * SendMessage accepted (and so every 202) survives a SIGKILL of the whole stack; a restart
 * restores queues and messages (visible, delayed, and in flight with their visibility deadlines).
 *
 * Its `startFauxqs({ dataDir })` wires that persistence, but always listens on every
 * interface. So we wire the same parts ourselves around `buildApp` (which takes the stores)
 * and listen on 127.0.0.1. Those parts are not exports of the package, so they are imported
 * from its files, of the exact version that package.json pins; a layout change fails the
 * start with a message that says so.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

interface Persistence {
  load(sqs: unknown, sns: unknown, s3: unknown): void;
  close(): void;
}
interface QueueInternals {
  name: string;
  url: string;
  persistence?: Persistence;
}
interface SqsStoreInternals {
  persistence?: Persistence;
  readonly queues: Map<string, QueueInternals>;
  allQueues(): Iterable<QueueInternals>;
}
interface StoreInternals {
  persistence?: Persistence;
}

/** The SQLite database, in the queue's folder. */
export const QUEUE_DB_FILE = 'fauxqs.db';

function fauxqsDist(): string {
  for (const dir of createRequire(import.meta.url).resolve.paths('fauxqs') ?? []) {
    const dist = path.join(dir, 'fauxqs', 'dist');
    if (existsSync(path.join(dist, 'persistence.js'))) return dist;
  }
  throw new Error('fauxqs with SQLite persistence (2.3 or newer) is not installed: run npm ci');
}

async function load<T>(dist: string, file: string, name: string): Promise<T> {
  const module = (await import(pathToFileURL(path.join(dist, file)).href)) as Record<string, unknown>;
  if (!module[name]) throw new Error(`fauxqs ${file} has no ${name}: this version's layout differs from the one package.json pins`);
  return module[name] as T;
}

export interface DurableQueueServer {
  readonly endpoint: string;
  /** Closes the listener, then the database (every write is already on disk). */
  close(): Promise<void>;
}

/**
 * Starts fauxqs on 127.0.0.1:`port` (0: a free one) with its state in `dir` (created 0700;
 * the database and its WAL files 0600).
 */
export async function startDurableQueue(options: { dir: string; port: number }): Promise<DurableQueueServer> {
  const dist = fauxqsDist();
  const { buildApp } = (await import(pathToFileURL(path.join(dist, 'app.js')).href)) as typeof import('fauxqs');
  const PersistenceManager = await load<new (dir: string) => Persistence>(dist, 'persistence.js', 'PersistenceManager');
  const SqsStore = await load<new () => SqsStoreInternals>(dist, 'sqs/sqsStore.js', 'SqsStore');
  const SnsStore = await load<new () => StoreInternals>(dist, 'sns/snsStore.js', 'SnsStore');
  const S3Store = await load<new () => StoreInternals>(dist, 's3/s3Store.js', 'S3Store');

  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const db = path.join(options.dir, QUEUE_DB_FILE);
  // SQLite gives its -wal and -shm files the database file's mode, so that one is made 0600 first.
  closeSync(openSync(db, 'a', 0o600));
  chmodSync(db, 0o600);

  const sqsStore = new SqsStore();
  const snsStore = new SnsStore();
  const s3Store = new S3Store();
  const persistence = new PersistenceManager(options.dir);
  // As startFauxqs does: load first, then attach, so loading writes nothing back.
  persistence.load(sqsStore, snsStore, s3Store);
  for (const store of [sqsStore, snsStore, s3Store]) store.persistence = persistence;
  for (const queue of sqsStore.allQueues()) queue.persistence = persistence;
  for (const suffix of ['-wal', '-shm']) if (existsSync(db + suffix)) chmodSync(db + suffix, 0o600);

  const app = buildApp({ logger: false, stores: { sqsStore, snsStore, s3Store } as never });
  let endpoint: string;
  try {
    endpoint = await app.listen({ port: options.port, host: '127.0.0.1' });
  } catch (error) {
    persistence.close();
    throw error;
  }
  // Restored queues keep the URL of the port they were made on; lookups ignore the port, but
  // GetQueueUrl hands the URL out, so it names this start's port.
  const port = new URL(endpoint).port;
  for (const queue of [...sqsStore.queues.values()]) {
    const url = new URL(queue.url);
    if (url.port === port) continue;
    sqsStore.queues.delete(queue.url);
    url.port = port;
    queue.url = url.href;
    sqsStore.queues.set(queue.url, queue);
  }
  return {
    endpoint,
    close: async () => {
      await app.close();
      persistence.close();
    },
  };
}

/**
 * startDurableQueue in a worker thread of its own (queue-thread.ts). Each SendMessage waits for
 * SQLite to sync its log; on the main thread that wait stalled everything else there, PostgreSQL
 * syncing its own log on the same disk at the same time (about 1 ms a message under load).
 */
export async function startDurableQueueThread(options: { dir: string; port: number }): Promise<DurableQueueServer> {
  const worker = new Worker(new URL('./queue-thread.ts', import.meta.url), { execArgv: ['--import', 'tsx'], workerData: options });
  type Message = { type: 'ready'; endpoint: string } | { type: 'failed' | 'closed'; error?: string };
  let onReady: ((message: Message) => void) | undefined;
  let onClosed: ((error?: string) => void) | undefined;
  let state: 'starting' | 'running' | 'closing' | 'gone' = 'starting';
  worker.on('message', (message: Message) => (message.type === 'closed' ? onClosed?.(message.error) : onReady?.(message)));
  worker.on('error', (error) => {
    if (state === 'running') console.error(`the embedded queue failed: ${error.message}`);
    onReady?.({ type: 'failed', error: error.message });
  });
  worker.on('exit', (code) => {
    if (state === 'running') console.error(`the embedded queue's thread exited (code ${code}); SQS calls fail until the stack is restarted`);
    state = 'gone';
    onReady?.({ type: 'failed', error: `the embedded queue's thread exited (code ${code}) before it was ready` });
    onClosed?.();
  });
  const ready = await new Promise<Message>((resolve) => (onReady = resolve));
  onReady = undefined;
  if (ready.type !== 'ready') {
    await worker.terminate();
    throw new Error(ready.error);
  }
  state = 'running';
  return {
    endpoint: ready.endpoint,
    close: async () => {
      if (state !== 'running') return;
      state = 'closing';
      const error = await new Promise<string | undefined>((resolve) => {
        onClosed = resolve;
        worker.postMessage({ type: 'close' });
      });
      await worker.terminate();
      state = 'gone';
      if (error) throw new Error(`closing the embedded queue: ${error}`);
    },
  };
}
