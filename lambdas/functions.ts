/**
 * The catalogue of the system's functions: for each, its module, the environment schema it
 * reads at cold start, what it is wired to, its fixed settings and its trigger. The CDK
 * constructs (lib/) and the local runtime (local/) both build every function from this one
 * table, so the two cannot drift apart.
 *
 * Imports nothing but schemas and route tables: the CDK app and the local runtime load this
 * file, never a handler module.
 */
import type * as z from 'zod/mini';
import { HTTP_ROUTES, WEBSOCKET_API, type FunctionName, type HttpRoute } from './routes';
import {
  AuthEnv,
  AuthTokenEnv,
  ConnectionsEnv,
  HealthEnv,
  IngestEnv,
  MaintainEnv,
  MigrateEnv,
  NoEnv,
  PipelineStatusEnv,
  PushEnv,
  QueryEnv,
  WriterEnv,
} from './shared/env';

export type { FunctionName } from './routes';

/**
 * What a function is wired to. Each side turns a binding into environment variables (and, on
 * AWS, into an IAM grant and network access):
 * - `enqueue-records`: QUEUE_URL; may send to the record queue.
 * - `database-owner` / `database-writer` / `database-reader`: the database, as the role the
 *   binding names (see DatabaseRole): DATABASE_URL locally; DATABASE_HOST/PORT/NAME/SSL on AWS
 *   and DATABASE_SECRET_ARN, the role's secret, which it may read (and no other).
 * - `create-database-roles`: the writer's and the reader's passwords, to create those roles:
 *   their secrets' ARNs on AWS (DATABASE_WRITER_SECRET_ARN, DATABASE_READER_SECRET_ARN), which
 *   it may read; the passwords themselves locally.
 * - `register-connections` / `unregister-connections`: CONNECTIONS_TABLE; may put / delete.
 * - `push-to-connections`: CONNECTIONS_TABLE and CONNECTIONS_ENDPOINT; may scan, read, update
 *   (to note and take missed frames) and delete connections, and post to them.
 * - `verify-tokens`: JWT_ISSUER, JWT_AUDIENCE (and JWKS_URL locally).
 * - `log-in-users`: COGNITO_CLIENT_ID; Cognito's InitiateAuth (locally, the local identity
 *   speaks that API).
 * - `count-failed-logins`: LOGIN_ATTEMPTS_TABLE; may get, put, update and delete its items.
 * - `claim-idempotency-keys`: IDEMPOTENCY_KEYS_TABLE; may get, put and update its items.
 * - `report-missed`: CONNECTIONS_TABLE and CONNECTIONS_ENDPOINT; may update connections (to
 *   take what one is owed) and post to them.
 * - `delay-redelivery`: QUEUE_MAX_RECEIVE_COUNT, the receives before the triggering queue moves a
 *   message to its DLQ (the queue itself is each message's `eventSourceARN`); may change the
 *   visibility of the messages of that queue (sqs:ChangeMessageVisibility), to hand a batch
 *   back with a delay.
 * - `note-pipeline-state`: PIPELINE_STATE_TABLE; may put its items (the writer's last batch and
 *   failure).
 * - `read-pipeline-status`: PIPELINE_STATE_TABLE, QUEUE_URL and DEAD_LETTER_QUEUE_URL; may get
 *   the table's items, and read the two queues' attributes (sqs:GetQueueAttributes).
 * - `keep-partitions`: how the time-partitioned tables are kept (RetentionSettings in
 *   shared/env.ts: PARTITION_SIZE, PARTITIONS_AHEAD, RETENTION_DAYS, ROLLUP_RETENTION_DAYS), as
 *   the deployment sets them; no grant beyond the database binding's.
 */
export type Binding =
  | 'enqueue-records'
  | 'database-owner'
  | 'database-writer'
  | 'database-reader'
  | 'create-database-roles'
  | 'register-connections'
  | 'unregister-connections'
  | 'push-to-connections'
  | 'verify-tokens'
  | 'log-in-users'
  | 'count-failed-logins'
  | 'claim-idempotency-keys'
  | 'delay-redelivery'
  | 'report-missed'
  | 'note-pipeline-state'
  | 'read-pipeline-status'
  | 'keep-partitions';

/**
 * Who a function is in PostgreSQL: `owner` runs the migrations (on AWS the RDS master user);
 * `writer` (data_handler_writer) inserts records and notes refusals; `reader`
 * (data_handler_reader) only reads records. See lambdas/adapters/pg-roles.ts.
 */
export type DatabaseRole = 'owner' | 'writer' | 'reader';

const DATABASE_BINDINGS = {
  'database-owner': 'owner',
  'database-writer': 'writer',
  'database-reader': 'reader',
} as const satisfies Partial<Record<Binding, DatabaseRole>>;

/** The role a function connects to the database as, or undefined when it has no database binding. */
export function databaseRoleOf(spec: Pick<FunctionSpec, 'bindings'>): DatabaseRole | undefined {
  const binding = spec.bindings.find((b): b is keyof typeof DATABASE_BINDINGS => b in DATABASE_BINDINGS);
  return binding && DATABASE_BINDINGS[binding];
}

