/**
 * The steps of startLocalStack (stack.ts), each a part of the local stack: it starts the part,
 * registers how to stop it, and resolves what the later steps need.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import path from 'node:path';
import type { SQSBatchResponse } from 'aws-lambda';
import { JwtVerifier } from '../lambdas/adapters/jwt-verifier';
import { retentionVariables } from '../lambdas/shared/env';
import { createPool } from '../lambdas/adapters/pg-record-store';
import { dashboardFiles } from '../web/files';
import type { LocalResources } from './bindings';
import type { bundleFunctions } from './bundles';
import type { LocalConfig } from './config';
import { rolePasswords, roleUrls } from './database-roles';
import { LocalFunctions, runCustomResource } from './functions';
import { startHttpGateway } from './http-gateway';
import { LocalIdentity } from './identity';
import { originPolicy } from './origins';
import type { PlatformHealth } from './restarter';
import { QUEUE_DIR, queuedCount, waitForEmptyQueue } from './runtime-files';
import {
  localSqsClient,
  provisionConnectionsTable,
  provisionIdempotencyKeysTable,
  provisionLoginAttemptsTable,
  provisionPipelineStateTable,
  provisionQueues,
  startConnectionsTable,
  startPostgres,
  startQueue,
  type QueueInfo,
  type RunningPostgres,
  type Service,
} from './services';
import { eventSourceChannel } from './queue-channel';
import { SqsEventSource } from './sqs-poller';
import type { StartOptions } from './stack';
import { localUserStore } from './users';
import { reachableHost, STAGE as WS_STAGE, startWsGateway, type RunningWsGateway } from './ws-gateway';

export type Log = (line: string) => void;

type Stopper = { name: string; stop: () => Promise<unknown> };

/** What has started so far, in start order; stopped in reverse. */
export class Stoppers {
  private readonly started: Stopper[] = [];
  constructor(private readonly log: Log) {}

  add(name: string, stop: () => Promise<unknown>): void {
    this.started.push({ name, stop });
  }

  async stopAll(): Promise<void> {
    for (const s of this.started.splice(0).reverse()) {
      await s.stop().catch((e) => this.log(`stopping ${s.name} failed: ${String(e)}`));
    }
  }
}

/** Where progress lines go: the console's, or nowhere. */
export function logOf(options: StartOptions): Log {
  return options.log ?? (() => undefined);
}

/** The connections table, and where it is. */
export type Table = Service<{ endpoint: string; tableName: string }>;

/** PostgreSQL (embedded unless DATABASE_URL names one), a pool for tools and tests, and the roles' passwords. */
export async function startDatabase(config: LocalConfig, log: Log, stoppers: Stoppers) {
  let databaseUrl = config.DATABASE_URL;
  let postgres: RunningPostgres | undefined;
  if (!databaseUrl) {
    log('starting PostgreSQL (embedded)…');
    postgres = await startPostgres({ dataDir: path.join(config.DATA_DIR, 'postgres'), port: config.PG_PORT, log });
    stoppers.add('PostgreSQL', postgres.stop);
    databaseUrl = postgres.info.databaseUrl;
  }
  // For tools and tests that look at the stored rows; the functions open their own pools.
  const pool = createPool({ connection: databaseUrl, max: 2 });
  stoppers.add('database pool', () => pool.end());
  // The writer's and readers' passwords, made at the first start and kept in DATA_DIR.
  const passwords = await rolePasswords(config.DATA_DIR);
  return { databaseUrl, postgres, pool, passwords };
}

/** The queues and the connections table: embedded (fauxqs, dynalite), or provisioned on LocalStack with LOCAL_SERVICES=compose. */
export async function startQueueAndTable(config: LocalConfig, log: Log, stoppers: Stoppers) {
  const compose = config.LOCAL_SERVICES === 'compose';
  const queueSettings = { visibilityTimeoutSeconds: config.QUEUE_VISIBILITY_TIMEOUT_S, maxReceiveCount: config.MAX_RECEIVE_COUNT };
  let queue: Service<QueueInfo>;
  let table: Table;
  if (compose) {
    log(`using LocalStack at ${config.LOCALSTACK_ENDPOINT} for SQS and DynamoDB…`);
    const none = async () => undefined;
    queue = { info: await provisionQueues(config.LOCALSTACK_ENDPOINT, queueSettings), stop: none };
    table = { info: { endpoint: config.LOCALSTACK_ENDPOINT, tableName: await provisionConnectionsTable(config.LOCALSTACK_ENDPOINT) }, stop: none };
  } else {
    log('starting SQS (fauxqs, kept in SQLite) and DynamoDB (dynalite)…');
    queue = await startQueue({ port: config.SQS_PORT, dataDir: path.join(config.DATA_DIR, QUEUE_DIR), log, ...queueSettings });
    stoppers.add('SQS', queue.stop);
    table = await startConnectionsTable({ port: config.DYNAMODB_PORT });
    stoppers.add('DynamoDB', table.stop);
  }
  const sqs = localSqsClient(queue.info.endpoint);
  stoppers.add('SQS client', async () => sqs.destroy());
  return { compose, queue, table, sqs };
}

