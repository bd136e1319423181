/**
 * Configuration, read from the environment once through a zod schema. A missing or bad
 * variable fails with a message that names it.
 *
 * Each function's wiring reads its configuration when its module's `handler` first runs
 * (once per execution environment), not at import: the handler factories must stay importable
 * by tests and by the local runtime without any configuration.
 */
import * as z from 'zod/mini';

const positiveInt = (fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.positive()), fallback);

const shared = {
  AWS_REGION: z._default(z.string(), 'us-east-1'),
};

/**
 * The upload function: its queue, its body limit, and the table of claimed Idempotency-Keys.
 * Without the table, claims are kept in the environment's memory (a local stack that
 * provisions none); the deployed stack always binds one.
 */
export const IngestEnv = z.object({
  ...shared,
  QUEUE_URL: z.url(),
  /** Largest accepted request body in bytes. */
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
  IDEMPOTENCY_KEYS_TABLE: z.optional(z.string().check(z.minLength(1))),
});

export const PushEnv = z.object({
  ...shared,
  CONNECTIONS_TABLE: z.string().check(z.minLength(1)),
  /** The WebSocket API's management endpoint, `https://{api}.execute-api.{region}.amazonaws.com/{stage}`. */
  CONNECTIONS_ENDPOINT: z.url(),
  PUSH_CONCURRENCY: positiveInt(16),
});

export const ConnectionsEnv = z.object({
  ...shared,
  CONNECTIONS_TABLE: z.string().check(z.minLength(1)),
});

/**
 * How a function reaches PostgreSQL (see shared/database.ts): a DATABASE_URL locally, or on
 * AWS the proxy or instance endpoint plus the Secrets Manager secret with the credentials.
 */
export const DatabaseEnv = z.object({
  DATABASE_URL: z.optional(z.string().check(z.minLength(1))),
  DATABASE_HOST: z.optional(z.string().check(z.minLength(1))),
  DATABASE_PORT: z._default(z.coerce.number().check(z.int(), z.positive()), 5432),
  DATABASE_NAME: z._default(z.string().check(z.minLength(1)), 'data_handler'),
  DATABASE_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  /** 'disable' locally; 'verify-full' against RDS (RDS Proxy, or the instance with the RDS CA loaded). */
  DATABASE_SSL: z._default(z.enum(['disable', 'require', 'verify-full']), 'disable'),
});
export type DatabaseEnv = z.infer<typeof DatabaseEnv>;

/** The writer: the database, the connections table and the management API. */
export const WriterEnv = z.object({
  ...PushEnv.shape,
  ...DatabaseEnv.shape,
  DATABASE_POOL_MAX: positiveInt(2),
  /**
   * Receives of a message before its queue moves it to the DLQ (the catalogue's
   * QUEUE_MAX_RECEIVE_COUNT, as the queue is configured): a failure on that receive is reported
   * as dead-lettered, not as retried.
   */
  QUEUE_MAX_RECEIVE_COUNT: positiveInt(5),
  /**
   * Seconds a message waits after a failed store, by receive count, comma-separated (the last
   * repeats). @default - STORE_RETRY_DELAYS_S (lambdas/core/redelivery.ts): 30,120,360,720,900
   */
  STORE_RETRY_DELAYS_S: z.optional(
    z.pipe(
      z.string().check(z.regex(/^\d+(,\d+)*$/, { error: 'must be whole seconds, comma-separated, such as 30,120,360' })),
      z.transform((value: string) => value.split(',').map(Number)),
    ),
  ),
  /** Where the writer notes its last batch and failure for GET /api/pipeline/status. @default - not noted */
  PIPELINE_STATE_TABLE: z.optional(z.string().check(z.minLength(1))),
});

/** The pipeline status function: the queue, the DLQ and the writer's notes. */
export const PipelineStatusEnv = z.object({
  ...shared,
  QUEUE_URL: z.url(),
  DEAD_LETTER_QUEUE_URL: z.url(),
  PIPELINE_STATE_TABLE: z.string().check(z.minLength(1)),
});

/** The query functions: the database. */
export const QueryEnv = z.object({
  ...DatabaseEnv.shape,
  DATABASE_POOL_MAX: positiveInt(1),
});