/** What invokes a function. */
export type Trigger =
  | { readonly kind: 'http'; readonly routes: readonly HttpRoute[] }
  | { readonly kind: 'websocket-authorizer'; readonly tokenQueryParameter: string }
  | { readonly kind: 'websocket-route'; readonly route: string }
  | {
      readonly kind: 'queue';
      /** Messages per invocation (Lambda: 1–10,000). */
      readonly batchSize: number;
      /** How long the event source gathers a batch (Lambda: 0–300 s). */
      readonly batchWindowSeconds: number;
      readonly reportBatchItemFailures: true;
    }
  | { readonly kind: 'custom-resource' }
  | {
      readonly kind: 'schedule';
      /** Minutes between invocations (an EventBridge rate; locally MAINTENANCE_INTERVAL_MS). */
      readonly everyMinutes: number;
    };

export interface FunctionSpec {
  readonly name: FunctionName;
  /** The module, relative to the repository: it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  /** Every variable the function reads, checked when its environment starts. */
  readonly env: z.ZodMiniObject;
  readonly bindings: readonly Binding[];
  /**
   * Fixed settings, the same on AWS and locally (string values, as environment variables are).
   * A binding's variables are not repeated here.
   */
  readonly settings: Readonly<Record<string, string>>;
  readonly trigger: Trigger;
  /** @default 512 */
  readonly memoryMb: number;
  /** @default 10 */
  readonly timeoutSeconds: number;
  /** Runs inside the VPC, beside the database. */
  readonly inVpc: boolean;
}

type SpecInput = Omit<FunctionSpec, 'name' | 'entry' | 'memoryMb' | 'timeoutSeconds' | 'inVpc' | 'settings' | 'trigger'> &
  Partial<Pick<FunctionSpec, 'memoryMb' | 'timeoutSeconds' | 'inVpc' | 'settings'>>;

function spec(name: FunctionName, trigger: Trigger, input: SpecInput): FunctionSpec {
  return {
    name,
    entry: `lambdas/handlers/${name}.ts`,
    memoryMb: 512,
    timeoutSeconds: 10,
    inVpc: false,
    settings: {},
    trigger,
    ...input,
  };
}

const http = (name: FunctionName): Trigger => ({ kind: 'http', routes: HTTP_ROUTES.filter((r) => r.function === name) });
const wsRoute = (route: keyof typeof WEBSOCKET_API.routes): Trigger => ({ kind: 'websocket-route', route });

/** The largest accepted upload body in bytes (the ingest function's MAX_BODY_BYTES). */
export const MAX_UPLOAD_BYTES = 1024 * 1024;

/** Database connections each writer environment holds at most (DATABASE_POOL_MAX). */
export const FUNCTION_POOL_SIZE = 2;

/**
 * Database connections each reader environment holds at most. An environment serves one request
 * at a time, and each reader runs one statement at a time (a page, a series, or the analysis's
 * cursor), so a second connection would only ever sit idle, held from the writers' budget.
 */
export const READER_POOL_SIZE = 1;

/** How often the maintenance function runs on AWS, in minutes (locally MAINTENANCE_INTERVAL_MS, an hour too). */
export const MAINTENANCE_EVERY_MINUTES = 60;

/** The batch writer's timeout; the queue's visibility timeout is six times it. */
export const WRITER_TIMEOUT_SECONDS = 30;

/**
 * Receives of a record message before it moves to the DLQ. The writer's retry schedule
 * (lambdas/core/redelivery.ts) rides out an outage of 20.5 minutes over these 5 receives.
 */
export const QUEUE_MAX_RECEIVE_COUNT = 5;

/** The batch writer's event source: batch size and batching window, as deployed by default. */
export const WRITER_EVENT_SOURCE = { kind: 'queue', batchSize: 1000, batchWindowSeconds: 1, reportBatchItemFailures: true } as const satisfies Trigger;

/** The reader functions' timeout: just under the HTTP API's 30 s integration limit. */
const READER_TIMEOUT_SECONDS = 29;

/**
 * The functions that read records as the reader role, each environment holding a pool of
 * READER_POOL_SIZE: the readers of the connection budget (lib/constructs/batch-writer.ts
 * maxConcurrencyFor). The health function connects as the reader role too, but holds no pool
 * (see its entry below).
 */
export const RECORD_READERS = ['records-query', 'records-series', 'swing-analyze'] as const satisfies readonly FunctionName[];

/** A read function of the HTTP API: in the VPC beside the database, with a small pool. */
function reader(name: (typeof RECORD_READERS)[number], description: string): FunctionSpec {
  return spec(name, http(name), {
    description,
    env: QueryEnv,
    bindings: ['database-reader'],
    settings: { DATABASE_POOL_MAX: String(READER_POOL_SIZE) },
    memoryMb: 1024,
    timeoutSeconds: READER_TIMEOUT_SECONDS,
    inVpc: true,
  });
}

