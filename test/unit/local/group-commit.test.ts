/**
 * The embedded queue's group commit (local/group-commit.ts) over fauxqs's real SQLite
 * persistence: commits written without waiting for the disk, and one sync of the log shared by
 * every answer waiting when it starts. No socket: fauxqs is driven through Fastify's `inject`.
 */
import { buildApp } from 'fauxqs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUE_DB_FILE } from '../../../local/durable-queue';
import { durableStores, loadFauxqsInternals } from '../../../local/fauxqs-internals';
import { createRequire } from 'node:module';
import { GroupCommit, inOneCommit } from '../../../local/group-commit';

/** node:sqlite (Node 22; this project's @types/node is 20's, which has no types for it). */
const { DatabaseSync } = createRequire(import.meta.url)('node:sqlite') as {
  DatabaseSync: new (file: string) => { exec(sql: string): void; prepare(sql: string): { get(): unknown }; readonly isTransaction: boolean; close(): void };
};

describe("the embedded queue's group commit", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dh-group-commit-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('writes commits without a sync, and syncs once for every answer waiting, covering every write before it', async () => {
    // Arrange
    const { stores, persistence } = durableStores(await loadFauxqsInternals(), dir);
    const commits = new GroupCommit(persistence, path.join(dir, QUEUE_DB_FILE));
    const app = buildApp({ logger: false, stores: stores as never });
    const call = (action: string, body: object) =>
      app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${action}` }, payload: JSON.stringify(body) });
    try {
      const synchronous = (persistence.db as unknown as { prepare(sql: string): { get(): { synchronous: number } } }).prepare('PRAGMA synchronous').get();
      expect(synchronous.synchronous).toBe(1); // NORMAL: SQLite writes the log and does not wait for the disk
      await commits.barrier();
      expect(commits.stats).toEqual({ syncs: 0, writes: 0 }); // nothing written, nothing to wait for

      // Act: a queue made and five messages sent, then five answers waiting at once.
      const { QueueUrl } = (await call('CreateQueue', { QueueName: 'grouped' })).json() as { QueueUrl: string };
      for (let i = 0; i < 5; i++) expect((await call('SendMessage', { QueueUrl, MessageBody: `m${i}` })).statusCode).toBe(200);
      await Promise.all(Array.from({ length: 5 }, () => commits.barrier()));

      // Assert: one sync covered the six writes; receiving and deleting adds none.
      expect(commits.stats).toEqual({ syncs: 1, writes: 6 });
      const received = (await call('ReceiveMessage', { QueueUrl, MaxNumberOfMessages: 10 })).json() as { Messages: { ReceiptHandle: string }[] };
      for (const m of received.Messages) await call('DeleteMessage', { QueueUrl, ReceiptHandle: m.ReceiptHandle });
      await commits.barrier();
      expect(commits.stats).toEqual({ syncs: 1, writes: 6 });
    } finally {
      await app.close();
      await commits.close();
      persistence.close();
    }
  });

  it("runs an action's writes as one commit: kept when it throws after writing, as each write was on its own, and rolled back and thrown when the commit fails", () => {
    // Arrange: a deferred foreign key makes a real COMMIT fail.
    const db = new DatabaseSync(':memory:');
    db.exec('PRAGMA foreign_keys = ON');
    db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY)');
    db.exec('CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)');
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    try {
      // Act + Assert: two writes, one commit.
      expect(inOneCommit(db, () => (db.exec('INSERT INTO parent VALUES (1)'), db.exec('INSERT INTO child VALUES (1, 1)'), 'answer'))).toBe('answer');
      expect([count('parent'), count('child'), db.isTransaction]).toEqual([1, 1, false]);

      // An action that throws after a write: the write is kept, the error thrown.
      expect(() => inOneCommit(db, () => (db.exec('INSERT INTO parent VALUES (2)'), (() => { throw new Error('refused'); })()))).toThrow('refused');
      expect([count('parent'), db.isTransaction]).toEqual([2, false]);

      // A commit that fails: rolled back, thrown, and no transaction left open for the next write.
      expect(() => inOneCommit(db, () => db.exec('INSERT INTO child VALUES (2, 99)'))).toThrow(/FOREIGN KEY/);
      expect([count('child'), db.isTransaction]).toEqual([1, false]);

      // Inside a transaction already, the action just runs in it.
      db.exec('BEGIN');
      inOneCommit(db, () => db.exec('INSERT INTO parent VALUES (3)'));
      expect(db.isTransaction).toBe(true);
      db.exec('ROLLBACK');
      expect(count('parent')).toBe(2);
    } finally {
      db.close();
    }
  });
});
