/**
 * A cold start that fails is tried again by the next invocation. The records function's own
 * bundle runs in a local execution environment with its AWS settings: the database host plus
 * a Secrets Manager secret (emulated, as Secrets Manager has no local equivalent here). The
 * secret is missing at the first invocation, as in a Secrets Manager outage, and there at the
 * second, which must then succeed instead of failing forever on a cached rejection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../lambdas/functions';
import { LOCAL_AWS_CREDENTIALS, LOCAL_REGION } from '../../local/bindings';
import { bundleFunctions } from '../../local/bundles';
import { FunctionError, FunctionRuntime } from '../../local/function-runtime';
import { httpEvent } from '../fixtures/events';
import { startSecretsManagerEmulator, type EmulatedSecret, type SecretsManagerEmulator } from '../support/aws-emulator-secrets-manager';
import { freshDatabase } from '../support/services';

describe('the records function after a failed cold start', () => {
  const secrets: EmulatedSecret[] = [];
  let emulator: SecretsManagerEmulator;
  let runtime: FunctionRuntime;
  let database: URL;

  beforeAll(async () => {
    database = new URL(await freshDatabase());
    emulator = await startSecretsManagerEmulator(secrets);
    const spec = FUNCTIONS['records-query'];
    const bundles = await bundleFunctions([spec]);
    runtime = new FunctionRuntime({
      name: spec.name,
      bundle: bundles.files[spec.name],
      memoryMb: spec.memoryMb,
      timeoutMs: 10_000,
      maxEnvironments: 1,
      output: () => undefined,
      env: {
        ...spec.settings,
        AWS_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: emulator.endpoint,
        DATABASE_HOST: database.hostname,
        DATABASE_PORT: database.port,
        DATABASE_NAME: database.pathname.slice(1),
        DATABASE_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:data-handler-db',
        DATABASE_SSL: 'disable',
      },
    });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.stop();
  });

  const query = () =>
    runtime.invoke(
      { ...httpEvent({ method: 'GET', path: '/api/data/records' }), queryStringParameters: { start_time: '2024-01-01T00:00:00Z', end_time: '2024-01-02T00:00:00Z' } },
      10_000,
    ) as Promise<{ statusCode: number; body: string }>;

  it('fails while the secret cannot be read, then answers once it can, in the same environment', async () => {
    const first = await query().catch((error: unknown) => error);
    secrets.push({
      arn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:data-handler-db',
      name: 'data-handler-db',
      value: { username: decodeURIComponent(database.username), password: decodeURIComponent(database.password) },
    });
    const second = await query();

    expect(first).toBeInstanceOf(FunctionError);
    expect(String((first as Error).message)).toMatch(/can't find the specified secret/);
    expect(second.statusCode).toBe(200);
    expect(JSON.parse(second.body).records).toEqual([]);
    expect(runtime.coldStarts).toBe(1);
  });
});