export const FUNCTIONS = {
  ingest: spec('ingest', http('ingest'), {
    description: 'Validates records and puts them on the queue, refusing reused idempotency keys',
    env: IngestEnv,
    bindings: ['enqueue-records', 'claim-idempotency-keys'],
    settings: { MAX_BODY_BYTES: String(MAX_UPLOAD_BYTES) },
  }),
  'records-query': reader('records-query', 'Pages through stored records of a time window'),
  'records-series': reader('records-series', 'Count, min, max and average of data per time bucket of a window'),
  'swing-analyze': reader('swing-analyze', 'The swing analysis of a time window'),
  'pipeline-status': spec('pipeline-status', http('pipeline-status'), {
    description: "Reads the queues' counts and the writer's last batch and failure, for admins",
    env: PipelineStatusEnv,
    bindings: ['read-pipeline-status'],
    memoryMb: 256,
  }),
  openapi: spec('openapi', http('openapi'), {
    description: "Serves the HTTP API's OpenAPI document",
    env: NoEnv,
    bindings: [],
    memoryMb: 256,
  }),
  'auth-token': spec('auth-token', http('auth-token'), {
    description: 'Logs in with the Cognito app client, within the failed-login limit',
    env: AuthTokenEnv,
    bindings: ['log-in-users', 'count-failed-logins'],
  }),
  // Readiness: a new database session as the reader role (least privilege), from the VPC like
  // the readers, with no reserved concurrency. Its connection budget: an environment holds no
  // connection between probes, and one during a probe (connect, SELECT 1, close: 3 s at most,
  // HEALTH_CONNECT_TIMEOUT_MS + HEALTH_QUERY_TIMEOUT_MS), which runs once per HEALTH_REUSE_MS
  // (1 s) at most; it comes out of the connections kept free of all functions, not the writers'.
  // 256 MB rather than 128: a cold probe makes two TLS handshakes (Secrets Manager, then the
  // proxy) inside its 1.5 s connect timeout, and Lambda's CPU share grows with memory.
  health: spec('health', http('health'), {
    description: 'Answers 200 when a new database session answers SELECT 1 in time, 503 when not',
    env: HealthEnv,
    bindings: ['database-reader'],
    memoryMb: 256,
    inVpc: true,
  }),
  'batch-writer': spec(
    'batch-writer',
    WRITER_EVENT_SOURCE,
    {
      description: 'Stores record batches in PostgreSQL and pushes them to monitors',
      env: WriterEnv,
      bindings: ['database-writer', 'push-to-connections', 'delay-redelivery', 'note-pipeline-state'],
      settings: { DATABASE_POOL_MAX: String(FUNCTION_POOL_SIZE), PUSH_CONCURRENCY: '16' },
      memoryMb: 1024,
      timeoutSeconds: WRITER_TIMEOUT_SECONDS,
      inVpc: true,
    },
  ),
  'ws-authorizer': spec(
    'ws-authorizer',
    { kind: 'websocket-authorizer', tokenQueryParameter: WEBSOCKET_API.tokenQueryParameter },
    { description: 'Checks the token of a monitor that connects', env: AuthEnv, bindings: ['verify-tokens'] },
  ),
  'ws-connect': spec('ws-connect', wsRoute('$connect'), {
    description: 'Records a monitoring connection',
    env: ConnectionsEnv,
    bindings: ['register-connections'],
  }),
  'ws-disconnect': spec('ws-disconnect', wsRoute('$disconnect'), {
    description: 'Forgets a monitoring connection',
    env: ConnectionsEnv,
    bindings: ['unregister-connections'],
  }),
  'ws-default': spec('ws-default', wsRoute('$default'), {
    description: 'Answers pings from monitors, and reports frames a monitor missed',
    env: PushEnv,
    bindings: ['report-missed'],
  }),
  migrate: spec('migrate', { kind: 'custom-resource' }, {
    description: 'Applies the versioned schema migrations',
    env: MigrateEnv,
    bindings: ['database-owner', 'create-database-roles'],
    settings: { MIGRATIONS_DIR: '/var/task/migrations' },
    timeoutSeconds: 300,
    inVpc: true,
  }),
  // As the owner: it creates and drops partitions. Its steps are short transactions with a
  // lock_timeout; the timeout leaves room for a retention drop of many partitions at once.
  maintain: spec('maintain', { kind: 'schedule', everyMinutes: MAINTENANCE_EVERY_MINUTES }, {
    description: 'Makes the time partitions ahead of time and drops those past the retention',
    env: MaintainEnv,
    bindings: ['database-owner', 'keep-partitions'],
    timeoutSeconds: 120,
    inVpc: true,
  }),
} as const satisfies Record<FunctionName, FunctionSpec>;

/** Every function, in catalogue order. */
export const FUNCTION_SPECS: readonly FunctionSpec[] = Object.values(FUNCTIONS);

/** The spec of one function. */
export function functionSpec(name: FunctionName): FunctionSpec {
  return FUNCTIONS[name];
}
