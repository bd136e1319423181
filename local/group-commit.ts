/**
 * Group commit for the embedded queue's SQLite database. fauxqs commits every write on its own,
 * and with SQLite's default `synchronous = FULL` each commit waited for the disk, holding up
 * the queue's thread meanwhile: a message sent, received (its in-flight state) and deleted cost
 * three syncs, and a SendMessageBatch of ten cost ten.
 *
 * Here every commit is written at once (`synchronous = NORMAL`: into the write-ahead log, which
 * a killed process cannot lose), and the sync that guards against a power cut runs beside the
 * thread and is shared: an answer that follows a write making a message or a queue exist
 * (DURABLE_WRITES) waits until the log has been synced after that write. One `fdatasync` of the
 * log covers every commit written before it started, so the sends answered while one sync runs
 * share the next. Receives and deletes wait for none: lost to a power cut, a message comes back
 * visible and is delivered again, which SQS allows and the records' ids make harmless. So a
 * SendMessage still answers only once its message is on disk.
 *
 * fauxqs commits each row on its own, so a receive of ten messages made ten commits, and a
 * SendMessageBatch or DeleteMessageBatch of ten as many: each wrote its pages to the log again,
 * and the next send's sync waited for them all. inOneCommit runs one action's writes as one
 * transaction, so a page is written once (measured on 5,000 messages in tens: the queue's CPU
 * for receives 95 -> 50 ms and for deletes 100 -> 50 ms, the bytes written 25 -> 7.5 MB and
 * 53 -> 30 MB). A transaction never spans an await: the action runs to its end synchronously,
 * so nothing else's write can land in it, and it is committed before any barrier is asked for.
 *
 * The log is synced through a descriptor of its own: on Linux a sync writes out the file's
 * pages whichever descriptor wrote them. SQLite keeps the same `-wal` file while the database is
 * open (it reuses it from the start after a checkpoint, syncing its header itself in NORMAL mode).
 */
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DURABLE_WRITES, type Persistence, type SqliteDatabase, type SqsQueueInternals } from './fauxqs-internals';

/**
 * Runs `write`, a synchronous action, with every SQLite write it makes in one transaction. A
 * commit that fails is rolled back and thrown, so the caller's answer is an error and no write
 * is left in a transaction that a later sync would not cover. Inside a transaction already
 * (one action calling another), `write` just runs.
 */
export function inOneCommit<T>(db: Transactional | undefined, write: () => T): T {
  if (!db || db.isTransaction) return write();
  db.exec('BEGIN');
  try {
    return write();
  } finally {
    commitOrRollBack(db);
  }
}

/** What inOneCommit needs of a SQLite connection. */
type Transactional = Pick<SqliteDatabase, 'exec' | 'isTransaction'>;

/** Commits what was written (an action that threw may have written some, as it did before); rolls back and throws when the commit fails. */
function commitOrRollBack(db: Transactional): void {
  try {
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

const RECEIVES_IN_ONE_COMMIT = Symbol.for('data-handler.local.receives-in-one-commit');

/**
 * Makes every queue's receive (fauxqs's `dequeue`, over the channel or HTTP) write its messages'
 * in-flight state in one commit. Idempotent: the class is shared by every queue of the process.
 */
export function receivesInOneCommit(queueClass: { readonly prototype: SqsQueueInternals }): void {
  const proto = queueClass.prototype as SqsQueueInternals & { [RECEIVES_IN_ONE_COMMIT]?: true };
  if (proto[RECEIVES_IN_ONE_COMMIT]) return;
  const dequeue = proto.dequeue;
  proto.dequeue = function (this: SqsQueueInternals, ...args: unknown[]) {
    return inOneCommit(this.persistence?.db, () => dequeue.apply(this, args));
  };
  proto[RECEIVES_IN_ONE_COMMIT] = true;
}

export class GroupCommit {
  /** Syncs made, and durable writes they covered (for the tests). */
  readonly stats = { syncs: 0, writes: 0 };
  private written = 0;
  private synced = 0;
  private syncing = false;
  private waiters: { upTo: number; resolve(): void; reject(error: Error): void }[] = [];
  private log: FileHandle | undefined;

  /** `dbFile`: the database's file; its log is `dbFile-wal`. */
  constructor(
    persistence: Persistence,
    private readonly dbFile: string,
  ) {
    persistence.db.exec('PRAGMA synchronous = NORMAL');
    for (const method of DURABLE_WRITES) {
      const write = (persistence[method] as (...args: unknown[]) => void).bind(persistence);
      (persistence as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        write(...args);
        this.written++;
      };
    }
  }

  /** Resolves once every durable write made so far is on disk: at once when there is none to wait for. */
  barrier(): Promise<void> {
    if (this.synced >= this.written) return Promise.resolve();
    const upTo = this.written;
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      if (!this.syncing) void this.run();
    });
  }

  /** Closes the log's descriptor (the database is closed after it). */
  async close(): Promise<void> {
    await this.log?.close();
    this.log = undefined;
  }

  /** Syncs while someone waits for a write the last sync did not cover. */
  private async run(): Promise<void> {
    this.syncing = true;
    try {
      while (this.waiters.length > 0) {
        const upTo = this.written;
        try {
          // The log exists once a write was committed; its folder entry is synced with it once.
          if (!this.log) {
            this.log = await open(`${this.dbFile}-wal`, 'r');
            const folder = await open(path.dirname(this.dbFile), 'r');
            await folder.sync().finally(() => folder.close());
          }
          await this.log.datasync();
        } catch (error) {
          for (const waiter of this.waiters.splice(0)) waiter.reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        this.stats.syncs++;
        this.stats.writes += upTo - this.synced;
        this.synced = upTo;
        const still = this.waiters.filter((w) => w.upTo > upTo);
        for (const waiter of this.waiters) if (waiter.upTo <= upTo) waiter.resolve();
        this.waiters = still;
      }
    } finally {
      this.syncing = false;
    }
  }
}
