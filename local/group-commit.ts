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
 * The log is synced through a descriptor of its own: on Linux a sync writes out the file's
 * pages whichever descriptor wrote them. SQLite keeps the same `-wal` file while the database is
 * open (it reuses it from the start after a checkpoint, syncing its header itself in NORMAL mode).
 */
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DURABLE_WRITES, type Persistence } from './fauxqs-internals';

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
