/**
 * The LocalStack path, checked without Docker: the compose file and the synthesized LocalStack
 * stack must agree with each other and with `LOCAL_SERVICES=compose npm start` (architecture,
 * names, the endpoints a Lambda container can reach). Nothing here runs LocalStack itself.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PIPELINE_STATE_TABLE } from '../../lambdas/core/pipeline';
import { FUNCTIONS } from '../../lambdas/functions';
import { PROJECT_ROOT } from '../../lib/bundling';
import { LocalStackStack } from '../../lib/localstack-stack';
import { localConfigFromEnv, type LocalConfig } from '../../local/config';
import { provisionConnectionsTable, provisionPipelineStateTable, provisionQueues, type QueueInfo } from '../../local/services';
import { startWsGateway, type RunningWsGateway } from '../../local/ws-gateway';
import { testApp } from './stack';

// `yaml` is not a dependency of the project; aws-cdk-lib bundles yaml 1.x, a full YAML 1.2
// parser, so the compose file is read as Docker Compose reads it rather than by pattern.
const requireFromCdk = createRequire(createRequire(import.meta.url).resolve('aws-cdk-lib'));
const { parse: parseYaml } = requireFromCdk('yaml') as { parse(text: string): unknown };

interface ComposeService {
  readonly image: string;
  readonly ports?: readonly string[];
  readonly environment?: Record<string, string> | readonly string[];
  readonly networks?: unknown;
}
interface ComposeFile {
  readonly name: string;
  readonly services: Record<string, ComposeService>;
  readonly networks?: unknown;
}

/** A service's environment as a map, whichever of the two compose forms it is written in. */
function envOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  return Object.fromEntries((env as string[]).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** The `host:address` mappings of `--add-host` in a Docker flags string, as LocalStack parses them. */
function addedHosts(flags: string): Map<string, string> {
  const tokens = flags.trim().split(/\s+/);
  const hosts = new Map<string, string>();
  tokens.forEach((token, i) => {
    const value = token.startsWith('--add-host=') ? token.slice('--add-host='.length) : token === '--add-host' ? tokens[i + 1] : undefined;
    if (value) hosts.set(value.slice(0, value.indexOf(':')), value.slice(value.indexOf(':') + 1));
  });
  return hosts;
}

/** LocalStack's reading of a boolean setting (`is_env_true`). */
const isEnvTrue = (value: string | undefined) => ['1', 'true'].includes((value ?? '').trim().toLowerCase());

type Resource = { Type: string; Properties: Record<string, unknown> };

describe('the LocalStack path', () => {
  let compose: ComposeFile;
  let localstackEnv: Record<string, string>;
  let template: Template;
  let resources: Record<string, Resource>;
  let writerEnv: Record<string, unknown>;
  let config: LocalConfig;
  let gateway: RunningWsGateway;

  beforeAll(async () => {
    compose = parseYaml(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.localstack.yml'), 'utf8')) as ComposeFile;
    localstackEnv = envOf(compose.services.localstack!);
    const app = testApp();
    const stack = new LocalStackStack(app, 'Local', { env: { account: '000000000000', region: 'us-east-1' } });
    template = Template.fromStack(stack);
    resources = template.toJSON().Resources as Record<string, Resource>;
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(1);
    writerEnv = (functions[0]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    // `npm start`'s configuration with nothing set: the defaults a user gets.
    config = localConfigFromEnv({});
    gateway = await startWsGateway({ port: 0, handlers: {} });
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  /** A template value as deployed: a Ref to a named table or queue becomes its physical name. */
  function deployed(value: unknown): string {
    if (typeof value === 'string') return value;
    const ref = (value as { Ref?: string }).Ref;
    const props = ref ? resources[ref]?.Properties : undefined;
    const name = props?.TableName ?? props?.QueueName;
    if (typeof name !== 'string') throw new Error(`not resolvable without a deployment: ${JSON.stringify(value)}`);
    return name;
  }

  const queuesByRole = () => {
    const queues = Object.entries(template.findResources('AWS::SQS::Queue'));
    const main = queues.find(([, q]) => q.Properties.RedrivePolicy);
    const dlq = queues.find(([, q]) => !q.Properties.RedrivePolicy);
    if (!main || !dlq || queues.length !== 2) throw new Error('expected a queue with a redrive policy and its DLQ');
    return { main, dlq };
  };

  it('runs the arm64 writer on an x86 host too: LocalStack is told to ignore the architecture', () => {
    // Arrange
    const architectures = Object.values(template.findResources('AWS::Lambda::Function')).map((f) => f.Properties.Architectures);

    // Assert: the same architecture as on AWS, and LocalStack does not insist on it.
    expect(architectures).toEqual([['arm64']]);
    expect(isEnvTrue(localstackEnv.LAMBDA_IGNORE_ARCHITECTURE)).toBe(true);
  });

  it('names the queue, its DLQ, the connections table and the pipeline-state table exactly as `npm start` provisions them', async () => {
    // Arrange: what the compose path of `npm start` creates (the same calls, on the embedded
    // SQS and DynamoDB instead of LocalStack's; idempotent with the test setup's).
    const settings = { visibilityTimeoutSeconds: config.QUEUE_VISIBILITY_TIMEOUT_S, maxReceiveCount: config.MAX_RECEIVE_COUNT };
    const provisioned: QueueInfo = await provisionQueues(inject('sqsEndpoint'), settings);
    const tableName = await provisionConnectionsTable(inject('dynamoEndpoint'));
    const pipelineTable = await provisionPipelineStateTable(inject('dynamoEndpoint'));

    // Act
    const { main, dlq } = queuesByRole();
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table'));
    const table = tables.filter((t) => t.Properties.TableName !== pipelineTable);
    const pipeline = tables.filter((t) => t.Properties.TableName === pipelineTable);

    // Assert
    expect(main[1].Properties.QueueName).toBe(provisioned.queueName);
    expect(dlq[1].Properties.QueueName).toBe(provisioned.dlqName);
    expect(main[1].Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlq[0], 'Arn'] }, maxReceiveCount: config.MAX_RECEIVE_COUNT });
    expect(table.map((t) => t.Properties.TableName)).toEqual([tableName]);
    expect(table[0]!.Properties.KeySchema).toEqual([{ AttributeName: 'connectionId', KeyType: 'HASH' }]);
    expect(pipeline.map((t) => t.Properties.KeySchema)).toEqual([[{ AttributeName: PIPELINE_STATE_TABLE.partitionKey, KeyType: 'HASH' }]]);
    expect(deployed(writerEnv.CONNECTIONS_TABLE)).toBe(tableName);
  });

  it("feeds the writer from that queue with the catalogue's batch settings", () => {
    const trigger = FUNCTIONS['batch-writer'].trigger;
    if (trigger.kind !== 'queue') throw new Error('the batch writer has no queue trigger');
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queuesByRole().main[0], 'Arn'] },
      BatchSize: trigger.batchSize,
      MaximumBatchingWindowInSeconds: trigger.batchWindowSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it("points the writer at the local gateway's management API under a name its container resolves", () => {
    // Arrange
    const endpoint = new URL(deployed(writerEnv.CONNECTIONS_ENDPOINT));
    const gatewayEndpoint = new URL(gateway.managementEndpoint);
    const hosts = addedHosts(localstackEnv.LAMBDA_DOCKER_FLAGS ?? '');

    // Assert: the name maps to the Docker host, on the port and stage `npm start` serves.
    expect(hosts.get(endpoint.hostname)).toBe('host-gateway');
    expect(Number(endpoint.port)).toBe(config.WS_PORT);
    expect(endpoint.pathname).toBe(gatewayEndpoint.pathname);
  });

  it('keeps the gateway (and its unauthenticated management API) on loopback unless told otherwise', () => {
    expect(config.WS_BIND_HOST).toBe('127.0.0.1');
    expect(gateway.server.address()).toMatchObject({ address: '127.0.0.1' });
    expect(localConfigFromEnv({ WS_BIND_HOST: '172.17.0.1' }).WS_BIND_HOST).toBe('172.17.0.1');
    expect(() => localConfigFromEnv({ WS_BIND_HOST: 'example.com' })).toThrow(/WS_BIND_HOST/);
  });

  it('serves the gateway and its management API at the address it was told to listen on', async () => {
    // Arrange: another loopback address, so nothing leaves this machine.
    const log: string[] = [];
    const other = await startWsGateway({ port: 0, host: '127.0.0.2', handlers: {}, log: (line) => log.push(line) });
    try {
      // Assert
      expect(other.server.address()).toMatchObject({ address: '127.0.0.2' });
      expect(new URL(other.managementEndpoint).hostname).toBe('127.0.0.2');
      expect(new URL(other.url).hostname).toBe('127.0.0.2');
      expect(log).toEqual([]); // loopback: no exposure warning
    } finally {
      await other.stop();
    }
  });

  it("reaches the compose file's PostgreSQL by service name, on the network Lambda containers join", () => {
    // Arrange
    const url = new URL(deployed(writerEnv.DATABASE_URL));
    const postgres = compose.services[url.hostname];
    const pgEnv = postgres ? envOf(postgres) : {};

    // Assert: the compose project's default network, which every service joins.
    expect(compose.networks).toBeUndefined();
    expect(localstackEnv.LAMBDA_DOCKER_NETWORK).toBe(`${compose.name}_default`);
    expect(postgres?.image).toMatch(/^postgres:/);
    expect(Number(url.port || 5432)).toBe(5432); // the container's port, not a published one
    expect(decodeURIComponent(url.username)).toBe(pgEnv.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(pgEnv.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
  });

  it("gives the writer an environment that its catalogue's schema accepts", () => {
    // Arrange
    const spec = FUNCTIONS['batch-writer'];
    const env = Object.fromEntries(Object.entries(writerEnv).map(([k, v]) => [k, deployed(v)]));

    // Act
    const parsed = spec.env.safeParse(env);

    // Assert
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(env).toMatchObject(spec.settings);
  });

  it('runs every AWS service the stack deploys, and publishes every port on 127.0.0.1 only', () => {
    // Arrange
    const enabled = new Set((localstackEnv.SERVICES ?? '').split(',').map((s) => s.trim()));
    const used = new Set(Object.values(resources).filter((r) => r.Type.startsWith('AWS::')).map((r) => r.Type.split('::')[1]!.toLowerCase()));

    // Assert
    for (const service of used) expect(enabled, `SERVICES lacks ${service}`).toContain(service);
    const published = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    expect(published.length).toBeGreaterThan(0);
    for (const port of published) expect(port).toMatch(/^127\.0\.0\.1:/);
  });
});
