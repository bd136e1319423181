/**
 * The whole system on one machine: embedded PostgreSQL, SQS and DynamoDB, the HTTP and
 * WebSocket gateways, the SQS event source and the local identity, in front of the functions
 * of the catalogue. Each function runs its own built bundle, the one that deploys, in
 * execution environments of its own with its exported `handler`; its environment points the
 * SDK at the local services. There is no second wiring of any function here.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { SQSBatchResponse } from 'aws-lambda';
import type pg from 'pg';
import { JwtVerifier } from '../lambdas/adapters/jwt-verifier';
import { createPool } from '../lambdas/adapters/pg-record-store';
import { FUNCTION_SPECS } from '../lambdas/functions';
import type { LocalResources } from './bindings';
import { bundleFunctions } from './bundles';
import type { LocalConfig } from './config';
import { rolePasswords, roleUrls } from './database-roles';
import { LocalFunctions, runCustomResource } from './functions';
import { startHttpGateway } from './http-gateway';
import { dashboardFiles } from '../web/files';
import { LocalIdentity } from './identity';
import { localUserStore, type UserStore } from './users';
import {
  freePort,
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
import { LEGACY_SPOOL_FILE, restoreLegacySpool } from './legacy-spool';
import { originPolicy, parseOriginList } from './origins';
import type { PlatformHealth } from './restarter';
import { localOutputs, OUTPUTS_FILE, QUEUE_DIR, queuedCount, RUNTIME_FILE, waitForEmptyQueue } from './runtime-files';
import { writeStateFile } from './state-file';
import { SqsEventSource } from './sqs-poller';
import { reachableHost, STAGE as WS_STAGE, startWsGateway, type RunningWsGateway } from './ws-gateway';

export { LOCAL_STACK_NAME, OUTPUTS_FILE, QUEUE_DIR, RUNTIME_FILE } from './runtime-files';

export interface LocalStack {
  readonly config: LocalConfig;
  readonly httpUrl: string;
  readonly wsUrl: string;
  /** The database as its owner (migrations, tools, tests). */
  readonly databaseUrl: string;
  /** What the writer and the readers connect with: their roles, or the owner when those cannot be used. */
  readonly functionDatabaseUrls: { readonly writer: string; readonly reader: string };
  readonly queue: QueueInfo;
  readonly sqsEndpoint: string;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly identity: LocalIdentity;
  /** Who may log in: DATA_DIR/users.json (`npm run users`); `seeded` when this start made it, with the env user. */
  readonly users: { readonly store: UserStore; readonly seeded: boolean };
  readonly eventSource: SqsEventSource;
  /** The functions' execution environments. */
  readonly functions: LocalFunctions;
  readonly ws: RunningWsGateway;
  /** A client for the embedded queue (tests and tools). */
  readonly sqs: SQSClient;
  readonly pool: pg.Pool;
  /** The embedded PostgreSQL, supervised (undefined with DATABASE_URL). */
  readonly postgres: RunningPostgres | undefined;
  /** The platform's own state, as GET /health reports it before the health function runs. */
  health(): PlatformHealth;
  /**
   * Stops everything: no new connections, every request in flight answered, then the queue
   * drains for a while (what is left stays in the durable queue for the next start), then the rest.
   */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Progress lines for the console. */
  readonly log?: (line: string) => void;
  /** How long a stop lets the writer empty the queue; what is left stays queued (durably) for the next start. */
  readonly drainTimeoutMs?: number;
  /** How long a stop waits for HTTP requests in flight. @default the integration timeout plus 5 s */
  readonly httpDrainTimeoutMs?: number;
  /** The WebSocket idle timeout (API Gateway: 10 minutes). */
  readonly wsIdleTimeoutMs?: number;
  /** What a monitor may hold unread before posts to it are refused. @default WEBSOCKET_LIMITS.sendBufferBytes */
  readonly wsSendBufferBytes?: number;
  /** Where the functions' log lines go, each prefixed with its function's name. @default stdout */
  readonly functionOutput?: (line: string) => void;
}

type Stopper = { name: string; stop: () => Promise<unknown> };

