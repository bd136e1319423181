/**
 * Each function's local environment, from the catalogue: what its schema needs, only what its
 * bindings give, and nothing that could reach a real AWS account.
 */
import { describe, expect, it } from 'vitest';
import { FUNCTION_SPECS, FUNCTIONS } from '../../../lambdas/functions';
import { localEnvironment, type LocalResources } from '../../../local/bindings';

const resources: LocalResources = {
  sqsEndpoint: 'http://127.0.0.1:4001',
  queueUrl: 'http://127.0.0.1:4001/000000000000/records',
  deadLetterQueueUrl: 'http://127.0.0.1:4001/000000000000/records-dlq',
  queueMaxReceiveCount: 5,
  pipelineStateTable: 'pipeline-state',
  dynamoEndpoint: 'http://127.0.0.1:4002',
  connectionsTable: 'connections',
  managementEndpoint: 'http://127.0.0.1:3001/local',
  database: {
    owner: 'postgres://owner:o@127.0.0.1:5433/data_handler',
    writer: 'postgres://data_handler_writer:w@127.0.0.1:5433/data_handler',
    reader: 'postgres://data_handler_reader:r@127.0.0.1:5433/data_handler',
    rolePasswords: { writer: 'w', reader: 'r' },
  },
  issuer: 'http://127.0.0.1:3000',
  audience: 'data-handler-local',
  jwksUrl: 'http://127.0.0.1:3000/.well-known/jwks.json',
  cognitoEndpoint: 'http://127.0.0.1:3000',
  partitions: { PARTITION_SIZE: '1d', PARTITIONS_AHEAD: '3', RETENTION_DAYS: '30' },
};

describe('local function environments', () => {
  it.each(FUNCTION_SPECS.map((s) => [s.name, s] as const))('gives %s every variable its schema requires', (_, spec) => {
    const env = localEnvironment(spec, resources, {});

    expect(spec.env.safeParse(env).success).toBe(true);
    expect(env.AWS_LAMBDA_FUNCTION_NAME).toBe(spec.name);
  });

  it('gives a function only its own bindings\' variables', () => {
    const ingest = localEnvironment(FUNCTIONS.ingest, resources, {});
    const health = localEnvironment(FUNCTIONS.health, resources, {});

    expect(ingest.QUEUE_URL).toBe(resources.queueUrl);
    expect(ingest.DATABASE_URL).toBeUndefined();
    expect(ingest.MAX_BODY_BYTES).toBe(FUNCTIONS.ingest.settings.MAX_BODY_BYTES);
    expect(health.QUEUE_URL).toBeUndefined();
    expect(localEnvironment(FUNCTIONS['batch-writer'], resources, {})).toMatchObject({
      DATABASE_URL: resources.database.writer,
      CONNECTIONS_ENDPOINT: resources.managementEndpoint,
      DATABASE_POOL_MAX: FUNCTIONS['batch-writer'].settings.DATABASE_POOL_MAX,
    });
  });

  it("connects each database function as its binding's role, and gives only the owner the roles' passwords", () => {
    const env = (name: keyof typeof FUNCTIONS) => localEnvironment(FUNCTIONS[name], resources, {});
    const passwords = (e: Record<string, string>) => Object.keys(e).filter((k) => k.endsWith('_PASSWORD'));

    expect(env('migrate')).toMatchObject({ DATABASE_URL: resources.database.owner, DATABASE_WRITER_PASSWORD: 'w', DATABASE_READER_PASSWORD: 'r' });
    expect(env('batch-writer').DATABASE_URL).toBe(resources.database.writer);
    expect(env('records-query').DATABASE_URL).toBe(resources.database.reader);
    expect(env('swing-analyze').DATABASE_URL).toBe(resources.database.reader);
    expect(FUNCTION_SPECS.filter((s) => s.name !== 'migrate').flatMap((s) => passwords(env(s.name)))).toEqual([]);
    // Readiness opens a session as the reader role: the least the probe needs.
    expect(env('health').DATABASE_URL).toBe(resources.database.reader);
  });

  it('passes log levels through but never this process\'s AWS credentials, and sends any other AWS call to a refused local port', () => {
    const env = localEnvironment(FUNCTIONS.ingest, resources, {
      LOG_LEVEL: 'debug',
      AWS_ACCESS_KEY_ID: 'AKIAREALKEY',
      AWS_SECRET_ACCESS_KEY: 'real-secret',
      AWS_PROFILE: 'production',
    });

    expect(env.LOG_LEVEL).toBe('debug');
    expect(env.AWS_ACCESS_KEY_ID).toBe('local-only');
    expect(env.AWS_SECRET_ACCESS_KEY).toBe('local-only');
    expect(env.AWS_PROFILE).toBeUndefined();
    expect(env.AWS_ENDPOINT_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.AWS_ENDPOINT_URL_SQS).toBe(resources.sqsEndpoint);
  });

  it('fails naming the function and the variable when a setting breaks its schema', () => {
    const broken = { ...FUNCTIONS.ingest, settings: { MAX_BODY_BYTES: 'lots' } };

    expect(() => localEnvironment(broken, resources, {})).toThrow(/^ingest: Invalid configuration: MAX_BODY_BYTES is invalid/);
  });
});
