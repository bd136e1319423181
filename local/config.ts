/**
 * The local stack's configuration, from the environment, with embedded defaults.
 */
import path from 'node:path';
import * as z from 'zod/mini';
import { FUNCTIONS, QUEUE_MAX_RECEIVE_COUNT, WRITER_EVENT_SOURCE as WRITER_TRIGGER } from '../lambdas/functions';
import { readEnv, RetentionSettings, retentionProblem } from '../lambdas/shared/env';
import { RECEIVE_TIMEOUTS } from './http-connections';
import { parseOriginList } from './origins';

const port = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.gte(0), z.lte(65535)), fallback);
const positive = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.positive()), fallback);
const receiveTimeout = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.gte(100), z.lte(600_000)), fallback);

export const LocalConfig = z.object({
  /** The HTTP API. */
  PORT: port(3000),
  /** The WebSocket API and its @connections management API. */
  WS_PORT: port(3001),
  /**
   * How long a client may take to send a request's headers, and its whole request (headers and
   * body), before the HTTP API answers 408 and closes the connection. They bound a client that
   * stalls, never a slow function: a request received whole runs up to the 30 s integration
   * timeout. The first may not exceed the second, which times the headers too. Defaults: 10 s
   * and 20 s (RECEIVE_TIMEOUTS, which says why).
   */
  HTTP_HEADERS_TIMEOUT_MS: receiveTimeout(RECEIVE_TIMEOUTS.headersMs),
  HTTP_REQUEST_TIMEOUT_MS: receiveTimeout(RECEIVE_TIMEOUTS.requestMs),
  /**
   * 'embedded' starts PostgreSQL, SQS and DynamoDB in-process; 'compose' uses the services of
   * docker-compose.localstack.yml instead (LocalStack's SQS and DynamoDB, its PostgreSQL).
   */
  LOCAL_SERVICES: z._default(z.enum(['embedded', 'compose']), 'embedded'),
  /** LocalStack's edge endpoint, with LOCAL_SERVICES=compose. */
  LOCALSTACK_ENDPOINT: z._default(z.url(), 'http://127.0.0.1:4566'),
  /** Embedded PostgreSQL's files, the identity key and the queue's SQLite files. */
  DATA_DIR: z._default(z.string(), '.data'),
  /** An external PostgreSQL instead of the embedded one. */
  DATABASE_URL: z.optional(z.string().check(z.minLength(1))),
  /** Ports of the embedded services; 0 picks free ones. */
  PG_PORT: port(0),
  SQS_PORT: port(0),
  DYNAMODB_PORT: port(0),
  /** The event source mapping; the defaults are the catalogue's, as deployed. */
  BATCH_SIZE: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(10_000)), WRITER_TRIGGER.batchSize),
  BATCH_WINDOW_MS: z._default(z.coerce.number().check(z.int(), z.gte(0), z.lte(300_000)), WRITER_TRIGGER.batchWindowSeconds * 1000),
  MAX_CONCURRENCY: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(100)), 2),
  /** The batch writer's timeout; the queue's visibility timeout is kept above it. */
  WRITER_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.gte(3_000), z.lte(900_000)), FUNCTIONS['batch-writer'].timeoutSeconds * 1000),
  /** Execution environments per function at most, so its invocations at once (not the writer's: MAX_CONCURRENCY). */
  FUNCTION_CONCURRENCY: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(64)), 4),
  /** Seconds an idle execution environment is kept before it is reclaimed (its memory freed). */
  FUNCTION_IDLE_TIMEOUT_S: z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(3600)), 120),
  QUEUE_VISIBILITY_TIMEOUT_S: positive(30),
  /** Receives before a message moves to the DLQ: the deployed queue's count, which the writer's redelivery delays assume. */
  MAX_RECEIVE_COUNT: positive(QUEUE_MAX_RECEIVE_COUNT),
  /**
   * The writer's waits after a failed store, by receive count, in whole seconds, comma-separated.
   * @default - the deployed schedule (lambdas/core/redelivery.ts); tests shorten it
   */
  STORE_RETRY_DELAYS_S: z.optional(z.string().check(z.regex(/^\d+(,\d+)*$/, { error: 'must be whole seconds, comma-separated, such as 30,120,360' }))),
  /**
   * How the records table's time partitions are kept: PARTITION_SIZE, PARTITIONS_AHEAD,
   * RETENTION_DAYS and ROLLUP_RETENTION_DAYS, as the maintenance function reads them
   * (lambdas/shared/env.ts); by default day partitions, three ahead, everything kept.
   */
  ...RetentionSettings.shape,
  /** How often the maintenance function runs, after the run at start. @default an hour, as deployed */
  MAINTENANCE_INTERVAL_MS: z._default(z.coerce.number().check(z.int(), z.gte(100), z.lte(86_400_000)), 3_600_000),
  /**
   * The seed user: who DATA_DIR/users.json starts with when it does not exist yet (local-only
   * credentials; the password is printed at start while it is still that user's). Once the
   * file exists these change nothing: `npm run users` adds, lists and removes users.
   */
  LOCAL_USERNAME: z._default(z.string().check(z.minLength(1)), 'parsa'),
  LOCAL_PASSWORD: z._default(z.string().check(z.minLength(1)), 'admin'),
  /** Whether the seed user is an admin (sees every user's records). */
  LOCAL_USER_IS_ADMIN: z._default(z.stringbool(), true),
  JWT_AUDIENCE: z._default(z.string().check(z.minLength(1)), 'data-handler-local'),
  /**
   * The address the WebSocket gateway listens on. SECURITY: the gateway serves the
   * `@connections` management API too, which checks no signature, so anything that reaches
   * this address can push to or close any monitor's connection. Keep 127.0.0.1 unless the
   * LocalStack writer (a Docker container) must reach it; then prefer the Docker bridge's
   * gateway address (what `host-gateway` maps to, usually 172.17.0.1) over 0.0.0.0, which
   * also exposes it to your network.
   */
  WS_BIND_HOST: z._default(z.union([z.ipv4(), z.ipv6()]), '127.0.0.1'),
  /**
   * Whether this stack runs the batch writer behind its own event source. `false` when another
   * consumer reads the queue: the writer that `npm run deploy:localstack` runs in LocalStack,
   * with LOCAL_SERVICES=compose. Two consumers would split the batches between them.
   */
  LOCAL_WRITER: z._default(z.stringbool(), true),
  /**
   * Origins besides the dashboard's own (the HTTP API's URL) that a browser page may call the
   * HTTP API and open the WebSocket from: comma-separated, such as `http://localhost:5173`; `*`
   * allows any page, an explicit choice. The CDK stack's `corsAllowOrigins`, locally.
   */
  CORS_ALLOW_ORIGINS: z._default(
    z.string().check(
      z.refine((text) => {
        try {
          parseOriginList(text);
          return true;
        } catch {
          return false;
        }
      }, 'comma-separated origins (scheme://host[:port]) or *'),
    ),
    '',
  ),
});
export type LocalConfig = z.infer<typeof LocalConfig>;

/** The compose file's PostgreSQL (local-only credentials, published on 127.0.0.1 only). */
export const COMPOSE_DATABASE_URL = 'postgres://postgres:local-only-password@127.0.0.1:5432/data_handler';

/** Reads the configuration; DATA_DIR becomes absolute. */
export function localConfigFromEnv(source: NodeJS.ProcessEnv = process.env): LocalConfig {
  const config = readEnv(LocalConfig, source);
  if (config.QUEUE_VISIBILITY_TIMEOUT_S * 1000 < config.WRITER_TIMEOUT_MS) {
    throw new Error('Invalid configuration: QUEUE_VISIBILITY_TIMEOUT_S must cover WRITER_TIMEOUT_MS, or batches would be redelivered while still running');
  }
  const retention = retentionProblem(config);
  if (retention) throw new Error(`Invalid configuration: ${retention}`);
  if (config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS) {
    throw new Error('Invalid configuration: HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS, which times the headers too');
  }
  const databaseUrl = config.DATABASE_URL ?? (config.LOCAL_SERVICES === 'compose' ? COMPOSE_DATABASE_URL : undefined);
  return { ...config, DATA_DIR: path.resolve(config.DATA_DIR), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
}
