/**
 * What deploys is what is tested: the real CDK app is synthesized with bundling, and each
 * catalogued function's bundle from the cloud assembly is invoked (in local/function-runtime.ts,
 * as `npm start` runs functions) with the environment the template gives it, its references
 * resolved to local endpoints (test/support/artifact-environment.ts). The database speaks TLS
 * only and the functions keep the template's DATABASE_SSL=verify-full; Secrets Manager, which
 * has no local equivalent here, is emulated (test/support/aws-emulator-secrets-manager.ts).
 */
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayAuthorizerResult, SQSBatchResponse } from 'aws-lambda';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../lambdas/adapters/migrations';
import { createPool, PgRecordStore } from '../../lambdas/adapters/pg-record-store';
import { analyzeSwings } from '../../lambdas/core/swing-analysis';
import { databaseRoleOf, FUNCTION_SPECS, type FunctionName } from '../../lambdas/functions';
import { readEnv } from '../../lambdas/shared/env';
import type { HttpResult } from '../../lambdas/shared/http';
import type { WsResult } from '../../lambdas/shared/websocket';
import { LAMBDA_NODE_MAJOR } from '../../lib/bundling';
import { httpEvent, sqsEvent, wsEvent } from '../fixtures/events';
import { recordsToStore } from '../fixtures/records';
import { artifactEnvironment, resolveProperties } from '../support/artifact-environment';
import { startArtifactAws, TEMPLATE_DATABASE, type ArtifactAws } from '../support/artifact-local-aws';
import { ArtifactRunner, withoutHandlerExport, type ArtifactInvocation } from '../support/artifact-runtime';
import { synthesizeApp, type SynthesizedApp } from '../support/artifact-synth';
import { documentClient, queryOnce, sqsClient } from '../support/services';
import { connectMonitor } from '../support/stack';
import { customResourceCreateEvent, wsAuthorizerEvent } from './events';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const MIGRATION_NAMES = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort().map((f) => f.replace(/\.sql$/, ''));