/** Identity: the issuer is the HTTP gateway, which also serves the JWKS and the Cognito API. */
export async function startIdentity(config: LocalConfig, httpUrl: string) {
  // Who may log in: DATA_DIR/users.json, read again on change, so `npm run users` takes
  // effect at once; a missing file starts with the env user (LOCAL_USERNAME, …).
  const users = localUserStore(config);
  const usersSeeded = await users.seedIfMissing();
  const identity = await LocalIdentity.create({
    issuer: httpUrl,
    audience: config.JWT_AUDIENCE,
    users,
    keyFile: path.join(config.DATA_DIR, 'identity-key.json'),
  });
  // The HTTP API's JWT authorizer is the gateway's job, not a function's.
  const verifier = new JwtVerifier({ issuer: httpUrl, audience: config.JWT_AUDIENCE, jwksUrl: `${httpUrl}/.well-known/jwks.json` });
  return { users, usersSeeded, identity, verifier };
}

/** What the functions' bindings resolve to locally, but the database; the tables they need are provisioned here. */
export async function functionResources(config: LocalConfig, queue: QueueInfo, table: Table['info'], httpUrl: string, wsPort: number): Promise<Omit<LocalResources, 'database'>> {
  return {
    sqsEndpoint: queue.endpoint,
    ...(queue.channel ? { sqsChannel: queue.channel } : {}),
    queueUrl: queue.queueUrl,
    deadLetterQueueUrl: queue.dlqUrl,
    queueMaxReceiveCount: config.MAX_RECEIVE_COUNT,
    ...(config.STORE_RETRY_DELAYS_S ? { storeRetryDelaysS: config.STORE_RETRY_DELAYS_S.split(',').map(Number) } : {}),
    pipelineStateTable: await provisionPipelineStateTable(table.endpoint),
    dynamoEndpoint: table.endpoint,
    connectionsTable: table.tableName,
    loginAttemptsTable: await provisionLoginAttemptsTable(table.endpoint),
    idempotencyKeysTable: await provisionIdempotencyKeysTable(table.endpoint),
    managementEndpoint: `http://${reachableHost(config.WS_BIND_HOST)}:${wsPort}/${WS_STAGE}`,
    partitions: retentionVariables(config),
    issuer: httpUrl,
    audience: config.JWT_AUDIENCE,
    jwksUrl: `${httpUrl}/.well-known/jwks.json`,
    cognitoEndpoint: httpUrl,
  };
}

/**
 * The schema and the roles, by the deploy-time migration function, as CloudFormation runs it on
 * AWS; then the catalogue's functions, built as they deploy, each in its own environments. The
 * migration runs first: whether the roles work decides what the other functions connect as.
 */
export async function startFunctions(
  config: LocalConfig,
  options: StartOptions,
  bundles: Awaited<ReturnType<typeof bundleFunctions>>,
  services: Omit<LocalResources, 'database'>,
  databaseUrl: string,
  passwords: Awaited<ReturnType<typeof rolePasswords>>,
  stoppers: Stoppers,
) {
  const log = logOf(options);
  const output = options.functionOutput ? { output: options.functionOutput } : {};
  const migration = await runCustomResource('migrate', {
    bundles,
    resources: { ...services, database: { owner: databaseUrl, writer: databaseUrl, reader: databaseUrl, rolePasswords: passwords } },
    ...output,
  });
  log(migration.Applied && migration.Applied !== 'none' ? `migrations applied: ${migration.Applied}` : 'schema up to date');
  const { fallback, ...functionDatabaseUrls } = await roleUrls(databaseUrl, passwords);
  if (fallback) log(fallback);

  const functions = new LocalFunctions({
    bundles,
    resources: { ...services, database: { owner: databaseUrl, ...functionDatabaseUrls } },
    maxEnvironments: config.FUNCTION_CONCURRENCY,
    idleTimeoutMs: config.FUNCTION_IDLE_TIMEOUT_S * 1000,
    overrides: { 'batch-writer': { maxEnvironments: config.MAX_CONCURRENCY, timeoutMs: config.WRITER_TIMEOUT_MS } },
    ...output,
  });
  stoppers.add('functions', () => functions.stop());
  return { functions, functionDatabaseUrls };
}

/**
 * The SQS event source in front of the batch writer (started unless LOCAL_WRITER=false), and
 * the queue's drain at stop, which runs after the HTTP gateway has answered every request in
 * flight (stoppers run in reverse).
 */
