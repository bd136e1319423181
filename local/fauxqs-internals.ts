/**
 * The one place that reaches past fauxqs's public API, and why. The embedded queue must keep its
 * messages on disk and listen on 127.0.0.1 alone. `startFauxqs({ dataDir })` wires the SQLite
 * persistence but always listens on 0.0.0.0 (its `host` option only names queue URLs);
 * `buildApp` takes the stores but not the persistence. So the stores and `PersistenceManager`
 * come from the package's dist/ files, which it does not export and may change in any release.
 * Two more parts come from there: the persistence's SQLite connection, whose syncs the group
 * commit shares (group-commit.ts), and the SendMessage, SendMessageBatch, ReceiveMessage and
 * DeleteMessageBatch actions, which the ingest function's and the event source's channels call
 * without HTTP (queue-channel.ts); and the queue class, whose receive (`dequeue`) the group
 * commit runs as one SQLite transaction (group-commit.ts).
 *
 * That is held in place three ways: package.json pins fauxqs exactly; every part is checked for
 * the shape durable-queue.ts uses when it loads, with an error naming the installed version;
 * and test/unit/local/fauxqs-seam.test.ts fails, naming the version, when the installed
 * fauxqs is not FAUXQS_CHECKED_VERSION or the parts behave differently.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Persistence's writes that make a message or a queue exist (see Persistence). */
export const DURABLE_WRITES = ['insertMessage', 'insertQueue', 'deleteQueue', 'updateQueueAttributes'] as const;

/** The fauxqs release whose dist/ files this module was read against. */
export const FAUXQS_CHECKED_VERSION = '2.4.1';

/** node:sqlite's DatabaseSync, as much of it as the group commit uses. */
export interface SqliteDatabase {
  exec(sql: string): void;
  /** Whether a transaction is open (BEGIN without its COMMIT yet). */
  readonly isTransaction: boolean;
  prepare(sql: string): { run(...values: unknown[]): unknown };
}

export interface Persistence {
  load(sqs: unknown, sns: unknown, s3: unknown): void;
  close(): void;
  /** The SQLite connection every write goes through, one commit a call. */
  readonly db: SqliteDatabase;
  /** The writes that make a message or a queue exist, which an answer must not promise before they are on disk. */
  insertMessage(queueName: string, message: unknown): void;
  insertQueue(queue: unknown): void;
  deleteQueue(name: string): void;
  updateQueueAttributes(name: string, attributes: unknown, lastModified: number): void;
}
export interface QueueInternals {
  name: string;
  url: string;
  persistence?: Persistence;
}
export interface SqsStoreInternals {
  persistence?: Persistence;
  /** Keyed by queue URL. */
  readonly queues: Map<string, QueueInternals>;
  allQueues(): Iterable<QueueInternals>;
}
/** fauxqs's queue: `dequeue` hands out up to `maxCount` messages, writing each one's in-flight state. */
export interface SqsQueueInternals {
  persistence?: Persistence;
  dequeue(...args: unknown[]): unknown;
}
export interface StoreInternals {
  persistence?: Persistence;
}

/** One of fauxqs's SQS actions: the request's JSON body and the store, to its answer (throws its SqsError). */
export type SqsAction = (body: Record<string, unknown>, store: SqsStoreInternals) => unknown;
/** ReceiveMessage: answers once messages are there or its WaitTimeSeconds are up (a long poll). */
export type SqsAsyncAction = (body: Record<string, unknown>, store: SqsStoreInternals) => Promise<unknown>;

export interface FauxqsInternals {
  /** The installed package's version. */
  readonly version: string;
  /** The SendMessage, SendMessageBatch, ReceiveMessage and DeleteMessageBatch actions, as fauxqs's router calls them. */
  readonly sendMessage: SqsAction;
  readonly sendMessageBatch: SqsAction;
  readonly receiveMessage: SqsAsyncAction;
  readonly deleteMessageBatch: SqsAction;
  readonly PersistenceManager: new (dataDir: string) => Persistence;
  readonly SqsStore: new () => SqsStoreInternals;
  readonly SqsQueue: { readonly prototype: SqsQueueInternals };
  readonly SnsStore: new () => StoreInternals;
  readonly S3Store: new () => StoreInternals;
}

