/**
 * Stopping `npm start`: SIGTERM or SIGINT to the PID it prints ends everything cleanly, and a
 * stop with uploads in flight answers each one it stored (no record stored behind a socket
 * error, which a client would send again).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/stack';
import { readStackCpuUsage } from '../../bench/proc';
import { ChildStack, tally, token, uploadStream } from './local-child-stack';

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('stopping the local stack', () => {
  let stack: ChildStack | undefined;
  afterEach(async () => {
    await stack?.cleanup();
    stack = undefined;
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('stops cleanly on %s to the PID it prints: exit code 0, ports freed, PostgreSQL stopped', async (signal) => {
    // Arrange
    stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-stop-')));
    const info = await stack.start();
    const postmaster = stack.postmaster();
    const ports = [info.httpUrl, info.wsUrl].map((url) => Number(new URL(url).port));

    // Act
    const ended = await stack.signal(signal);

    // Assert
    expect(stack.lines.some((l) => l.includes(`kill -TERM ${info.pid} `))).toBe(true);
    expect(ended).toEqual({ code: 0, signal: null });
    expect(stack.lines.at(-1)).toBe('[local] stopped');
    for (const port of [...ports, postmaster.port]) expect(await portIsFree(port)).toBe(true);
    expect(running(postmaster.pid)).toBe(false);
  }, 120_000);

  it('stops cleanly on Ctrl-C, the SIGINT a terminal sends to npm start\'s whole process group', async () => {
    // Arrange
    stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-ctrlc-')), {}, true);
    const info = await stack.start();
    const postmaster = stack.postmaster();

    // Act
    await stack.ctrlC();
    await waitFor(() => !running(info.pid), 30_000);

    // Assert
    expect(stack.lines).toContain('[local] stopped');
    for (const port of [info.httpUrl, info.wsUrl].map((url) => Number(new URL(url).port))) expect(await portIsFree(port)).toBe(true);
    expect(running(postmaster.pid)).toBe(false);
  }, 120_000);

  it('stops cleanly when npm, its parent, is sent SIGTERM and leaves it behind', async () => {
    // Arrange
    stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-npmterm-')), {}, true);
    const info = await stack.start();
    const postmaster = stack.postmaster();

    // Act
    await stack.signal('SIGTERM'); // to npm's own PID
    await waitFor(() => !running(info.pid), 30_000);

    // Assert
    expect(stack.lines.some((l) => /^\[local\] the parent process \(pid \d+\) is gone: /.test(l))).toBe(true);
    expect(stack.lines).toContain('[local] stopped');
    expect(running(postmaster.pid)).toBe(false);
  }, 120_000);

  it('answers every upload it stored when stopped with 64 uploads in flight, and stores every one it answered 202', async () => {
    // Arrange
    stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-stop64-')));
    const { httpUrl } = await stack.start();
    const uploads = uploadStream(httpUrl, await token(httpUrl), { workers: 64, perRequest: 10 });
    await waitFor(() => uploads.accepted.size >= 1_000, 60_000);

    // Where the CPU went so far, as SIGUSR2 reports it (the benchmarks read it).
    const usage = await readStackCpuUsage(stack.info.pid, stack.dataDir);

    // Act
    const inFlightAtStop = uploads.counts().inFlight;
    const ended = await stack.signal('SIGTERM');
    await uploads.stop();
    await stack.start(); // whatever the drain left stays queued, durably, for this start
    const db = await stack.database();
    try {
      await waitFor(async () => (await tally(db, uploads.accepted, 0)).lost === 0, 60_000).catch(() => undefined);
      const result = await tally(db, uploads.accepted, uploads.counts().sent);
      console.log(`stop with uploads in flight: ${JSON.stringify({ inFlightAtStop, requests: uploads.counts().requests, outcomes: uploads.counts().outcomes, ...result })}`);

      // Assert
      expect(ended.code).toBe(0);
      expect(inFlightAtStop).toBe(64);
      for (const part of [usage.mainThreadMs, usage.queueThreadMs, usage.functionsMs.ingest, usage.otherThreadsMs]) expect(part).toBeGreaterThan(0);
      expect(usage.processMs).toBeGreaterThan(usage.mainThreadMs + usage.queueThreadMs + usage.functionsMs.ingest);
      expect(stack.lines.some((l) => l.includes('[local] CPU so far: process '))).toBe(true);
      expect(result.storedWithout202).toBe(0);
      expect(result.lost).toBe(0);
      expect(result.duplicated).toBe(0);
    } finally {
      await db.end();
    }
  }, 180_000);
});