/** Starts the local stack. On failure, whatever had started is stopped again. */
export async function startLocalStack(config: LocalConfig, options: StartOptions = {}): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const stoppers: Stopper[] = []; // in start order; stopped in reverse
  const stopAll = async () => {
    for (const s of stoppers.splice(0).reverse()) {
      await s.stop().catch((e) => log(`stopping ${s.name} failed: ${String(e)}`));
    }
  };
  try {
    // The functions' bundles build while the services start.
    const bundling = bundleFunctions(FUNCTION_SPECS);
    bundling.catch(() => undefined);

    // State: a folder of our own, private unless it exists already (its mode is then the user's).
    await mkdir(config.DATA_DIR, { recursive: true, mode: 0o700 });

    // Storage.
    let databaseUrl = config.DATABASE_URL;
    let postgres: RunningPostgres | undefined;
    if (!databaseUrl) {
      log('starting PostgreSQL (embedded)…');
      postgres = await startPostgres({ dataDir: path.join(config.DATA_DIR, 'postgres'), port: config.PG_PORT, log });
      stoppers.push({ name: 'PostgreSQL', stop: postgres.stop });
      databaseUrl = postgres.info.databaseUrl;
    }
    // For tools and tests that look at the stored rows; the functions open their own pools.
    const pool = createPool({ connection: databaseUrl, max: 2 });
    stoppers.push({ name: 'database pool', stop: () => pool.end() });
    // The writer's and readers' passwords, made at the first start and kept in DATA_DIR.
    const passwords = await rolePasswords(config.DATA_DIR);

    const compose = config.LOCAL_SERVICES === 'compose';
    const queueSettings = { visibilityTimeoutSeconds: config.QUEUE_VISIBILITY_TIMEOUT_S, maxReceiveCount: config.MAX_RECEIVE_COUNT };
    let queue: Service<QueueInfo>;
    let table: Service<{ endpoint: string; tableName: string }>;
    if (compose) {
      log(`using LocalStack at ${config.LOCALSTACK_ENDPOINT} for SQS and DynamoDB…`);
      const none = async () => undefined;
      queue = { info: await provisionQueues(config.LOCALSTACK_ENDPOINT, queueSettings), stop: none };
      table = { info: { endpoint: config.LOCALSTACK_ENDPOINT, tableName: await provisionConnectionsTable(config.LOCALSTACK_ENDPOINT) }, stop: none };
    } else {
      log('starting SQS (fauxqs, kept in SQLite) and DynamoDB (dynalite)…');
      queue = await startQueue({ port: config.SQS_PORT, dataDir: path.join(config.DATA_DIR, QUEUE_DIR), log, ...queueSettings });
      stoppers.push({ name: 'SQS', stop: queue.stop });
      table = await startConnectionsTable({ port: config.DYNAMODB_PORT });
      stoppers.push({ name: 'DynamoDB', stop: table.stop });
    }

    const sqs = localSqsClient(queue.info.endpoint);
    stoppers.push({ name: 'SQS client', stop: async () => sqs.destroy() });
    if (!compose) {
      const spool = await restoreLegacySpool(path.join(config.DATA_DIR, LEGACY_SPOOL_FILE), sqs, queue.info);
      if (spool.outcome === 'restored') log(`moved the old queue spool into the queue: ${spool.queue} queued, ${spool.dlq} in the DLQ`);
      if (spool.outcome === 'unreadable') log(`could not read the old queue spool (${spool.reason}); set it aside as ${spool.keptAs}`);
    }

    // Identity: the issuer is the HTTP gateway, which also serves the JWKS and the Cognito API.
    const httpPort = config.PORT || (await freePort());
    const wsPort = config.WS_PORT || (await freePort());
    const httpUrl = `http://127.0.0.1:${httpPort}`;
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

    // The functions: the catalogue's modules, built as they deploy, each in its own environments.
    const services: Omit<LocalResources, 'database'> = {
      sqsEndpoint: queue.info.endpoint,
      queueUrl: queue.info.queueUrl,
      deadLetterQueueUrl: queue.info.dlqUrl,
      queueMaxReceiveCount: config.MAX_RECEIVE_COUNT,
      pipelineStateTable: await provisionPipelineStateTable(table.info.endpoint),
      dynamoEndpoint: table.info.endpoint,
      connectionsTable: table.info.tableName,
      loginAttemptsTable: await provisionLoginAttemptsTable(table.info.endpoint),
      idempotencyKeysTable: await provisionIdempotencyKeysTable(table.info.endpoint),
      managementEndpoint: `http://${reachableHost(config.WS_BIND_HOST)}:${wsPort}/${WS_STAGE}`,
      issuer: httpUrl,
      audience: config.JWT_AUDIENCE,
      jwksUrl: `${httpUrl}/.well-known/jwks.json`,
      cognitoEndpoint: httpUrl,
    };
    const bundles = await bundling;
    if (bundles.built) log('functions bundled');

    // The schema and the roles, by the deploy-time migration function, as CloudFormation runs it
    // on AWS. It runs first: whether the roles work decides what the other functions connect as.
    const migration = await runCustomResource('migrate', {
      bundles,
      resources: { ...services, database: { owner: databaseUrl, writer: databaseUrl, reader: databaseUrl, rolePasswords: passwords } },
      ...(options.functionOutput ? { output: options.functionOutput } : {}),
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
      ...(options.functionOutput ? { output: options.functionOutput } : {}),
    });
    stoppers.push({ name: 'functions', stop: () => functions.stop() });

    const corsAllowOrigins = parseOriginList(config.CORS_ALLOW_ORIGINS);
    const ws = await startWsGateway({
      port: wsPort,
      host: config.WS_BIND_HOST,
      log,
      allowOrigin: originPolicy(httpUrl, corsAllowOrigins).allows,
      ...(options.wsIdleTimeoutMs ? { idleTimeoutMs: options.wsIdleTimeoutMs } : {}),
      ...(options.wsSendBufferBytes ? { sendBufferBytes: options.wsSendBufferBytes } : {}),
      handlers: functions.handlers(['websocket-authorizer', 'websocket-route']),
    });
    stoppers.push({ name: 'WebSocket gateway', stop: ws.stop });

    const queueArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.info.queueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes!.QueueArn!;
    const eventSource = new SqsEventSource({
      sqs,
      queueUrl: queue.info.queueUrl,
      queueArn,
      invoke: (event) => functions.runtime('batch-writer').invoke(event) as Promise<SQSBatchResponse | null>,
      batchSize: config.BATCH_SIZE,
      batchWindowMs: config.BATCH_WINDOW_MS,
      maxConcurrency: config.MAX_CONCURRENCY,
      log,
    });
    if (config.LOCAL_WRITER) eventSource.start();
    else log('LOCAL_WRITER=false: the queue is left to another consumer (the LocalStack writer)');
    stoppers.push({ name: 'event source', stop: () => eventSource.stop() });

    const drain = async () => {
      await waitForEmptyQueue(sqs, queue.info.queueUrl, options.drainTimeoutMs ?? 10_000);
      await eventSource.stop();
      if (compose) return;
      const left = await queuedCount(sqs, queue.info.queueUrl);
      if (left > 0) log(`${left} message(s) stay in the queue (kept in ${path.join(config.DATA_DIR, QUEUE_DIR)}) for the next start`);
    };
    // Runs after the HTTP gateway has answered every request in flight (stoppers run in reverse).
    stoppers.push({ name: 'queue drain', stop: drain });

    // The first part that is down names the reason; /health answers 503 with it.
    const health = (): PlatformHealth => [postgres?.health(), queue.health?.()].find((h) => h && h.status !== 'ok') ?? { status: 'ok' };
    const http = await startHttpGateway({
      port: httpPort,
      verifier,
      log,
      cognito: { issuer: identity, clientId: config.JWT_AUDIENCE },
      staticJson: {
        '/.well-known/jwks.json': () => identity.jwks,
        // Where the dashboard finds the APIs.
        '/config.json': () => ({ httpUrl: `${httpUrl}/`, wsUrl: ws.url }),
      },
      staticFiles: dashboardFiles(),
      // The page reaches the WebSocket gateway under either name of this machine, as it does the API.
      connectSources: [ws.url, ws.url.replace('//127.0.0.1:', '//localhost:')],
      handlers: functions.handlers(['http']),
      corsAllowOrigins,
      health,
      headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
      ...(options.httpDrainTimeoutMs !== undefined ? { drainTimeoutMs: options.httpDrainTimeoutMs } : {}),
    });
    stoppers.push({ name: 'HTTP gateway', stop: http.stop });

    // Where the running stack is: for tools such as `npm run dlq`, and in the shape of
    // `cdk deploy --outputs-file` for `npm run smoke` (both removed again at stop).
    const runtimeFile = path.join(config.DATA_DIR, RUNTIME_FILE);
    const running = {
      httpUrl: http.url,
      wsUrl: ws.url,
      sqsEndpoint: queue.info.endpoint,
      queueUrl: queue.info.queueUrl,
      dlqUrl: queue.info.dlqUrl,
      // Local-only credentials, in a 0600 file: `npm run dlq` reads the reasons the writer noted,
      // so it gets the writer's URL, the least role that may read them.
      databaseUrl: functionDatabaseUrls.writer,
      pid: process.pid,
      ...(postgres ? { postgresDataDir: postgres.info.dataDir } : {}),
    };
    await writeStateFile(runtimeFile, running);
    const outputsFile = path.join(config.DATA_DIR, OUTPUTS_FILE);
    await writeStateFile(outputsFile, localOutputs({ httpUrl: http.url, wsUrl: ws.url, clientId: config.JWT_AUDIENCE, queue: queue.info }));
    stoppers.push({ name: 'runtime files', stop: () => Promise.all([rm(runtimeFile, { force: true }), rm(outputsFile, { force: true })]) });

    let stopping: Promise<void> | undefined;
    return {
      config,
      httpUrl: http.url,
      wsUrl: ws.url,
      databaseUrl,
      functionDatabaseUrls,
      queue: queue.info,
      sqsEndpoint: queue.info.endpoint,
      dynamoEndpoint: table.info.endpoint,
      tableName: table.info.tableName,
      identity,
      users: { store: users, seeded: usersSeeded },
      eventSource,
      functions,
      ws,
      sqs,
      pool,
      postgres,
      health,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

