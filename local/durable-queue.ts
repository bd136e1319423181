/**
 * fauxqs with its SQLite persistence (WAL), listening on 127.0.0.1 only.
 *
 * fauxqs writes every mutation through to SQLite before it answers, so a message that
 * SendMessage accepted (and so every 202) survives a SIGKILL of the whole stack; a restart
 * restores queues and messages (visible, delayed, and in flight with their visibility deadlines).
 * The sync to disk is shared between the answers that need it (group-commit.ts), so a message
 * sent is on disk, not only written, before SendMessage answers.
 *
 * fauxqs's `startFauxqs({ dataDir })` wires that persistence, but always listens on every
 * interface. So we wire the same parts ourselves around its public `buildApp` (which takes the
 * stores) and listen on 127.0.0.1. The stores and the persistence are not exports of the
 * package: fauxqs-internals.ts loads them, and says how that seam is held.
 */
import { buildApp } from 'fauxqs';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { durableStores, loadFauxqsInternals, type SqsAction } from './fauxqs-internals';
import { GroupCommit, inOneCommit, receivesInOneCommit } from './group-commit';
import type { QueueSend } from './queue-channel';
import { Restarter, type PlatformHealth } from './restarter';

/** The SQLite database, in the queue's folder. */
export const QUEUE_DB_FILE = 'fauxqs.db';

export interface DurableQueueServer {
  readonly endpoint: string;
  /** Sends, receives and deletes as the listener's SendMessage(Batch), ReceiveMessage and DeleteMessageBatch would, without a socket or HTTP (queue-channel.ts). */
  readonly send: QueueSend;
  /** Syncs to disk made, and the durable writes they covered (group-commit.ts). */
  readonly commits?: GroupCommit['stats'];
  /** Closes the listener, then the database (every write is already on disk). */
  close(): Promise<void>;
}

/**
 * Starts fauxqs on 127.0.0.1:`port` (0: a free one) with its state in `dir` (created 0700;
 * the database and its WAL files 0600).
 */
export async function startDurableQueue(options: { dir: string; port: number }): Promise<DurableQueueServer> {
  const parts = await loadFauxqsInternals();

  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const db = path.join(options.dir, QUEUE_DB_FILE);
  // SQLite gives its -wal and -shm files the database file's mode, so that one is made 0600 first.
  closeSync(openSync(db, 'a', 0o600));
  chmodSync(db, 0o600);

  const { stores, persistence } = durableStores(parts, options.dir);
  const { sqsStore } = stores;
  for (const suffix of ['-wal', '-shm']) if (existsSync(db + suffix)) chmodSync(db + suffix, 0o600);

  const commits = new GroupCommit(persistence, db);
  // A batch of ten, sent or deleted, and a receive's ten in-flight states each make one commit.
  receivesInOneCommit(parts.SqsQueue);
  const batched = (action: SqsAction): SqsAction => (body, store) => inOneCommit(persistence.db, () => action(body, store));
  const actions = {
    SendMessage: parts.sendMessage,
    SendMessageBatch: batched(parts.sendMessageBatch),
    ReceiveMessage: parts.receiveMessage,
    DeleteMessageBatch: batched(parts.deleteMessageBatch),
  };
  const app = buildApp({ logger: false, stores: stores as never });
  // No answer leaves before the messages it may promise are on disk (group-commit.ts).
  app.addHook('onSend', async (_request: unknown, _reply: unknown, payload: unknown) => {
    await commits.barrier();
    return payload;
  });
  let endpoint: string;
  try {
    endpoint = await app.listen({ port: options.port, host: '127.0.0.1' });
  } catch (error) {
    await commits.close();
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
    send: async (action, body) => {
      // fauxqs's own action, as its router runs it, then the same wait for the disk as an answer's.
      // A receive makes no message exist, so it waits for none (a message it hands out whose
      // send is not synced yet has had no answer: its sender was promised nothing).
      try {
        const answer = await actions[action](body, sqsStore);
        if (action !== 'ReceiveMessage') await commits.barrier();
        return { ok: true, answer };
      } catch (error) {
        const status = (error as { statusCode?: unknown }).statusCode;
        return { ok: false, statusCode: typeof status === 'number' ? status : 500, error: error instanceof Error ? error.message : String(error) };
      }
    },
    commits: commits.stats,
    close: async () => {
      await app.close();
      await commits.close();
      persistence.close();
    },
  };
}

/** The embedded queue in its thread, supervised: restarted on its port when the thread dies. */
export interface SupervisedQueue extends Omit<DurableQueueServer, 'send'> {
  /**
   * A new channel to the running thread (queue-channel.ts), for one function environment;
   * undefined while the thread is down. It closes when the thread ends.
   */
  channel(): MessagePort | undefined;
  /** ok, or degraded (with the reason) while the thread is down and being restarted. */
  health(): PlatformHealth;
  /** The running thread, if any (a test ends it as a crash would). */
  readonly thread: Worker | undefined;
  /** The running thread's CPU time so far, in ms; NaN when it is down or does not answer within a second. */
  cpuMs(): Promise<number>;
}

type ThreadMessage = { type: 'ready'; endpoint: string } | { type: 'failed' | 'closed'; error?: string } | { type: 'usage'; cpuMs: number };

/** One thread running startDurableQueue; resolves once it listens. */
async function startThread(dir: string, port: number, onExit: (code: number) => void): Promise<{ worker: Worker; endpoint: string }> {
  const worker = new Worker(new URL('./queue-thread.ts', import.meta.url), { execArgv: ['--import', 'tsx'], workerData: { dir, port } });
  const ready = await new Promise<Exclude<ThreadMessage, { type: 'usage' }>>((resolve) => {
    worker.on('message', (message: ThreadMessage) => (message.type === 'ready' || message.type === 'failed') && resolve(message));
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
    channel: () => {
      if (!current) return undefined;
      const { port1, port2 } = new MessageChannel();
      current.postMessage({ type: 'channel', port: port1 }, [port1]);
      return port2;
    },
    cpuMs: async () => {
      const worker = current;
      if (!worker) return Number.NaN;
      let onMessage: ((message: ThreadMessage) => void) | undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        return await new Promise<number>((resolve) => {
          onMessage = (message) => message.type === 'usage' && resolve(message.cpuMs);
          worker.on('message', onMessage);
          timer = setTimeout(() => resolve(Number.NaN), 1_000);
          worker.postMessage({ type: 'usage' });
        });
      } finally {
        clearTimeout(timer);
        worker.off('message', onMessage!);
      }
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
