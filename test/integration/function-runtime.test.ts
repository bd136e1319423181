/**
 * The local runtime's execution model, on real worker threads running real bundles (built
 * with the deploy's esbuild settings): environments of their own, one invocation at a time
 * each, cold starts up to a limit, timeouts that end an environment, and Lambda's init errors.
 */
import { build } from 'esbuild';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esbuildOptions } from '../../lib/bundling';
import { BUNDLE_CACHE } from '../../local/bundles';
import { FunctionError, FunctionRuntime, type FunctionRuntimeOptions } from '../../local/function-runtime';
import { InvocationTimeoutError } from '../../local/invoke';

type CounterResult = { invocations: number; threadId: number; value: string | null; leaked: string | null; remainingMs: number };

describe('the local function runtime', () => {
  const dir = path.join(BUNDLE_CACHE, `test-${process.pid}-${randomBytes(4).toString('hex')}`);
  const bundles: Record<string, string> = {};
  const runtimes: FunctionRuntime[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    for (const name of ['counter', 'no-handler', 'throws-at-import']) {
      await build(esbuildOptions(`test/fixtures/functions/${name}.ts`, path.join(dir, name)));
      bundles[name] = path.join(dir, name, 'index.mjs');
    }
  });
  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  const runtime = (options: Partial<FunctionRuntimeOptions> & { bundle: string }) => {
    const r = new FunctionRuntime({
      name: 'health',
      env: {},
      memoryMb: 128,
      timeoutMs: 5_000,
      maxEnvironments: 1,
      output: (line) => lines.push(line),
      ...options,
    });
    runtimes.push(r);
    return r;
  };

  it('gives a function its own variables, none of this process\'s, and module state that lasts across invocations', async () => {
    process.env.FIXTURE_PARENT_ONLY = 'must not leak';
    const counter = runtime({ bundle: bundles.counter!, env: { FIXTURE_VALUE: 'mine' } });
    const other = runtime({ bundle: bundles.counter!, env: { FIXTURE_VALUE: 'theirs' } });

    const first = (await counter.invoke({})) as CounterResult;
    const second = (await counter.invoke({})) as CounterResult;
    const elsewhere = (await other.invoke({})) as CounterResult;

    expect(first).toMatchObject({ invocations: 1, value: 'mine', leaked: null });
    expect(second).toMatchObject({ invocations: 2, value: 'mine', threadId: first.threadId });
    expect(elsewhere).toMatchObject({ invocations: 1, value: 'theirs' });
    expect(elsewhere.threadId).not.toBe(first.threadId);
    delete process.env.FIXTURE_PARENT_ONLY;
  });

  it('runs one invocation at a time per environment, and starts another only when all are busy, up to the limit', async () => {
    const counter = runtime({ bundle: bundles.counter!, maxEnvironments: 2 });

    const results = (await Promise.all([1, 2, 3, 4].map(() => counter.invoke({ waitMs: 150 })))) as CounterResult[];

    expect(counter.coldStarts).toBe(2);
    expect(new Set(results.map((r) => r.threadId)).size).toBe(2);
    // Each environment took its invocations one after the other: each read its own count back
    // (two at once in one environment would both read the later one). How many each took
    // depends on how soon the second environment was warm, so only the whole is fixed.
    for (const thread of new Set(results.map((r) => r.threadId))) {
      const counts = results.filter((r) => r.threadId === thread).map((r) => r.invocations).sort();
      expect(counts).toEqual(counts.map((_, i) => i + 1));
    }
  });

  it('starts environments ahead of invocations when prewarmed, up to its limit, and invokes in them without another cold start', async () => {
    // Arrange
    const counter = runtime({ bundle: bundles.counter!, maxEnvironments: 2 });
    // Act
    counter.prewarm(3);
    const results = (await Promise.all([1, 2].map(() => counter.invoke({ waitMs: 100 })))) as CounterResult[];
    // Assert: two environments, both the prewarmed ones.
    expect(counter.coldStarts).toBe(2);
    expect(counter.environments).toBe(2);
    expect(new Set(results.map((r) => r.threadId)).size).toBe(2);
  });

  it('drops a prewarmed environment whose init fails, and starts another for the next invocation', async () => {
    // Arrange
    const broken = runtime({ bundle: bundles['throws-at-import']! });
    // Act
    broken.prewarm(1);
    // Assert: gone without anyone invoking it (no unhandled rejection), and the next invocation fails as a cold start's would.
    await expect.poll(() => broken.environments, { timeout: 5_000 }).toBe(0);
    await expect(broken.invoke({})).rejects.toBeInstanceOf(FunctionError);
    expect(broken.coldStarts).toBe(2);
  });

  it('ends an environment whose invocation timed out, so the next one starts cold with fresh state', async () => {
    const counter = runtime({ bundle: bundles.counter!, timeoutMs: 300 });
    await counter.invoke({});

    await expect(counter.invoke({ waitMs: 2_000 })).rejects.toBeInstanceOf(InvocationTimeoutError);
    const after = (await counter.invoke({})) as CounterResult;

    expect(after.invocations).toBe(1);
    expect(counter.coldStarts).toBe(2);
  });

  it('reclaims an environment left idle, so the next invocation starts cold', async () => {
    const counter = runtime({ bundle: bundles.counter!, idleTimeoutMs: 200 });
    await counter.invoke({});

    await expect.poll(() => counter.environments, { timeout: 3_000 }).toBe(0);
    const after = (await counter.invoke({})) as CounterResult;

    expect(after.invocations).toBe(1);
    expect(counter.coldStarts).toBe(2);
  });

  it('counts the CPU time of its environments, those that have ended included', async () => {
    const counter = runtime({ bundle: bundles.counter!, idleTimeoutMs: 200 });

    await counter.invoke({ spinMs: 60 });
    const afterOne = counter.cpuMs;
    await expect.poll(() => counter.environments, { timeout: 3_000 }).toBe(0);
    const afterEnded = counter.cpuMs;
    await counter.invoke({ spinMs: 60 });

    expect(afterOne).toBeGreaterThanOrEqual(50);
    expect(afterEnded).toBe(afterOne);
    expect(counter.cpuMs).toBeGreaterThanOrEqual(afterOne + 50);
  });

  it('gives the function the smaller of its own timeout and the caller\'s deadline', async () => {
    const counter = runtime({ bundle: bundles.counter!, timeoutMs: 5_000 });
    await counter.invoke({});

    const { remainingMs } = (await counter.invoke({}, 1_000)) as CounterResult;

    expect(remainingMs).toBeLessThanOrEqual(1_000);
    expect(remainingMs).toBeGreaterThan(500);
  });

  it('hands back the type and message of the error the function threw, and keeps the environment', async () => {
    const counter = runtime({ bundle: bundles.counter!, name: 'ingest' });

    const failure = await counter.invoke({ fail: 'the queue said no' }).catch((e: unknown) => e);
    const next = (await counter.invoke({})) as CounterResult;

    expect(failure).toBeInstanceOf(FunctionError);
    expect(failure).toMatchObject({ errorType: 'FixtureError', message: 'the queue said no', functionName: 'ingest' });
    expect(next.invocations).toBe(2);
  });

  it('refuses a module without a handler export as Lambda does (Runtime.HandlerNotFound)', async () => {
    const broken = runtime({ bundle: bundles['no-handler']! });

    await expect(broken.invoke({})).rejects.toMatchObject({ errorType: 'Runtime.HandlerNotFound' });
  });

  it('fails the invocation when the module throws at import, with the module\'s message', async () => {
    const broken = runtime({ bundle: bundles['throws-at-import']! });

    await expect(broken.invoke({})).rejects.toMatchObject({ message: 'cannot start: the configuration is broken' });
    expect(broken.environments).toBe(0);
  });

  it('prints each line a function writes with the function\'s name', async () => {
    const counter = runtime({ bundle: bundles.counter!, name: 'ws-default' });

    await counter.invoke({ print: 'hello from inside' });
    await expect.poll(() => lines).toContain('[ws-default] hello from inside');
  });
});
