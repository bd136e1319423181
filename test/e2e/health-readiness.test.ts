/**
 * GET /health is readiness on a real local stack (`npm start` as a child, with an embedded
 * PostgreSQL of its own: the shared one of the test run is never stopped). The stack's
 * postmaster is stopped with SIGSTOP: its kernel still takes TCP connections into the listen
 * backlog and the sessions it already has keep working, but no new session starts. /health
 * turns 503 within a few seconds (the supervisor sees no exit, so this is the health function's
 * own probe); after SIGCONT it turns 200 again. Each run prints how long each turn took.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/stack';
import { ChildStack } from './local-child-stack';

type Answer = { status: number; retryAfter: string | null; text: string; body: any };

/** One GET /health; a /health that hangs fails the test rather than the poll. */
async function health(httpUrl: string): Promise<Answer> {
  const response = await fetch(`${httpUrl}/health`, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get('retry-after'), text, body: JSON.parse(text) };
}

/** Polls /health until it answers `status`; resolves with that answer and how long it took. */
async function untilHealth(httpUrl: string, status: number, timeoutMs: number): Promise<Answer & { afterMs: number }> {
  const started = performance.now();
  let last: Answer | undefined;
  await waitFor(async () => (last = await health(httpUrl)).status === status, timeoutMs);
  return { ...last!, afterMs: Math.round(performance.now() - started) };
}

describe('GET /health on a stack whose PostgreSQL stops taking new sessions', () => {
  let stack: ChildStack | undefined;
  let stopped: number | undefined;
  let session: pg.Client | undefined;
  afterEach(async () => {
    // A postmaster left stopped would hang the stack's shutdown, and keep its files.
    if (stopped !== undefined) {
      try {
        process.kill(stopped, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    stopped = undefined;
    await session?.end().catch(() => undefined);
    session = undefined;
    await stack?.cleanup();
    stack = undefined;
  });

  it('answers 503 degraded (as its OpenAPI document says) within seconds of SIGSTOP to the postmaster, and 200 again after SIGCONT', async () => {
    // Arrange
    stack = new ChildStack(await mkdtemp(path.join(tmpdir(), 'dh-sigstop-')));
    const { httpUrl } = await stack.start();
    const document = (await (await fetch(`${httpUrl}/openapi.json`)).json()) as { components: object; paths: Record<string, any> };
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ $id: 'api', components: document.components });
    const degradedSchema = JSON.parse(JSON.stringify(document.paths['/health'].get.responses['503'].content['application/json'].schema).replaceAll('"#/components/', '"api#/components/'));
    expect((await untilHealth(httpUrl, 200, 30_000)).body).toEqual({ status: 'ok' });
    session = await stack.database(); // a session opened before the stop
    const postmaster = stack.postmaster().pid;

    // Act
    process.kill(postmaster, 'SIGSTOP');
    stopped = postmaster;
    const degraded = await untilHealth(httpUrl, 503, 10_000);
    const stillDegraded = await health(httpUrl);
    const oldSession = await session.query<{ one: number }>('SELECT 1 AS one');
    process.kill(postmaster, 'SIGCONT');
    stopped = undefined;
    const recovered = await untilHealth(httpUrl, 200, 10_000);
    console.log(`/health after SIGSTOP of the postmaster: 503 after ${degraded.afterMs} ms; after SIGCONT: 200 after ${recovered.afterMs} ms`);

    // Assert
    // (A probe caught mid-login by the stop would say SELECT 1 instead: its backend was forked already.)
    expect(degraded.body).toEqual({ status: 'degraded', reason: expect.stringMatching(/^PostgreSQL did not (accept a new connection|answer SELECT 1) within 1500 ms$/) });
    expect(degraded.retryAfter).toBe('1');
    expect(ajv.validate(degradedSchema, degraded.body), ajv.errorsText()).toBe(true);
    expect(degraded.text).not.toMatch(/postgres:\/\/|password|127\.0\.0\.1/);
    expect(stillDegraded.status).toBe(503);
    // Why the probe opens a new connection: the sessions the server already had still answer.
    expect(oldSession.rows).toEqual([{ one: 1 }]);
    expect(recovered.body).toEqual({ status: 'ok' });
    // The supervisor saw no exit: the 503 was the health function's, and it logged why.
    expect(stack.lines.some((l) => l.includes('stopped unexpectedly'))).toBe(false);
    expect(stack.lines.some((l) => l.includes('[health]') && l.includes('not ready') && l.includes(degraded.body.reason))).toBe(true);
  }, 180_000);
});
