/**
 * The whole system on one machine: embedded PostgreSQL, SQS and DynamoDB, the HTTP and
 * WebSocket gateways, the SQS event source and the local identity, in front of the functions
 * of the catalogue. Each function runs its own built bundle, the one that deploys, in
 * execution environments of its own with its exported `handler`; its environment points the
 * SDK at the local services. There is no second wiring of any function here.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SQSBatchResponse } from 'aws-lambda';
import type pg from 'pg';
import { JwtVerifier } from '../lambdas/adapters/jwt-verifier';
import { createPool } from '../lambdas/adapters/pg-record-store';
import { FUNCTION_SPECS } from '../lambdas/functions';
import type { LocalResources } from './bindings';
import { bundleFunctions } from './bundles';
import type { LocalConfig } from './config';
import { LocalFunctions } from './functions';
import { startHttpGateway } from './http-gateway';
import { LocalIdentity } from './identity';
import {
  freePort,
  localSqsClient,
  provisionConnectionsTable,
  provisionQueues,
  startConnectionsTable,
  startPostgres,
  startQueue,
  type QueueInfo,
  type Service,
} from './services';
import { restoreSpool, saveSpool } from './spool';
import { SqsEventSource } from './sqs-poller';
import { reachableHost, STAGE as WS_STAGE, startWsGateway, type RunningWsGateway } from './ws-gateway';

export interface LocalStack {
  readonly config: LocalConfig;
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly databaseUrl: string;
  readonly queue: QueueInfo;
  readonly sqsEndpoint: string;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly identity: LocalIdentity;
  readonly eventSource: SqsEventSource;
  /** The functions' execution environments. */
  readonly functions: LocalFunctions;
  readonly ws: RunningWsGateway;
  /** A client for the embedded queue (tests and tools). */
  readonly sqs: SQSClient;
  readonly pool: pg.Pool;
  /** Stops everything: uploads first, then drains the queue, then the rest. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Progress lines for the console. */
  readonly log?: (line: string) => void;
  /** How long a stop waits for the queue to empty before spooling the rest. */
  readonly drainTimeoutMs?: number;
  /** The WebSocket idle timeout (API Gateway: 10 minutes). */
  readonly wsIdleTimeoutMs?: number;
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

    // Storage.
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      log('starting PostgreSQL (embedded)…');
      const postgres = await startPostgres({ dataDir: path.join(config.DATA_DIR, 'postgres'), port: config.PG_PORT, log });
      stoppers.push({ name: 'PostgreSQL', stop: postgres.stop });
      databaseUrl = postgres.info.databaseUrl;
    }
    // For tools and tests that look at the stored rows; the functions open their own pools.
    const pool = createPool({ connection: databaseUrl, max: 2 });
    stoppers.push({ name: 'database pool', stop: () => pool.end() });

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
      log('starting SQS (fauxqs) and DynamoDB (dynalite)…');
      queue = await startQueue({ port: config.SQS_PORT, ...queueSettings });
      stoppers.push({ name: 'SQS', stop: queue.stop });
      table = await startConnectionsTable({ port: config.DYNAMODB_PORT });
      stoppers.push({ name: 'DynamoDB', stop: table.stop });
    }

    const sqs = localSqsClient(queue.info.endpoint);
    stoppers.push({ name: 'SQS client', stop: async () => sqs.destroy() });
    const spoolFile = path.join(config.DATA_DIR, 'queue-spool.json');
    // LocalStack keeps its own queue while it runs; only the embedded one needs the spool.
    const restored = compose ? { queue: 0, dlq: 0 } : await restoreSpool(spoolFile, sqs, queue.info);
    if (restored.queue + restored.dlq > 0) log(`restored from the queue spool: ${restored.queue} queued, ${restored.dlq} in the DLQ`);

    // Identity: the issuer is the HTTP gateway, which also serves the JWKS and the Cognito API.
    const httpPort = config.PORT || (await freePort());
    const wsPort = config.WS_PORT || (await freePort());
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const identity = await LocalIdentity.create({
      issuer: httpUrl,
      audience: config.JWT_AUDIENCE,
      users: [{ username: config.LOCAL_USERNAME, password: config.LOCAL_PASSWORD, admin: config.LOCAL_USER_IS_ADMIN }],
      keyFile: path.join(config.DATA_DIR, 'identity-key.json'),
    });
    // The HTTP API's JWT authorizer is the gateway's job, not a function's.
    const verifier = new JwtVerifier({ issuer: httpUrl, audience: config.JWT_AUDIENCE, jwksUrl: `${httpUrl}/.well-known/jwks.json` });

    // The functions: the catalogue's modules, built as they deploy, each in its own environments.
    const resources: LocalResources = {
      sqsEndpoint: queue.info.endpoint,
      queueUrl: queue.info.queueUrl,
      dynamoEndpoint: table.info.endpoint,
      connectionsTable: table.info.tableName,
      managementEndpoint: `http://${reachableHost(config.WS_BIND_HOST)}:${wsPort}/${WS_STAGE}`,
      databaseUrl,
      issuer: httpUrl,
      audience: config.JWT_AUDIENCE,
      jwksUrl: `${httpUrl}/.well-known/jwks.json`,
      cognitoEndpoint: httpUrl,
    };
    const bundles = await bundling;
    if (bundles.built) log('functions bundled');
    const functions = new LocalFunctions({
      bundles,
      resources,
      maxEnvironments: config.FUNCTION_CONCURRENCY,
      idleTimeoutMs: config.FUNCTION_IDLE_TIMEOUT_S * 1000,
      overrides: { 'batch-writer': { maxEnvironments: config.MAX_CONCURRENCY, timeoutMs: config.WRITER_TIMEOUT_MS } },
      ...(options.functionOutput ? { output: options.functionOutput } : {}),
    });
    stoppers.push({ name: 'functions', stop: () => functions.stop() });

    // The schema, by the deploy-time migration function, as CloudFormation runs it on AWS.
    const migration = await functions.runCustomResource('migrate');
    log(migration.Applied && migration.Applied !== 'none' ? `migrations applied: ${migration.Applied}` : 'schema up to date');

    const ws = await startWsGateway({
      port: wsPort,
      host: config.WS_BIND_HOST,
      log,
      ...(options.wsIdleTimeoutMs ? { idleTimeoutMs: options.wsIdleTimeoutMs } : {}),
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

    const drainAndSpool = async () => {
      await waitForEmptyQueue(sqs, queue.info.queueUrl, options.drainTimeoutMs ?? 10_000);
      await eventSource.stop();
      if (compose) return;
      const saved = await saveSpool(spoolFile, queue.info.endpoint, queue.info);
      if (saved.queue + saved.dlq > 0) log(`saved to the queue spool for the next start: ${saved.queue} queued, ${saved.dlq} in the DLQ`);
    };
    // Runs after the HTTP gateway has stopped taking uploads (stoppers run in reverse).
    stoppers.push({ name: 'queue drain', stop: drainAndSpool });

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
      handlers: functions.handlers(['http']),
    });
    stoppers.push({ name: 'HTTP gateway', stop: http.stop });

    // Where the running stack is: for tools such as `npm run dlq`, and in the shape of
    // `cdk deploy --outputs-file` for `npm run smoke` (both removed again at stop).
    await mkdir(config.DATA_DIR, { recursive: true });
    const runtimeFile = path.join(config.DATA_DIR, RUNTIME_FILE);
    await writeFile(runtimeFile, JSON.stringify({ httpUrl: http.url, wsUrl: ws.url, sqsEndpoint: queue.info.endpoint, queueUrl: queue.info.queueUrl, dlqUrl: queue.info.dlqUrl }, null, 2));
    const outputsFile = path.join(config.DATA_DIR, OUTPUTS_FILE);
    await writeFile(outputsFile, JSON.stringify(localOutputs({ httpUrl: http.url, wsUrl: ws.url, clientId: config.JWT_AUDIENCE, queue: queue.info }), null, 2));
    stoppers.push({ name: 'runtime files', stop: () => Promise.all([rm(runtimeFile, { force: true }), rm(outputsFile, { force: true })]) });

    let stopping: Promise<void> | undefined;
    return {
      config,
      httpUrl: http.url,
      wsUrl: ws.url,
      databaseUrl,
      queue: queue.info,
      sqsEndpoint: queue.info.endpoint,
      dynamoEndpoint: table.info.endpoint,
      tableName: table.info.tableName,
      identity,
      eventSource,
      functions,
      ws,
      sqs,
      pool,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The running stack's endpoints, in DATA_DIR while it runs. */
export const RUNTIME_FILE = 'local-stack.json';

/** The running stack's outputs, in DATA_DIR while it runs, shaped as `cdk deploy --outputs-file` writes them. */
export const OUTPUTS_FILE = 'outputs.json';

/** The stack name in OUTPUTS_FILE. */
export const LOCAL_STACK_NAME = 'DataHandlerLocal';

function localOutputs(p: { httpUrl: string; wsUrl: string; clientId: string; queue: QueueInfo }) {
  return {
    [LOCAL_STACK_NAME]: {
      HttpApiUrl: `${p.httpUrl}/`,
      WebSocketUrl: p.wsUrl,
      UserPoolClientId: p.clientId,
      DeadLetterQueueUrl: p.queue.dlqUrl,
    },
  };
}

const WEB_DIR = fileURLToPath(new URL('../web', import.meta.url));

/** The dashboard's files by name; only these are served, so no path can escape the folder. */
function dashboardFiles(): Record<string, string> {
  return Object.fromEntries(readdirSync(WEB_DIR).filter((f) => /\.(html|js|css)$/.test(f)).map((f) => [f, path.join(WEB_DIR, f)]));
}

/** Waits until no message is visible or in flight, or the timeout passes. */
async function waitForEmptyQueue(sqs: SQSClient, queueUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const attrs = (
      await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      )
    ).Attributes ?? {};
    const left =
      Number(attrs.ApproximateNumberOfMessages ?? 0) +
      Number(attrs.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(attrs.ApproximateNumberOfMessagesDelayed ?? 0);
    if (left === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
