/**
 * The shared observability module: how failures are described in logs, and the middlewares
 * every handler uses, with metrics switched on for this file.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { describeError } from '../../lambdas/shared/observability';
import { httpEvent, lambdaContext } from '../fixtures/events';
import { importWithMetrics, metricNames, outputOf } from '../support/metrics-output';

describe('describeError', () => {
  it('keeps the name, message and whole cause chain of a failure, and never its stack', () => {
    const error = new Error('insert failed', { cause: new TypeError('connection reset', { cause: 'ECONNRESET' }) });

    const described = describeError(error);

    expect(described).toEqual({
      error: 'Error',
      detail: 'insert failed',
      cause: { error: 'TypeError', detail: 'connection reset', cause: { error: 'ECONNRESET' } },
    });
    expect(JSON.stringify(described)).not.toContain('observability.test.ts');
  });

  it('describes a thrown value that is not an Error by its text', () => {
    expect(describeError('socket hang up')).toEqual({ error: 'socket hang up' });
  });
});

describe('the middlewares every handler uses', () => {
  let health: ReturnType<typeof import('../../lambdas/handlers/health').makeHealthHandler>;

  beforeAll(async () => {
    const { makeHealthHandler } = await importWithMetrics(() => import('../../lambdas/handlers/health'));
    // A readiness that is always ready: what is checked here is the middlewares, not the probe.
    health = makeHealthHandler({ readiness: { check: async () => ({ ready: true }) } });
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('count the cold start once, and print nothing else for a handler that adds no metric', async () => {
    const event = httpEvent({ method: 'GET', path: '/health', claims: null });

    const statuses: (number | undefined)[] = [];
    const output = await outputOf(async () => {
      statuses.push((await health(event, lambdaContext())).statusCode);
      statuses.push((await health(event, lambdaContext())).statusCode);
    });

    expect(statuses).toEqual([200, 200]);
    expect(output.emf.map(metricNames)).toEqual([['ColdStart']]);
    expect(output.emf[0]).toMatchObject({ service: 'data-handler', function_name: 'test', ColdStart: 1 });
    // Powertools would warn "No application metrics to publish" here, once an invocation.
    expect(output.otherLines).toEqual([]);
  });
});
