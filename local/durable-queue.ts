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
import { Restarter, type PlatformHealth } from './restarter';

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

/** The embedded queue in its thread, supervised: restarted on its port when the thread dies. */
export interface SupervisedQueue extends DurableQueueServer {
  /** ok, or degraded (with the reason) while the thread is down and being restarted. */
  health(): PlatformHealth;
  /** The running thread, if any (a test ends it as a crash would). */
  readonly thread: Worker | undefined;
}

type ThreadMessage = { type: 'ready'; endpoint: string } | { type: 'failed' | 'closed'; error?: string };

/** One thread running startDurableQueue; resolves once it listens. */
async function startThread(dir: string, port: number, onExit: (code: number) => void): Promise<{ worker: Worker; endpoint: string }> {
  const worker = new Worker(new URL('./queue-thread.ts', import.meta.url), { execArgv: ['--import', 'tsx'], workerData: { dir, port } });
  const ready = await new Promise<ThreadMessage>((resolve) => {
    worker.on('message', (message: ThreadMessage) => message.type !== 'closed' && resolve(message));
    worker.once('error', (error) => resolve({ type: 'failed', error: error.message }));
    worker.once('exit', (code) => resolve({ type: 'failed', error: `the embedded queue's thread exited (code ${code}) before it was ready` }));
  });
  if (ready.type !== 'ready') {
    await worker.terminate();
    throw new Error(ready.error);
  }
  worker.on('error', () => undefined); // ends in 'exit', handled there
  worker.once('exit', onExit);
  return { worker, endpoint: ready.endpoint };
}

/**
 * startDurableQueue in a worker thread of its own (queue-thread.ts). Each SendMessage waits for
 * SQLite to sync its log; on the main thread that wait stalled everything else there, PostgreSQL
 * syncing its own log on the same disk at the same time (about 1 ms a message under load).
 * When the thread dies, the queue reports itself degraded and is started again on the same
 * port and folder, with growing pauses, as the embedded PostgreSQL is: what it had accepted is
 * in SQLite.
 */
export async function startDurableQueueThread(options: { dir: string; port: number; log?: (line: string) => void }): Promise<SupervisedQueue> {
  let current: Worker | undefined;
  let port = options.port;
  const launch = async () => {
    let worker: Worker | undefined;
    const started = await startThread(options.dir, port, (code) => {
      if (current !== worker) return; // closed on purpose, or already replaced
      current = undefined;
      restarter.died(`thread exit code ${code}`);
    });
    worker = current = started.worker;
    return started.endpoint;
  };
  const restarter = new Restarter('the embedded queue', launch, options.log ?? ((line: string) => console.error(line)));

  const endpoint = await launch();
  port = Number(new URL(endpoint).port);
  return {
    endpoint,
    health: () => restarter.health(),
    get thread() {
      return current;
    },
    close: async () => {
      await restarter.stop();
      const worker = current;
      current = undefined;
      if (!worker) return;
      const error = await new Promise<string | undefined>((resolve) => {
        worker.on('message', (message: ThreadMessage) => message.type === 'closed' && resolve(message.error));
        worker.once('exit', () => resolve(undefined));
        worker.postMessage({ type: 'close' });
      });
      await worker.terminate();
      if (error) throw new Error(`closing the embedded queue: ${error}`);
    },
  };
}
