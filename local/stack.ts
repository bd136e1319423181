/**
 * The whole system on one machine: embedded PostgreSQL, SQS and DynamoDB, the HTTP and
 * WebSocket gateways, the SQS event source, and the local identity, all wired to the same
 * handler modules that run on AWS.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { ApiGatewayBroadcaster } from '../lambdas/adapters/apigw-broadcaster';
import { DynamoConnectionRegistry } from '../lambdas/adapters/dynamo-connection-registry';
import { JwtVerifier } from '../lambdas/adapters/jwt-verifier';
import { migrateUp } from '../lambdas/adapters/migrations';
import { PgRecordReader } from '../lambdas/adapters/pg-record-reader';
import { createPool, PgRecordStore } from '../lambdas/adapters/pg-record-store';
import { SqsRecordQueue } from '../lambdas/adapters/sqs-record-queue';
import { makeAuthTokenHandler } from '../lambdas/handlers/auth-token';
import { makeBatchWriterHandler } from '../lambdas/handlers/batch-writer';
import { makeHealthHandler } from '../lambdas/handlers/health';
import { makeIngestHandler } from '../lambdas/handlers/ingest';
import { makeRecordsQueryHandler } from '../lambdas/handlers/records-query';
import { makeSwingAnalyzeHandler } from '../lambdas/handlers/swing-analyze';
import { makeWsAuthorizerHandler } from '../lambdas/handlers/ws-authorizer';
import { makeWsConnectHandler } from '../lambdas/handlers/ws-connect';
import { makeWsDefaultHandler } from '../lambdas/handlers/ws-default';
import { makeWsDisconnectHandler } from '../lambdas/handlers/ws-disconnect';
import type { LocalConfig } from './config';
import { startHttpGateway } from './http-gateway';
import { LocalIdentity } from './identity';
import type { LambdaHandler } from './invoke';
import {
  freePort,
  localDocumentClient,
  localManagementClient,
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
import { startWsGateway, type RunningWsGateway } from './ws-gateway';

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
    // Storage.
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      log('starting PostgreSQL (embedded)…');
      const postgres = await startPostgres({ dataDir: path.join(config.DATA_DIR, 'postgres'), port: config.PG_PORT, log });
      stoppers.push({ name: 'PostgreSQL', stop: postgres.stop });
      databaseUrl = postgres.info.databaseUrl;
    }
    const ran = await migrateUp(databaseUrl);
    log(ran.length ? `migrations applied: ${ran.join(', ')}` : 'schema up to date');
    const pool = createPool({ connection: databaseUrl, max: config.MAX_CONCURRENCY + 2 });
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
    const documents = localDocumentClient(table.info.endpoint);
    stoppers.push({ name: 'DynamoDB client', stop: async () => documents.destroy() });
    const registry = new DynamoConnectionRegistry(documents, table.info.tableName);

    // Identity: the issuer is the HTTP gateway, which also serves the JWKS.
    const httpPort = config.PORT || (await freePort());
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const identity = await LocalIdentity.create({
      issuer: httpUrl,
      audience: config.JWT_AUDIENCE,
      users: [{ username: config.LOCAL_USERNAME, password: config.LOCAL_PASSWORD, admin: config.LOCAL_USER_IS_ADMIN }],
      keyFile: path.join(config.DATA_DIR, 'identity-key.json'),
    });
    const verifier = new JwtVerifier({ issuer: httpUrl, audience: config.JWT_AUDIENCE, jwksUrl: `${httpUrl}/.well-known/jwks.json` });

    const ws = await startWsGateway({
      port: config.WS_PORT,
      log,
      ...(options.wsIdleTimeoutMs ? { idleTimeoutMs: options.wsIdleTimeoutMs } : {}),
      handlers: {
        'ws-authorizer': makeWsAuthorizerHandler({ verifier }) as LambdaHandler,
        'ws-connect': makeWsConnectHandler({ registry }) as LambdaHandler,
        'ws-disconnect': makeWsDisconnectHandler({ registry }) as LambdaHandler,
        'ws-default': makeWsDefaultHandler() as LambdaHandler,
      },
    });
    stoppers.push({ name: 'WebSocket gateway', stop: ws.stop });

    const management = localManagementClient(ws.managementEndpoint);
    stoppers.push({ name: 'management client', stop: async () => management.destroy() });
    const queueArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.info.queueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes!.QueueArn!;
    const eventSource = new SqsEventSource({
      sqs,
      queueUrl: queue.info.queueUrl,
      queueArn,
      handler: makeBatchWriterHandler({
        store: new PgRecordStore(pool),
        fanout: { registry, broadcaster: new ApiGatewayBroadcaster(management) },
      }) as LambdaHandler as never,
      batchSize: config.BATCH_SIZE,
      batchWindowMs: config.BATCH_WINDOW_MS,
      maxConcurrency: config.MAX_CONCURRENCY,
      functionTimeoutMs: config.WRITER_TIMEOUT_MS,
      log,
    });
    eventSource.start();
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

    const reader = new PgRecordReader(pool);
    const http = await startHttpGateway({
      port: httpPort,
      verifier,
      log,
      staticJson: {
        '/.well-known/jwks.json': () => identity.jwks,
        // Where the dashboard finds the APIs.
        '/config.json': () => ({ httpUrl: `${httpUrl}/`, wsUrl: ws.url }),
      },
      staticFiles: dashboardFiles(),
      handlers: {
        ingest: makeIngestHandler({ queue: new SqsRecordQueue(sqs, queue.info.queueUrl), maxBodyBytes: 1024 * 1024 }) as LambdaHandler,
        'auth-token': makeAuthTokenHandler({ issuer: identity }) as LambdaHandler,
        health: makeHealthHandler() as LambdaHandler,
        'records-query': makeRecordsQueryHandler({ reader }) as LambdaHandler,
        'swing-analyze': makeSwingAnalyzeHandler({ reader }) as LambdaHandler,
      },
    });
    stoppers.push({ name: 'HTTP gateway', stop: http.stop });

    // Where the running stack is, for tools such as `npm run dlq` (removed again at stop).
    const runtimeFile = path.join(config.DATA_DIR, RUNTIME_FILE);
    await mkdir(config.DATA_DIR, { recursive: true });
    await writeFile(runtimeFile, JSON.stringify({ httpUrl: http.url, wsUrl: ws.url, sqsEndpoint: queue.info.endpoint, queueUrl: queue.info.queueUrl, dlqUrl: queue.info.dlqUrl }, null, 2));
    stoppers.push({ name: 'runtime file', stop: () => rm(runtimeFile, { force: true }) });

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