export async function startEventSource(
  config: LocalConfig,
  options: StartOptions,
  parts: { compose: boolean; queue: QueueInfo; sqs: SQSClient; functions: LocalFunctions },
  stoppers: Stoppers,
): Promise<SqsEventSource> {
  const { compose, queue, sqs, functions } = parts;
  const log = logOf(options);
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const eventSource = new SqsEventSource({
    sqs,
    // Receives and deletes go to the embedded queue's thread over a channel when it has one.
    ...(queue.channel ? eventSourceChannel(queue.channel, queue.queueUrl) : {}),
    queueUrl: queue.queueUrl,
    queueArn,
    invoke: (event) => functions.runtime('batch-writer').invoke(event) as Promise<SQSBatchResponse | null>,
    batchSize: config.BATCH_SIZE,
    batchWindowMs: config.BATCH_WINDOW_MS,
    maxConcurrency: config.MAX_CONCURRENCY,
    log,
  });
  if (config.LOCAL_WRITER) eventSource.start();
  else log('LOCAL_WRITER=false: the queue is left to another consumer (the LocalStack writer)');
  stoppers.add('event source', () => eventSource.stop());

  const drain = async () => {
    await waitForEmptyQueue(sqs, queue.queueUrl, options.drainTimeoutMs ?? 10_000);
    await eventSource.stop();
    if (compose) return;
    const left = await queuedCount(sqs, queue.queueUrl);
    if (left > 0) log(`${left} message(s) stay in the queue (kept in ${path.join(config.DATA_DIR, QUEUE_DIR)}) for the next start`);
  };
  stoppers.add('queue drain', drain);
  return eventSource;
}

/** The WebSocket API in front of the authorizer and route functions, with its @connections API. */
export async function startWs(
  config: LocalConfig,
  options: StartOptions,
  parts: { wsPort: number; httpUrl: string; corsAllowOrigins: readonly string[]; functions: LocalFunctions },
  stoppers: Stoppers,
): Promise<RunningWsGateway> {
  const ws = await startWsGateway({
    port: parts.wsPort,
    host: config.WS_BIND_HOST,
    log: logOf(options),
    allowOrigin: originPolicy(parts.httpUrl, parts.corsAllowOrigins).allows,
    ...(options.wsIdleTimeoutMs ? { idleTimeoutMs: options.wsIdleTimeoutMs } : {}),
    ...(options.wsSendBufferBytes ? { sendBufferBytes: options.wsSendBufferBytes } : {}),
    handlers: parts.functions.handlers(['websocket-authorizer', 'websocket-route']),
  });
  stoppers.add('WebSocket gateway', ws.stop);
  return ws;
}

/** The HTTP API in front of the http function, with the JWT authorizer, the local Cognito API, the JWKS and the dashboard. */
export async function startHttp(
  config: LocalConfig,
  options: StartOptions,
  parts: {
    httpPort: number;
    httpUrl: string;
    corsAllowOrigins: readonly string[];
    functions: LocalFunctions;
    identity: LocalIdentity;
    verifier: JwtVerifier;
    ws: RunningWsGateway;
    health: () => PlatformHealth;
  },
  stoppers: Stoppers,
) {
  const { httpUrl, identity, ws } = parts;
  const http = await startHttpGateway({
    port: parts.httpPort,
    verifier: parts.verifier,
    log: logOf(options),
    cognito: { issuer: identity, clientId: config.JWT_AUDIENCE },
    staticJson: {
      '/.well-known/jwks.json': () => identity.jwks,
      // Where the dashboard finds the APIs.
      '/config.json': () => ({ httpUrl: `${httpUrl}/`, wsUrl: ws.url }),
    },
    staticFiles: dashboardFiles(),
    // The page reaches the WebSocket gateway under either name of this machine, as it does the API.
    connectSources: [ws.url, ws.url.replace('//127.0.0.1:', '//localhost:')],
    handlers: parts.functions.handlers(['http']),
    corsAllowOrigins: parts.corsAllowOrigins,
    health: parts.health,
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    ...(options.httpDrainTimeoutMs !== undefined ? { drainTimeoutMs: options.httpDrainTimeoutMs } : {}),
  });
  stoppers.add('HTTP gateway', http.stop);
  return http;
}

/** An EventBridge schedule's event, as the maintenance function receives it on AWS. */
function scheduledEvent(): Record<string, unknown> {
  return { version: '0', id: crypto.randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: '000000000000', time: new Date().toISOString(), region: 'us-east-1', resources: [], detail: {} };
}

/**
 * The scheduled functions (the maintenance pass) as the schedule runs them on AWS: once at
 * start, before the stack takes uploads, then every MAINTENANCE_INTERVAL_MS, never two at once.
 * A failed pass is told and does not stop the stack: no row depends on it (see
 * lambdas/core/partitions.ts), only the partitions made ahead and the retention do.
 */
export async function startSchedules(config: LocalConfig, options: StartOptions, functions: LocalFunctions, stoppers: Stoppers): Promise<void> {
  const log = logOf(options);
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const pass = async () => {
    try {
      const result = (await functions.runtime('maintain').invoke(scheduledEvent())) as { tables?: { created: unknown[]; dropped: unknown[] }[]; skipped?: string };
      const created = (result.tables ?? []).reduce((n, t) => n + t.created.length, 0);
      const dropped = (result.tables ?? []).reduce((n, t) => n + t.dropped.length, 0);
      if (created || dropped) log(`maintenance: ${created} partition(s) made, ${dropped} dropped`);
    } catch (error) {
      log(`maintenance failed (it runs again in ${config.MAINTENANCE_INTERVAL_MS} ms): ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass().then(schedule);
    }, config.MAINTENANCE_INTERVAL_MS);
  };
  running = pass();
  await running;
  schedule();
  stoppers.add('schedules', async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  });
}
