/**
 * Per-file resources on the shared embedded services: a migrated database, a queue with its
 * DLQ, a connections table. Names are random, so test files never see each other's data.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migrateUp } from '../../lambdas/adapters/migrations';
import {
  createDatabase,
  localDocumentClient,
  localSqsClient,
  provisionConnectionsTable,
  provisionIdempotencyKeysTable,
  provisionLoginAttemptsTable,
  provisionPipelineStateTable,
  provisionQueues,
} from '../../local/services';

const suffix = () => randomBytes(4).toString('hex');

/** A new database with the schema migrated; resolves with its URL. */
export async function freshDatabase(): Promise<string> {
  const url = await createDatabase(inject('adminDatabaseUrl'), `t_${suffix()}`);
  await migrateUp(url);
  return url;
}

export function sqsClient(): SQSClient {
  return localSqsClient(inject('sqsEndpoint'));
}

/** A new queue with a DLQ after `maxReceiveCount` receives, made the way the local stack makes its own. */
/** Counts the requests `client` sends, by command name (`ReceiveMessageCommand`, …), from now on. */
export function requestCounter(client: SQSClient): (commandName: string) => number {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'countRequests' },
  );
  return (commandName) => counts.get(commandName) ?? 0;
}

export async function freshQueue(sqs: SQSClient, options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {}) {
  const info = await provisionQueues(inject('sqsEndpoint'), {
    queueName: `q-${suffix()}`,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
    maxReceiveCount: options.maxReceiveCount ?? 3,
  });
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: info.queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  return { queueUrl: info.queueUrl, dlqUrl: info.dlqUrl, queueArn };
}

export function documentClient(): DynamoDBDocumentClient {
  return localDocumentClient(inject('dynamoEndpoint'));
}

/** A new connections table, made the way the local stack makes its own. */
export async function freshTable(): Promise<string> {
  return provisionConnectionsTable(inject('dynamoEndpoint'), `connections-${suffix()}`);
}

/**
 * A new login-attempts table, keyed as the deployed one (lambdas/core/login-limit.ts).
 * Until local/services.ts provisions this table for the local stack, tests make it here.
 */
export async function freshLoginAttemptsTable(): Promise<string> {
  return provisionLoginAttemptsTable(inject('dynamoEndpoint'), `login-attempts-${suffix()}`);
}

/** A new pipeline-state table, made the way the local stack makes its own. */
export async function freshPipelineStateTable(): Promise<string> {
  return provisionPipelineStateTable(inject('dynamoEndpoint'), `pipeline-state-${suffix()}`);
}

/** A new Idempotency-Keys table, made the way the local stack makes its own. */
export async function freshIdempotencyKeysTable(): Promise<string> {
  return provisionIdempotencyKeysTable(inject('dynamoEndpoint'), `idempotency-keys-${suffix()}`);
}

/**
 * Runs one statement on a client of its own, connected to `connection` (a URL, or a whole client
 * configuration) and closed after; resolves with the rows.
 */
export async function queryOnce<R extends pg.QueryResultRow>(connection: string | pg.ClientConfig, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client(typeof connection === 'string' ? { connectionString: connection } : connection);
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}