const milliseconds = (fallback: number, max: number) =>
  z._default(z.coerce.number().check(z.int(), z.positive(), z.lte(max)), fallback);

/**
 * The health function: the database (as the reader role), and its readiness probe. A probe
 * opens one new connection, runs `SELECT 1` and closes it; its verdict is reused for
 * HEALTH_REUSE_MS, so an environment opens one connection that often at most. The two timeouts
 * together (8 s at most) stay inside the function's 10 s timeout.
 */
export const HealthEnv = z.object({
  ...DatabaseEnv.shape,
  /** How long a new connection may take to be ready for a query: TCP, TLS and the login. */
  HEALTH_CONNECT_TIMEOUT_MS: milliseconds(1500, 4000),
  /** How long `SELECT 1` may take to answer on it. */
  HEALTH_QUERY_TIMEOUT_MS: milliseconds(1500, 4000),
  /** How long a verdict is reused (and concurrent calls share the probe in flight). */
  HEALTH_REUSE_MS: milliseconds(1000, 60_000),
});

/**
 * The deploy-time migration: the database (as its owner), where the SQL files are, and the
 * passwords of the application's roles, which it creates when they are missing
 * (lambdas/adapters/pg-roles.ts). On AWS the passwords are in the roles' secrets; locally
 * the local stack passes them (never on AWS: there a password in a variable would be readable
 * by anyone who can read the function's configuration).
 */
export const MigrateEnv = z.object({
  ...DatabaseEnv.shape,
  MIGRATIONS_DIR: z.optional(z.string().check(z.minLength(1))),
  DATABASE_WRITER_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  DATABASE_READER_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  DATABASE_WRITER_PASSWORD: z.optional(z.string().check(z.minLength(1))),
  DATABASE_READER_PASSWORD: z.optional(z.string().check(z.minLength(1))),
});
export type MigrateEnv = z.infer<typeof MigrateEnv>;

/** A whole number of days, at least 1; unset keeps everything. */
const days = z.optional(z.coerce.number({ error: 'must be a whole number of days' }).check(z.int({ error: 'must be a whole number of days' }), z.positive({ error: 'must be at least 1 day (unset it to keep everything)' })));

/**
 * How the time-partitioned tables are kept (lambdas/core/partitions.ts): the size of a
 * partition, how many are made ahead, and how long rows are kept. The local stack, the CDK app
 * and the maintenance function all read them through this schema, and refuse a rollup
 * retention shorter than the raw one (see retentionProblem).
 */
export const RetentionSettings = z.object({
  /** The size of one partition of records: whole hours or days, `1d`, `6h`, `7d`. */
  PARTITION_SIZE: z._default(z.string().check(z.regex(/^[1-9]\d{0,3}[hd]$/, { error: 'must be a whole number of hours or days, such as 1d, 6h or 7d' })), '1d'),
  /** Partitions made ahead of the current one. */
  PARTITIONS_AHEAD: z._default(z.coerce.number({ error: 'must be a whole number' }).check(z.int({ error: 'must be a whole number' }), z.gte(0, { error: 'must not be negative' }), z.lte(1000, { error: 'must be at most 1000' })), 3),
  /** Days of raw records kept. @default - kept forever */
  RETENTION_DAYS: days,
  /** Days of rollups kept; at least RETENTION_DAYS. @default - kept forever */
  ROLLUP_RETENTION_DAYS: days,
});
export type RetentionSettings = z.infer<typeof RetentionSettings>;

/** Why these settings do not go together, naming the variable; undefined when they do. */
export function retentionProblem(settings: Pick<RetentionSettings, 'RETENTION_DAYS' | 'ROLLUP_RETENTION_DAYS'>): string | undefined {
  const raw = settings.RETENTION_DAYS;
  const rollups = settings.ROLLUP_RETENTION_DAYS;
  if (rollups === undefined) return undefined;
  if (raw === undefined) return `ROLLUP_RETENTION_DAYS is invalid (${rollups} days is shorter than RETENTION_DAYS, unset: raw records are kept forever)`;
  if (rollups < raw) return `ROLLUP_RETENTION_DAYS is invalid (${rollups} days is shorter than RETENTION_DAYS, ${raw} days)`;
  return undefined;
}

