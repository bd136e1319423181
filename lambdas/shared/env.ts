/**
 * Configuration, read from the environment once through a zod schema. A missing or bad
 * variable fails with a message that names it.
 *
 * Each function's wiring reads its configuration when its module's `handler` first runs
 * (once per execution environment), not at import: the handler factories must stay importable
 * by tests and by the local runtime without any configuration.
 */
import { z } from 'zod/mini';

const positiveInt = (fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.positive()), fallback);

const shared = {
  AWS_REGION: z._default(z.string(), 'us-east-1'),
};

export const IngestEnv = z.object({
  ...shared,
  QUEUE_URL: z.url(),
  /** Largest accepted request body in bytes. */
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
});

export const PushEnv = z.object({
  ...shared,
  CONNECTIONS_TABLE: z.string().check(z.minLength(1)),
  /** The WebSocket API's management endpoint, `https://{api}.execute-api.{region}.amazonaws.com/{stage}`. */
  CONNECTIONS_ENDPOINT: z.url(),
  PUSH_CONCURRENCY: positiveInt(16),
});

/** The writer's own settings; how it reaches the database is DatabaseEnv (shared/database.ts). */
export const WriterEnv = z.object({
  ...PushEnv.shape,
  DATABASE_POOL_MAX: positiveInt(2),
});

/** The query functions' own settings; the database is DatabaseEnv (shared/database.ts). */
export const QueryEnv = z.object({
  DATABASE_POOL_MAX: positiveInt(2),
});

export const ConnectionsEnv = z.object({
  ...shared,
  CONNECTIONS_TABLE: z.string().check(z.minLength(1)),
});

export const AuthEnv = z.object({
  JWT_ISSUER: z.url(),
  JWT_AUDIENCE: z.string().check(z.minLength(1)),
  /** Defaults to the issuer's `/.well-known/jwks.json`. */
  JWKS_URL: z.optional(z.url()),
});

const nonEmpty = z.string().check(z.minLength(1, { error: 'must not be empty' }));

/** Powertools' log levels, accepted in any case (the README documents `LOG_LEVEL=debug`). */
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

/** Builds a value on first use and keeps it: configuration and clients, once per environment. */
export function once<T>(build: () => T): () => T {
  let value: T | undefined;
  let built = false;
  return () => {
    if (!built) {
      value = build();
      built = true;
    }
    return value as T;
  };
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