describe('the synthesized function bundles', () => {
  let app: SynthesizedApp;
  let aws: ArtifactAws;
  let runner: ArtifactRunner;

  const envOf = (name: FunctionName) => artifactEnvironment(app.functions[name], app.template, aws.local);
  const fn = (name: FunctionName, env: Record<string, string> = envOf(name), bundle = app.functions[name].bundle): ArtifactInvocation => {
    const { memoryMb, timeoutSeconds } = app.functions[name];
    return { name, env, bundle, memoryMb, timeoutSeconds };
  };
  /** Invokes `name` in runtime `key` (one per key, kept warm), as described by `f`. */
  const invoke = <R>(name: FunctionName, event: unknown, key: string = name, f: () => ArtifactInvocation = () => fn(name)) =>
    runner.invoke(key, f(), event) as Promise<R>;
  const claims = (sub: string) => ({ sub, 'cognito:groups': '[]' });
  /** A GET of bob's records in the hour the readers' rows are in. */
  const readerEvent = (route: string) => ({
    ...httpEvent({ method: 'GET', path: route, claims: claims('bob') }),
    queryStringParameters: { start_time: '2023-06-01T00:00:00Z', end_time: '2023-06-01T01:00:00Z' },
  });

  /** Receives every message on the queue and deletes it; resolves with their bodies. */
  async function takeMessages(): Promise<string[]> {
    const sqs = sqsClient();
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.local.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of out.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: aws.local.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    return (out.Messages ?? []).map((m) => m.Body!);
  }

  async function upload(userId: string, records: { data: number; date: string }[]): Promise<string[]> {
    const answer = await invoke<HttpResult>('ingest', httpEvent({ body: { records }, claims: claims(userId) }));
    expect(answer.statusCode, answer.body).toBe(202);
    return (JSON.parse(answer.body!) as { ids: string[] }).ids;
  }

  beforeAll(async () => {
    if (NODE_MAJOR !== LAMBDA_NODE_MAJOR) {
      throw new Error(`The artifact tests run on Node ${LAMBDA_NODE_MAJOR} (the Lambda runtime); this is ${process.version}. Run them through npm/npx, which put node_modules/.bin/node first.`);
    }
    const [synth, services] = await Promise.allSettled([
      synthesizeApp(),
      startArtifactAws({
        account: '111111111111',
        region: 'eu-west-1',
        // The gateway's authorizer and routes call the artifacts too.
        wsHandlers: Object.fromEntries(
          (['ws-authorizer', 'ws-connect', 'ws-disconnect', 'ws-default'] as const).map((name) => [name, (event: unknown) => invoke(name, event)]),
        ),
      }),
    ]);
    if (synth.status === 'fulfilled') app = synth.value;
    if (services.status === 'fulfilled') aws = services.value;
    if (synth.status === 'rejected') throw synth.reason;
    if (services.status === 'rejected') throw services.reason;
    runner = new ArtifactRunner();
    console.log(`synth of bin/app.ts with bundling: ${Math.round(app.synthMs)} ms`);
  }, 600_000);

  afterAll(async () => {
    if (runner) console.log(`cold starts (first invocation: thread, import, run):\n${[...runner.coldStartMs].map(([k, ms]) => `  ${k.padEnd(32)} ${Math.round(ms)} ms`).join('\n')}`);
    await runner?.stop();
    await aws?.stop();
    await app?.cleanup();
  }, 60_000);

  it(`runs on Node ${LAMBDA_NODE_MAJOR}, the major of the functions' Lambda runtime`, () => {
    const runtimes = FUNCTION_SPECS.map((s) => app.template.Resources[app.functions[s.name].logicalId]!.Properties?.Runtime);

    expect(NODE_MAJOR).toBe(LAMBDA_NODE_MAJOR);
    expect(new Set(runtimes)).toEqual(new Set([`nodejs${LAMBDA_NODE_MAJOR}.x`]));
  });

  it("resolves every function's template environment to local endpoints that satisfy its catalogue schema", () => {
    for (const spec of FUNCTION_SPECS) {
      const env = envOf(spec.name);

      expect(() => readEnv(spec.env, env), spec.name).not.toThrow();
      expect(Object.values(env).join(' '), spec.name).not.toMatch(/amazonaws\.com/);
      if (databaseRoleOf(spec)) expect(env.DATABASE_SSL, spec.name).toBe('verify-full');
    }
  });

  it('ingest answers 202 and puts the accepted records on the queue', async () => {
    const records = [{ data: 7, date: '2024-03-01T00:00:00Z' }, { data: 8, date: '2024-03-01T00:01:00Z' }];

    const ids = await upload('alice', records);

    const queued = (await takeMessages()).flatMap((b) => (JSON.parse(b) as { records: { id: string }[] }).records.map((r) => r.id));
    expect(queued).toEqual(ids);
  });

  it('health answers 200', async () => {
    const answer = await invoke<HttpResult>('health', httpEvent({ method: 'GET', path: '/health', claims: null }));

    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body!)).toEqual({ status: 'ok' });
  });

  it("auth-token logs in through Cognito's API with the user's password and refuses a wrong one", async () => {
    const login = (password: string) =>
      invoke<HttpResult>('auth-token', httpEvent({ path: '/auth/token', body: { username: aws.user.username, password }, claims: null }));

    const good = await login(aws.user.password);
    const bad = await login('not-the-password');

    expect(good.statusCode, good.body).toBe(200);
    const token = (JSON.parse(good.body!) as { access_token: string }).access_token;
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ iss: aws.cognito.issuer, sub: aws.user.username });
    expect(bad.statusCode).toBe(401);
  });

  it('ws-authorizer allows a valid access token and answers Unauthorized to a bad one', async () => {
    const { access_token } = await aws.cognito.identity.tokenFor('alice', false);

    const allowed = await invoke<APIGatewayAuthorizerResult>('ws-authorizer', wsAuthorizerEvent(access_token, aws.local.region, aws.local.account));
    const refused = invoke('ws-authorizer', wsAuthorizerEvent(`${access_token.slice(0, -4)}AAAA`, aws.local.region, aws.local.account));

    expect(allowed.principalId).toBe('alice');
    expect(allowed.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke' });
    await expect(refused).rejects.toMatchObject({ message: 'Unauthorized' });
  });

  it('ws-connect records the connection in the table and ws-disconnect forgets it', async () => {
    const connectionId = `artifact-${randomBytes(4).toString('hex')}`;
    const item = async () =>
      (await documentClient().send(new GetCommand({ TableName: aws.local.connectionsTable, Key: { connectionId } }))).Item;

    const connected = await invoke<WsResult>('ws-connect', wsEvent('$connect', { connectionId, authorizer: { userId: 'alice', isAdmin: 'false' } }));
    const stored = await item();
    const disconnected = await invoke<WsResult>('ws-disconnect', wsEvent('$disconnect', { connectionId }));

    expect(connected.statusCode).toBe(200);
    expect(stored).toMatchObject({ connectionId, userId: 'alice' });
    expect(disconnected.statusCode).toBe(200);
    expect(await item()).toBeUndefined();
  });

  it('ws-default answers a ping with a pong frame', async () => {
    const answer = await invoke<WsResult>('ws-default', wsEvent('$default', { body: JSON.stringify({ action: 'ping' }) }));

    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body!)).toMatchObject({ type: 'pong' });
  });

  it("migrate applies its bundled migrations to a fresh database on the template's Create", async () => {
    const database = `migrate_${randomBytes(4).toString('hex')}`;
    await aws.postgres.createDatabase(database);
    const schemas = Object.values(app.template.Resources).filter((r) => r.Properties?.MigrationsHash !== undefined);
    expect(schemas, 'custom resources with a MigrationsHash').toHaveLength(1);
    const event = customResourceCreateEvent(schemas[0]!.Type, resolveProperties(schemas[0]!.Properties!, app.template, aws.local), aws.local.region, aws.local.account);
    const bundled = readdirSync(path.join(app.functions.migrate.assetDir, 'migrations')).filter((f) => f.endsWith('.sql')).sort().map((f) => f.replace(/\.sql$/, ''));

    const result = await invoke('migrate', event, 'migrate (fresh database)', () => fn('migrate', { ...envOf('migrate'), DATABASE_NAME: database }));

    expect(bundled).toEqual(MIGRATION_NAMES);
    expect(result).toEqual({ PhysicalResourceId: 'data-handler-schema', Data: { Applied: MIGRATION_NAMES.join(',') } });
    expect(await queryOnce(aws.postgres.clientConfig(database), "SELECT to_regclass('public.records')::text AS t")).toEqual([{ t: 'records' }]);
  });

  it('batch-writer stores a queued upload over verified TLS and pushes it to a monitor connected through the artifacts', async () => {
    const { access_token } = await aws.cognito.identity.tokenFor('alice', false);
    const monitor = await connectMonitor(aws.ws.url, access_token);
    const ids = await upload('alice', [{ data: 1, date: '2024-04-01T00:00:00Z' }, { data: 2, date: '2024-04-01T00:00:01Z' }]);
    const bodies = await takeMessages();

    const result = await invoke<SQSBatchResponse>('batch-writer', sqsEvent(bodies));

    try {
      expect(result).toEqual({ batchItemFailures: [] });
      const stored = await queryOnce<{ id: string }>(aws.postgres.clientConfig(TEMPLATE_DATABASE), 'SELECT id FROM records WHERE id = ANY($1) ORDER BY date', [ids]);
      expect(stored.map((r) => r.id)).toEqual(ids);
      await monitor.waitFor(() => ids.every((id) => monitor.pushedIds().includes(id)), 10_000);
      // It logged in as its role, with its role's secret.
      expect(aws.secrets.requests).toContain(aws.local.databaseSecretArns.writer);
    } finally {
      await monitor.close();
    }
  });

  describe('the readers, over rows stored for another user', () => {
    const start = Date.parse('2023-06-01T00:00:00Z');
    // Five 5-minute batches of equal variance whose averages alternate: three inner signals.
    const rows = [[0, 20], [40, 60], [0, 20], [40, 60], [0, 20]].flatMap(([a, b], i) =>
      [a!, b!].map((data, j) => ({ ...recordsToStore(1, { userId: 'bob' })[0]!, data, date: new Date(start + i * 300_000 + j * 60_000).toISOString().replace('.000Z', 'Z') })),
    );
    const get = (name: FunctionName, route: string) => invoke<HttpResult>(name, readerEvent(route));

    beforeAll(async () => {
      const pool = createPool({ connection: aws.postgres.clientConfig(TEMPLATE_DATABASE) });
      await new PgRecordStore(pool).insertBatch(rows).finally(() => pool.end());
    });

    it('records-query answers 200 with the rows in date order', async () => {
      const answer = await get('records-query', '/api/data/records');

      expect(answer.statusCode, answer.body).toBe(200);
      expect((JSON.parse(answer.body!) as { records: { id: string }[] }).records.map((r) => r.id)).toEqual(rows.map((r) => r.id));
      expect(aws.secrets.requests).toContain(aws.local.databaseSecretArns.reader); // as its role
    });

    it('swing-analyze answers 200 with the analysis of the rows', async () => {
      const expected = analyzeSwings(rows);

      const answer = await get('swing-analyze', '/api/data/swing-analyze');

      expect(answer.statusCode, answer.body).toBe(200);
      expect(expected.signals).toHaveLength(3);
      expect(JSON.parse(answer.body!)).toMatchObject({ signals: expected.signals, message: null });
    });
  });

  describe('can fail', () => {
    it('a template reference with no local counterpart, or two resources for one, fails naming the variable', () => {
      const template = { Resources: { ...app.template.Resources, Unwired: { Type: 'AWS::SNS::Topic' }, Second: { Type: 'AWS::SQS::Queue', Properties: { RedrivePolicy: { maxReceiveCount: 5 } } } } };
      const ingest = app.functions.ingest;
      const withVariables = (variables: Record<string, unknown>) => ({ ...ingest, variables: { ...ingest.variables, ...variables } });

      const unwired = () => artifactEnvironment(withVariables({ ALARM_TOPIC: { Ref: 'Unwired' } }), template, aws.local);
      const doubled = () => artifactEnvironment(withVariables({ DLQ_URL: { Ref: 'Second' } }), template, aws.local);

      expect(unwired).toThrow(/ALARM_TOPIC.*Unwired \(AWS::SNS::Topic\) has no local counterpart/);
      expect(doubled).toThrow(/DLQ_URL.*both \w+ and Second/);
    });

    it('ingest without QUEUE_URL fails its invocation, naming the variable', async () => {
      const { QUEUE_URL: _, ...env } = envOf('ingest');

      const outcome = invoke('ingest', httpEvent({ body: { data: 1, date: '2024-01-01T00:00:00Z' } }), 'ingest without QUEUE_URL', () => fn('ingest', env));

      await expect(outcome).rejects.toThrow(/QUEUE_URL is required/);
    });

    it('a bundle whose handler export is broken fails with Runtime.HandlerNotFound', async () => {
      const broken = await withoutHandlerExport(app.functions.health.bundle, path.join(app.outdir, 'broken-health'));

      const outcome = invoke('health', httpEvent({ method: 'GET', path: '/health', claims: null }), 'health (broken export)', () => fn('health', envOf('health'), broken));

      await expect(outcome).rejects.toMatchObject({ errorType: 'Runtime.HandlerNotFound' });
    });

    it("records-query answers 500 when its environment does not trust the database's certificate", async () => {
      const { NODE_EXTRA_CA_CERTS: _, ...env } = envOf('records-query');
      const key = 'records-query (CA not trusted)';

      const answer = await invoke<HttpResult>('records-query', readerEvent('/api/data/records'), key, () => fn('records-query', env));

      expect(answer.statusCode).toBe(500);
      expect(runner.logText(key)).toContain('unable to verify the first certificate');
    });
  });
});
