import { describe, expect, it, vi } from 'vitest';
import { deferred, HealthEnv, IngestEnv, readEnv, WriterEnv } from '../../../lambdas/shared/env';

describe('configuration', () => {
  it('names every missing or bad variable', () => {
    expect(() => readEnv(IngestEnv, { MAX_BODY_BYTES: 'lots' })).toThrow(/QUEUE_URL is required.*MAX_BODY_BYTES is invalid/);
  });

  it('applies defaults and coerces numbers', () => {
    expect(readEnv(IngestEnv, { QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q' })).toMatchObject({ MAX_BODY_BYTES: 1048576, AWS_REGION: 'us-east-1' });
  });

  it("gives the health probe short deadlines by default, and refuses ones the function's 10 s timeout could not hold", () => {
    expect(readEnv(HealthEnv, { DATABASE_URL: 'postgres://127.0.0.1/db' })).toMatchObject({ HEALTH_CONNECT_TIMEOUT_MS: 1500, HEALTH_QUERY_TIMEOUT_MS: 1500, HEALTH_REUSE_MS: 1000 });
    expect(() => readEnv(HealthEnv, { DATABASE_URL: 'postgres://127.0.0.1/db', HEALTH_CONNECT_TIMEOUT_MS: '9000' })).toThrow(/HEALTH_CONNECT_TIMEOUT_MS is invalid/);
  });

  it("reads the writer's redelivery schedule when set, whole seconds comma-separated, and leaves it to the default otherwise", () => {
    const base = { DATABASE_URL: 'postgres://127.0.0.1/db', CONNECTIONS_TABLE: 't', CONNECTIONS_ENDPOINT: 'http://127.0.0.1:1/live' };
    expect(readEnv(WriterEnv, base).STORE_RETRY_DELAYS_S).toBeUndefined();
    expect(readEnv(WriterEnv, { ...base, STORE_RETRY_DELAYS_S: '8,120,900' }).STORE_RETRY_DELAYS_S).toEqual([8, 120, 900]);
    for (const bad of ['', '8,,1', '8 s', '-1', '1.5']) expect(() => readEnv(WriterEnv, { ...base, STORE_RETRY_DELAYS_S: bad }), bad).toThrow(/STORE_RETRY_DELAYS_S is invalid/);
  });

  it('builds a handler once, and builds again after a failed build', async () => {
    const build = vi
      .fn()
      .mockRejectedValueOnce(new Error('secret store unreachable'))
      .mockResolvedValue(async (event: number) => event * 2);
    const handler = deferred(build);

    await expect(handler(1, {})).rejects.toThrow('secret store unreachable');
    expect(await handler(2, {})).toBe(4);
    expect(await handler(3, {})).toBe(6);
    expect(build).toHaveBeenCalledTimes(2);
  });
});