/** The installed package's folder and version. */
export function installedFauxqs(): { dir: string; version: string } {
  for (const modules of createRequire(import.meta.url).resolve.paths('fauxqs') ?? []) {
    const dir = path.join(modules, 'fauxqs');
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) return { dir, version: (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version };
  }
  throw new Error('fauxqs is not installed: run npm ci');
}

/** The private parts, each checked for the shape used here; a difference fails with the version in the message. */
export async function loadFauxqsInternals(): Promise<FauxqsInternals> {
  const { dir, version } = installedFauxqs();
  const fail = (what: string) =>
    new Error(`fauxqs ${version}: ${what}. local/fauxqs-internals.ts was written against fauxqs ${FAUXQS_CHECKED_VERSION}'s private dist/ files; pin that version or adapt the file.`);
  const load = async <T>(file: string, name: string): Promise<T> => {
    const full = path.join(dir, 'dist', file);
    if (!existsSync(full)) throw fail(`dist/${file} is missing`);
    const value = ((await import(pathToFileURL(full).href)) as Record<string, unknown>)[name];
    if (typeof value !== 'function') throw fail(`dist/${file} has no ${name}`);
    return value as T;
  };
  const parts: FauxqsInternals = {
    version,
    PersistenceManager: await load('persistence.js', 'PersistenceManager'),
    SqsStore: await load('sqs/sqsStore.js', 'SqsStore'),
    SqsQueue: await load('sqs/sqsStore.js', 'SqsQueue'),
    SnsStore: await load('sns/snsStore.js', 'SnsStore'),
    S3Store: await load('s3/s3Store.js', 'S3Store'),
    sendMessage: await load('sqs/actions/sendMessage.js', 'sendMessage'),
    sendMessageBatch: await load('sqs/actions/sendMessageBatch.js', 'sendMessageBatch'),
    receiveMessage: await load('sqs/actions/receiveMessage.js', 'receiveMessage'),
    deleteMessageBatch: await load('sqs/actions/deleteMessageBatch.js', 'deleteMessageBatch'),
  };
  for (const method of ['load', 'close', ...DURABLE_WRITES] as const) {
    if (typeof parts.PersistenceManager.prototype[method] !== 'function') throw fail(`PersistenceManager has no ${method}()`);
  }
  if (typeof parts.SqsQueue.prototype.dequeue !== 'function') throw fail('SqsQueue has no dequeue()');
  const sqsStore = new parts.SqsStore();
  if (!(sqsStore.queues instanceof Map)) throw fail('SqsStore has no queues map');
  if (typeof sqsStore.allQueues !== 'function') throw fail('SqsStore has no allQueues()');
  return parts;
}

/** fauxqs's stores over the SQLite database in `dir`, wired as startFauxqs wires them. */
export interface DurableStores {
  readonly stores: { readonly sqsStore: SqsStoreInternals; readonly snsStore: StoreInternals; readonly s3Store: StoreInternals };
  readonly persistence: Persistence;
}

/** The stores, with what `dir` holds loaded first and the persistence attached after, so loading writes nothing back. */
export function durableStores(parts: FauxqsInternals, dir: string): DurableStores {
  const stores = { sqsStore: new parts.SqsStore(), snsStore: new parts.SnsStore(), s3Store: new parts.S3Store() };
  const persistence = new parts.PersistenceManager(dir);
  if (typeof persistence.db?.exec !== 'function' || typeof persistence.db.prepare !== 'function' || typeof persistence.db.isTransaction !== 'boolean') {
    persistence.close();
    throw new Error(`fauxqs ${parts.version}: PersistenceManager has no SQLite connection (db). local/fauxqs-internals.ts was written against fauxqs ${FAUXQS_CHECKED_VERSION}.`);
  }
  persistence.load(stores.sqsStore, stores.snsStore, stores.s3Store);
  for (const store of Object.values(stores)) store.persistence = persistence;
  for (const queue of stores.sqsStore.allQueues()) queue.persistence = persistence;
  return { stores, persistence };
}
