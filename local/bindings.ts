/**
 * Each function's environment on this machine, from the catalogue: its fixed settings, and
 * its bindings turned into variables that point at the local services, as the CDK stack turns
 * them into variables that point at AWS resources. The SDK finds the local services through
 * its standard AWS_ENDPOINT_URL_* variables, so no function code knows it runs locally.
 */
import type { MessagePort } from 'node:worker_threads';
import path from 'node:path';
import { databaseRoleOf, type Binding, type FunctionName, type FunctionSpec } from '../lambdas/functions';
import { readEnv } from '../lambdas/shared/env';
import { PROJECT_ROOT } from '../lib/bundling';

/** Credentials for the embedded services only. They guard nothing and never leave 127.0.0.1. */
export const LOCAL_AWS_CREDENTIALS = { accessKeyId: 'local-only', secretAccessKey: 'local-only' } as const;
export const LOCAL_REGION = 'us-east-1';

/**
 * The database as each role reaches it (see DatabaseRole in lambdas/functions.ts): the owner's
 * URL, and the writer's and readers' URLs with their roles' credentials (the owner's, when the
 * roles cannot be used; see local/database-roles.ts).
 */
export interface LocalDatabase {
  readonly owner: string;
  readonly writer: string;
  readonly reader: string;
  /**
   * The roles' passwords, which the owner (the migrate function) creates the roles with.
   * @default - none: the migrate function makes no roles
   */
  readonly rolePasswords?: { readonly writer: string; readonly reader: string };
}

/** Where the local resources are. */
export interface LocalResources {
  readonly sqsEndpoint: string;
  /**
   * A new channel to the embedded queue's thread for each environment of the ingest function,
   * which sends its records over it (queue-channel.ts). @default - none: over SQS's API
   */
  readonly sqsChannel?: () => MessagePort | undefined;
  /**
   * A new channel to the WebSocket gateway for each environment of a function that pushes to
   * monitors, which posts its frames over it (ws-management.ts). @default - none: over the
   * `@connections` HTTP API
   */
  readonly postChannel?: () => MessagePort | undefined;
  readonly queueUrl: string;
  /** The record queue's dead-letter queue. */
  readonly deadLetterQueueUrl: string;
  /** Receives before the record queue moves a message to its DLQ (its redrive policy). */
  readonly queueMaxReceiveCount: number;
  /** The writer's waits after a failed store, when not the deployed schedule (tests shorten it). */
  readonly storeRetryDelaysS?: readonly number[];
  /** The writer's notes for GET /api/pipeline/status. */
  readonly pipelineStateTable: string;
  readonly dynamoEndpoint: string;
  readonly connectionsTable: string;
  /**
   * The failed-login table of the login function. @default - none: the function counts failed
   * logins in its own memory
   */
  readonly loginAttemptsTable?: string;
  /**
   * The Idempotency-Keys table of the ingest function. @default - none: the function keeps
   * claimed keys in its own memory
   */
  readonly idempotencyKeysTable?: string;
  /** The WebSocket gateway's management API (`http://127.0.0.1:port/stage`). */
  readonly managementEndpoint: string;
  readonly database: LocalDatabase;
  /** The local identity: token issuer, audience (the app client id) and Cognito-compatible API. */
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  readonly cognitoEndpoint: string;
  /** How the time-partitioned tables are kept (RetentionSettings), as variables. */
  readonly partitions: Readonly<Record<string, string>>;
}

/**
 * Any AWS call that no local service answers goes here and is refused at once: nothing a
 * function does locally can reach a real AWS account.
 */
const NOWHERE = 'http://127.0.0.1:1';

/** Variables of this process that reach every function (log levels, metrics switch). */
const PASSED_THROUGH = ['LOG_LEVEL', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_DISABLED', 'POWERTOOLS_DEV', 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'];

/**
 * Settings that differ locally because the files are elsewhere: on Lambda the migrations sit
 * beside the bundle in /var/task; here they are the repository's.
 */
const LOCAL_SETTINGS: Partial<Record<FunctionName, Record<string, string>>> = {
  migrate: { MIGRATIONS_DIR: path.join(PROJECT_ROOT, 'migrations') },
};

function bindingVariables(binding: Binding, r: LocalResources): Record<string, string> {
  switch (binding) {
    case 'enqueue-records':
      return { QUEUE_URL: r.queueUrl };
    case 'database-owner':
      return { DATABASE_URL: r.database.owner };
    case 'create-database-roles': {
      const passwords = r.database.rolePasswords;
      return passwords ? { DATABASE_WRITER_PASSWORD: passwords.writer, DATABASE_READER_PASSWORD: passwords.reader } : {};
    }
    case 'keep-partitions':
      return r.partitions;
    case 'database-writer':
      return { DATABASE_URL: r.database.writer };
    case 'database-reader':
      return { DATABASE_URL: r.database.reader };
    case 'register-connections':
    case 'unregister-connections':
      return { CONNECTIONS_TABLE: r.connectionsTable };
    case 'push-to-connections':
    case 'report-missed':
      return { CONNECTIONS_TABLE: r.connectionsTable, CONNECTIONS_ENDPOINT: r.managementEndpoint };
    case 'verify-tokens':
      return { JWT_ISSUER: r.issuer, JWT_AUDIENCE: r.audience, JWKS_URL: r.jwksUrl };
    case 'log-in-users':
      return { COGNITO_CLIENT_ID: r.audience };
    case 'count-failed-logins':
      return r.loginAttemptsTable ? { LOGIN_ATTEMPTS_TABLE: r.loginAttemptsTable } : {};
    case 'claim-idempotency-keys':
      return r.idempotencyKeysTable ? { IDEMPOTENCY_KEYS_TABLE: r.idempotencyKeysTable } : {};
    case 'delay-redelivery':
      // The queue comes with each message (its eventSourceARN); the SQS endpoint is set above.
      return {
        QUEUE_MAX_RECEIVE_COUNT: String(r.queueMaxReceiveCount),
        ...(r.storeRetryDelaysS ? { STORE_RETRY_DELAYS_S: r.storeRetryDelaysS.join(',') } : {}),
      };
    case 'note-pipeline-state':
      return { PIPELINE_STATE_TABLE: r.pipelineStateTable };
    case 'read-pipeline-status':
      return { PIPELINE_STATE_TABLE: r.pipelineStateTable, QUEUE_URL: r.queueUrl, DEAD_LETTER_QUEUE_URL: r.deadLetterQueueUrl };
  }
}

/** The whole environment of one function on this machine; fails naming the function and variable. */
export function localEnvironment(spec: FunctionSpec, resources: LocalResources, source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL: NOWHERE,
    AWS_ENDPOINT_URL_SQS: resources.sqsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: resources.dynamoEndpoint,
    AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: resources.cognitoEndpoint,
    AWS_LAMBDA_FUNCTION_NAME: spec.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    POWERTOOLS_SERVICE_NAME: 'data-handler',
    POWERTOOLS_METRICS_NAMESPACE: 'DataHandler',
  };
  for (const name of PASSED_THROUGH) if (source[name] !== undefined) env[name] = source[name]!;
  Object.assign(env, spec.settings, ...spec.bindings.map((b) => bindingVariables(b, resources)), LOCAL_SETTINGS[spec.name]);
  // pg names each connection after its function, so pg_stat_activity shows who holds which.
  if (databaseRoleOf(spec)) env.PGAPPNAME = spec.name;
  try {
    readEnv(spec.env, env);
  } catch (error) {
    throw new Error(`${spec.name}: ${(error as Error).message}`);
  }
  return env;
}
