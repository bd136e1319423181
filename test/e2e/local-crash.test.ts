/**
 * A 202 means the record survives a crash: `npm start` killed with SIGKILL mid-stream (with
 * and without its PostgreSQL), and PostgreSQL killed under a running stack. Each run prints
 * what was sent, accepted, stored, duplicated and lost.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/stack';
import { ChildStack, tally, token, uploadStream } from './local-child-stack';

const STREAM = { workers: 8, perRequest: 10 };

describe('a crash of the local stack', () => {
  let stack: ChildStack | undefined;
  afterEach(async () => {
    await stack?.cleanup();
    stack = undefined;
  });

  const streamThenKill = async (postgresToo: boolean) => {
    stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-crash-')));
    const { httpUrl } = await stack.start();
    const uploads = uploadStream(httpUrl, await token(httpUrl), STREAM);
    await waitFor(() => uploads.accepted.size >= 2_000, 60_000);
    await stack.kill9({ postgresToo });
    await uploads.stop();
    return uploads;
  };

  const restartAndTally = async (uploads: ReturnType<typeof uploadStream>, label: string) => {
    await stack!.start();
    const db = await stack!.database();
    try {
      // Messages that were in flight at the kill come back after their visibility timeout (5 s).
      await waitFor(async () => (await tally(db, uploads.accepted, 0)).lost === 0, 60_000).catch(() => undefined);
      const result = await tally(db, uploads.accepted, uploads.counts().sent);
      console.log(`${label}: ${JSON.stringify(result)}`);
      return result;
    } finally {
      await db.end();
    }
  };

  it('stores every record answered 202 exactly once after a SIGKILL of node and of PostgreSQL\'s process group', async () => {
    // Arrange, Act
    const uploads = await streamThenKill(true);
    const result = await restartAndTally(uploads, 'SIGKILL of node and PostgreSQL');

    // Assert
    expect(result.accepted).toBeGreaterThanOrEqual(2_000);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  }, 180_000);

  it('stores every record answered 202 exactly once after a SIGKILL of node alone, and the next start stops the PostgreSQL it left', async () => {
    // Arrange, Act
    const uploads = await streamThenKill(false);
    const orphan = stack!.postmaster().pid;
    const result = await restartAndTally(uploads, 'SIGKILL of node alone');

    // Assert
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
    const told = stack!.lines.filter((l) => l.includes(`PostgreSQL (pid ${orphan}) was still running`));
    expect(told).toHaveLength(1);
    expect(stack!.postmaster().pid).not.toBe(orphan);
  }, 180_000);

  it('restarts a PostgreSQL killed mid-stream by itself: /health 503 degraded, then 200, and nothing lost', async () => {
    // Arrange
    // The writer's redelivery schedule scaled 30× down (its first wait 30 s → 1 s): batches that
    // met the dead database come back once it is up, and what is proven here is the restart.
    stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-pgkill-')), { MAX_RECEIVE_COUNT: '10', STORE_RETRY_DELAYS_S: '1,4,12,24,30' });
    const { httpUrl } = await stack.start();
    const uploads = uploadStream(httpUrl, await token(httpUrl), STREAM);
    await waitFor(() => uploads.accepted.size >= 1_000, 60_000);
    const killed = stack.postmaster().pid;

    // Act
    process.kill(killed, 'SIGKILL');
    let degraded: { status: number; body: unknown } = { status: 0, body: undefined };
    await waitFor(async () => {
      const answer = await fetch(`${httpUrl}/health`);
      degraded = { status: answer.status, body: await answer.json() };
      return answer.status === 503;
    }, 5_000);
    await waitFor(async () => (await fetch(`${httpUrl}/health`)).status === 200, 30_000);
    await waitFor(() => uploads.accepted.size >= 2_000, 60_000);
    await uploads.stop();

    // Assert
    expect(degraded.status).toBe(503);
    expect(degraded.body).toMatchObject({ status: 'degraded', reason: expect.stringContaining('PostgreSQL') });
    expect(stack.lines.some((l) => l.includes('PostgreSQL stopped unexpectedly (killed by SIGKILL)'))).toBe(true);
    expect(stack.lines.some((l) => l.includes('PostgreSQL is back'))).toBe(true);
    const db = await stack.database();
    try {
      await waitFor(async () => (await tally(db, uploads.accepted, 0)).lost === 0, 60_000).catch(() => undefined);
      const result = await tally(db, uploads.accepted, uploads.counts().sent);
      console.log(`SIGKILL of PostgreSQL: ${JSON.stringify(result)}`);
      expect(result.lost).toBe(0);
      expect(result.duplicated).toBe(0);
      expect(result.storedWithout202).toBe(0);
    } finally {
      await db.end();
    }
  }, 180_000);
});
