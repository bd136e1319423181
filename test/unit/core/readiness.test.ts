/**
 * The cost bound of GET /health: concurrent checks share the probe in flight, a verdict is
 * reused for `reuseMs` after its probe ended and no longer, and a probe that rejects is still a
 * verdict (503), never an error. The probe here is a plain ReadinessProbe whose answers the test
 * releases by hand; the PostgreSQL probe itself is tested against real servers
 * (test/integration/health-readiness.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Readiness, ReadinessProbe } from '../../../lambdas/core/ports';
import { healthAnswer, SharedReadiness } from '../../../lambdas/core/readiness';

/** A probe whose checks stay pending until `answer` settles them. */
function heldProbe() {
  const waiting: Array<(verdict: Readiness) => void> = [];
  const probe: ReadinessProbe = { check: () => new Promise((resolve) => waiting.push(resolve)) };
  return { probe, waiting, answer: (verdict: Readiness) => waiting.splice(0).forEach((resolve) => resolve(verdict)) };
}

describe('a shared readiness probe', () => {
  it('runs one probe for checks made while it is in flight, and gives them all its verdict', async () => {
    // Arrange
    const held = heldProbe();
    const shared = new SharedReadiness(held.probe, { reuseMs: 1000, now: () => 0 });

    // Act
    const checks = Array.from({ length: 50 }, () => shared.check());
    held.answer({ ready: false, reason: 'PostgreSQL did not accept a new connection within 1500 ms' });
    const verdicts = await Promise.all(checks);

    // Assert
    expect(shared.probes).toBe(1);
    expect(new Set(verdicts.map((v) => JSON.stringify(v)))).toEqual(new Set([JSON.stringify({ ready: false, reason: 'PostgreSQL did not accept a new connection within 1500 ms' })]));
  });

  it('reuses a verdict until reuseMs after its probe ended, then probes again', async () => {
    // Arrange
    let now = 10_000;
    const held = heldProbe();
    const shared = new SharedReadiness(held.probe, { reuseMs: 1000, now: () => now });
    const first = shared.check();
    now += 1500; // the probe itself took 1.5 s
    held.answer({ ready: true });
    await first;

    // Act
    now += 999;
    const reused = await shared.check();
    now += 1;
    const again = shared.check();
    held.answer({ ready: false, reason: 'PostgreSQL refused the login' });

    // Assert
    expect(reused).toEqual({ ready: true });
    expect(await again).toEqual({ ready: false, reason: 'PostgreSQL refused the login' });
    expect(shared.probes).toBe(2);
  });

  it('turns a probe that rejects into a verdict of not ready, and tells onProbe once a probe with the verdict before it', async () => {
    // Arrange
    const seen: Array<[Readiness, Readiness | undefined]> = [];
    let calls = 0;
    const probe: ReadinessProbe = { check: async () => (calls++ === 0 ? { ready: true } : Promise.reject(new Error('boom'))) };
    let now = 0;
    const shared = new SharedReadiness(probe, { reuseMs: 10, now: () => now, onProbe: (v, p) => seen.push([v, p]) });

    // Act
    await shared.check();
    now = 100;
    const failed = await shared.check();

    // Assert
    expect(failed).toMatchObject({ ready: false, reason: 'the readiness probe failed' });
    expect(seen.map(([v, p]) => [v.ready, p?.ready])).toEqual([[true, undefined], [false, true]]);
  });
});

describe('the answer of GET /health', () => {
  it('is 200 ok when ready, and 503 degraded with the reason (never the cause) when not', () => {
    expect(healthAnswer({ ready: true })).toEqual({ statusCode: 200, body: { status: 'ok' } });
    expect(healthAnswer({ ready: false, reason: 'PostgreSQL refused the login', cause: new Error('password authentication failed for user "x"') })).toEqual({
      statusCode: 503,
      body: { status: 'degraded', reason: 'PostgreSQL refused the login' },
    });
  });
});