/** The settings as the variables the maintenance function reads: unset ones are left out. */
export function retentionVariables(settings: RetentionSettings): Record<string, string> {
  return Object.fromEntries(
    (['PARTITION_SIZE', 'PARTITIONS_AHEAD', 'RETENTION_DAYS', 'ROLLUP_RETENTION_DAYS'] as const).flatMap((name) => (settings[name] === undefined ? [] : [[name, String(settings[name])]])),
  );
}

/** The partition size of the settings, in ms. */
export function partitionSizeMs(text: string): number {
  return Number(text.slice(0, -1)) * (text.endsWith('d') ? 86_400_000 : 3_600_000);
}

/** The maintenance function: the database as its owner (it makes and drops partitions), and the settings above. */
export const MaintainEnv = z.object({
  ...DatabaseEnv.shape,
  ...RetentionSettings.shape,
  /** How long a step waits for its lock on a table before it tries again (lambdas/adapters/pg-partitions.ts). */
  MAINTENANCE_LOCK_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.positive(), z.lte(60_000)), 2_000),
});
export type MaintainEnv = z.infer<typeof MaintainEnv>;

/** The login function: the Cognito app client it logs users in with. */
export const CognitoEnv = z.object({
  ...shared,
  COGNITO_CLIENT_ID: z.string().check(z.minLength(1)),
});

/**
 * The login function: its Cognito app client, and the table that counts failed logins. Without
 * the table the count is kept in the environment's memory (a local stack that provisions
 * none); the deployed stack always binds one.
 */
export const AuthTokenEnv = z.object({
  ...CognitoEnv.shape,
  LOGIN_ATTEMPTS_TABLE: z.optional(z.string().check(z.minLength(1))),
});

/** Functions that read no configuration of their own. */
export const NoEnv = z.object({});

export const AuthEnv = z.object({
  JWT_ISSUER: z.url(),
  JWT_AUDIENCE: z.string().check(z.minLength(1)),
  /** Defaults to the issuer's `/.well-known/jwks.json`. */
  JWKS_URL: z.optional(z.url()),
});

const nonEmpty = z.string().check(z.minLength(1, { error: 'must not be empty' }));

/** Powertools' log levels, accepted in any case (docs/local-stack.md documents `LOG_LEVEL=debug`). */
const logLevel = z.optional(
  z.pipe(
    z.transform((value: unknown) => (typeof value === 'string' ? value.trim().toLowerCase() : value)),
    z.enum(['trace', 'debug', 'info', 'warn', 'error', 'critical', 'silent'], {
      error: 'use trace, debug, info, warn, error, critical or silent',
    }),
  ),
);

/** Logs and metrics. Every variable has a default, so importing a handler never needs them. */
export const ObservabilityEnv = z.object({
  POWERTOOLS_SERVICE_NAME: z._default(nonEmpty, 'data-handler'),
  POWERTOOLS_METRICS_NAMESPACE: z._default(nonEmpty, 'DataHandler'),
  /** Wins over LOG_LEVEL; both lose to Lambda's own log-level setting (AWS_LAMBDA_LOG_LEVEL). */
  POWERTOOLS_LOG_LEVEL: logLevel,
  LOG_LEVEL: logLevel,
});

/** Parses `source` (the process environment) or throws one error naming every bad variable. */
export function readEnv<S extends z.ZodMiniType>(schema: S, source: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const problems = result.error.issues
    .map((i) => {
      const name = i.path.join('.');
      return source[name] === undefined ? `${name} is required` : `${name} is invalid (${i.message})`;
    })
    .join('; ');
  throw new Error(`Invalid configuration: ${problems}`);
}

/**
 * A Lambda entry point whose real handler (configuration, clients, pools) is built on the
 * first invocation and then reused.
 */
export function deferred<E, C, R>(
  build: () => ((event: E, context: C) => Promise<R>) | Promise<(event: E, context: C) => Promise<R>>,
): (event: E, context: C) => Promise<R> {
  let built: Promise<(event: E, context: C) => Promise<R>> | undefined;
  return async (event, context) => {
    // A failed build (say, Secrets Manager unreachable) is retried by the next invocation.
    built ??= Promise.resolve().then(build).catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return (await built)(event, context);
  };
}
