/**
 * The writer's retry schedule: how long a message waits after each failed store, and that the
 * waits over the queue's receives outlast a 15-minute database outage.
 */
import { describe, expect, it } from 'vitest';
import { outageRiddenOutSeconds, retryDelaySeconds, STORE_RETRY_DELAYS_S } from '../../../lambdas/core/redelivery';
import { QUEUE_MAX_RECEIVE_COUNT } from '../../../lambdas/functions';

describe('the retry schedule after a failed store', () => {
  it('waits longer after each receive: 30 s, 2 min, 6 min, 12 min, then 15 min from then on', () => {
    const waits = [1, 2, 3, 4, 5, 6, 50].map((receive) => retryDelaySeconds(receive));

    expect(waits).toEqual([30, 120, 360, 720, 900, 900, 900]);
  });

  it('rides out an outage of at least 15 minutes over the deployed queue\'s receives', () => {
    const covered = outageRiddenOutSeconds(QUEUE_MAX_RECEIVE_COUNT);

    expect(QUEUE_MAX_RECEIVE_COUNT).toBe(5);
    expect(covered).toBe(30 + 120 + 360 + 720);
    expect(covered).toBeGreaterThanOrEqual(15 * 60);
  });

  it('covers only 2.5 minutes with 3 receives, which is why the queue needs 5', () => {
    expect(outageRiddenOutSeconds(3)).toBe(150);
  });

  it('keeps every wait within what SQS accepts, never 0, and treats a missing receive count as the first', () => {
    expect(retryDelaySeconds(1, [0])).toBe(1);
    expect(retryDelaySeconds(1, [100_000])).toBe(43_200);
    expect(retryDelaySeconds(0)).toBe(STORE_RETRY_DELAYS_S[0]);
    expect(() => retryDelaySeconds(1, [])).toThrow(/empty/);
  });
});
