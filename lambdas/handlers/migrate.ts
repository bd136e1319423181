/**
 * The deploy-time migration custom resource: applies the same versioned migrations that
 * `npm start` and the tests apply, whenever the deploy carries migrations the database has not
 * seen (the resource's MigrationsHash property changes with them). Delete keeps the data.
 *
 * - Right after the database and its proxy are created they may not accept connections yet:
 *   each connection attempt has a timeout, and transient failures are retried with backoff
 *   until shortly before the function's own timeout.
 * - A failure is always raised (and logged, and counted in the MigrationFailed metric, an
 *   alarm), so the deploy fails and rolls back. On the stack's first deploy (Create) that is
 *   clean: the database has no deletion protection until a later resource turns it on, once
 *   everything exists. On an Update nothing is deleted. The rollback calls this function again
 *   with the previous properties; migrations only go forward, so when the MigrationsHash asked
 *   for is not that of the migrations bundled here, it does nothing at all.
 * - Before the migrations it creates the application's roles that are missing, with the
 *   passwords of their secrets (or, locally, of its environment); a migration grants them their
 *   privileges. An existing role keeps its password: that is the rotation's.
 * - After the migrations it sets each role's CONNECTION LIMIT from the ConnectionLimits property
 *   (JSON, `{"data_handler_writer":54,"data_handler_reader":15}`), on Create and on every Update,
 *   so PostgreSQL itself keeps the database's connection budget (see applyConnectionLimits).
 *   A malformed value fails the request before anything runs.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import type { ClientConfig } from 'pg';
import { migrateUp, migrationsHash, MIGRATIONS_DIR, retryTransient } from '../adapters/migrations';
import { applyConnectionLimits, checkConnectionLimit, ensureLoginRoles, type ConnectionLimits } from '../adapters/pg-roles';
import { appRoleSources, singleClientConfig, type AppRoleSources } from '../shared/database';
import { deferred, MigrateEnv, readEnv } from '../shared/env';
import { describeError, logger, metrics, observability } from '../shared/observability';

export interface MigrateDeps {
  /** Connection settings, resolved for each attempt. */
  readonly connection: () => Promise<string | ClientConfig>;
  /** Where the SQL migrations are (bundled beside the function on AWS). */
  readonly migrationsDir?: string;
  /** How long one connection attempt may take. @default 10000 */
  readonly connectTimeoutMs?: number;
  /** The first wait between attempts; it doubles up to 15 s. @default 1000 */
  readonly firstRetryDelayMs?: number;
  /** Time kept back from the function's timeout for the last attempt to finish. @default 60000 */
  readonly reserveMs?: number;
  /** The application's roles to create before the migrations when missing. @default - none */
  readonly roles?: AppRoleSources;
}

/**
 * The provider framework's onEvent result. `Applied` lists the migrations run (or `none`), or
 * says why none were: `skipped: …`.
 */
export interface MigrateResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** The custom resource's properties, as the stack sets them (CloudFormation passes strings). */
interface SchemaProperties {
  readonly MigrationsHash?: string;
  /** JSON of `{ "<role name>": <limit> }`, each limit a positive integer or -1. @default - no limits set */
  readonly ConnectionLimits?: string;
}

const RESOURCE_ID = 'data-handler-schema';

/** PostgreSQL's insufficient_privilege: the owner may not create roles (no CREATEROLE). */
const MAY_NOT_CREATE_ROLES = '42501';

/** Creates the missing roles; an owner without CREATEROLE is only reported when the roles are optional. */
async function provisionRoles(connection: ClientConfig, sources: AppRoleSources): Promise<void> {
  try {
    const outcomes = await ensureLoginRoles(connection, sources.roles);
    const created = Object.keys(outcomes).filter((name) => outcomes[name] === 'created');
    if (created.length) logger.info('Created the application roles', { created });
  } catch (error) {
    if (sources.required || (error as { code?: string }).code !== MAY_NOT_CREATE_ROLES) throw error;
    // Only the local stack makes the roles optional, and it says so itself, in one line.
    logger.debug('The database user may not create roles; the functions connect as that user', describeError(error));
  }
}

const LIMITS_EXAMPLE = '{"data_handler_writer":54,"data_handler_reader":15}';

/** The ConnectionLimits property, checked whole before anything runs; none when it is absent. */
export function parseConnectionLimits(value: unknown): ConnectionLimits {
  if (value === undefined) return {};
  const invalid = (why: string) => new Error(`Invalid ConnectionLimits property: ${why}. Expected a JSON object of role names to limits, such as ${LIMITS_EXAMPLE}`);
  if (typeof value !== 'string') throw invalid(`a JSON string was expected, got ${typeof value}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw invalid(`not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid(`not an object: ${value.slice(0, 200)}`);
  for (const [role, limit] of Object.entries(parsed)) {
    try {
      checkConnectionLimit(role, limit);
    } catch (error) {
      throw invalid((error as Error).message);
    }
  }
  return parsed as ConnectionLimits;
}

function withConnectTimeout(connection: string | ClientConfig, ms: number): ClientConfig {
  return { ...(typeof connection === 'string' ? { connectionString: connection } : connection), connectionTimeoutMillis: ms };
}

/** The migration custom resource's handler, from its connection, migrations and roles. */
export function makeMigrateHandler(deps: MigrateDeps) {
  const dir = deps.migrationsDir ?? MIGRATIONS_DIR;
  return middy<CloudFormationCustomResourceEvent, MigrateResult, Error, Context>()
    .use(observability())
    .handler(async (event, context) => {
      if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
      const properties = event.ResourceProperties as unknown as SchemaProperties;
      const bundled = migrationsHash(dir);
      if (properties.MigrationsHash && properties.MigrationsHash !== bundled) {
        // A rollback (or a mismatched bundle): never run migrations other than those asked for.
        logger.warn('The deploy asked for other migrations than this function carries; nothing was run', { asked: properties.MigrationsHash, bundled });
        return { PhysicalResourceId: RESOURCE_ID, Data: { Applied: 'skipped: the deploy asked for other migrations (a rollback)' } };
      }
      const deadline = Date.now() + context.getRemainingTimeInMillis() - (deps.reserveMs ?? 60_000);
      try {
        const limits = parseConnectionLimits(properties.ConnectionLimits);
        // Kept across attempts: a retry after the migrations ran only sets the limits again.
        let applied: string[] | undefined;
        await retryTransient(
          async () => {
            const connection = withConnectTimeout(await deps.connection(), deps.connectTimeoutMs ?? 10_000);
            if (deps.roles) await provisionRoles(connection, deps.roles);
            applied ??= await migrateUp(connection, dir);
            await applyConnectionLimits(connection, limits);
          },
          {
            deadline,
            ...(deps.firstRetryDelayMs !== undefined ? { firstDelayMs: deps.firstRetryDelayMs } : {}),
            onRetry: (error, attempt, delayMs) => logger.warn('The database is not reachable yet; retrying', { attempt, delayMs, ...describeError(error) }),
          },
        );
        const ran = applied ?? [];
        logger.info('The schema is up to date', { applied: ran, connectionLimits: limits });
        return { PhysicalResourceId: RESOURCE_ID, Data: { Applied: ran.join(',') || 'none' } };
      } catch (error) {
        logger.error('The migrations failed', describeError(error));
        metrics.addMetric('MigrationFailed', MetricUnit.Count, 1);
        throw error;
      }
    });
}

/** The Lambda entry point. */
export const handler = deferred(() => {
  const env = readEnv(MigrateEnv);
  const roles = appRoleSources(env);
  return makeMigrateHandler({
    ...(roles ? { roles } : {}),
    connection: () => singleClientConfig(),
    ...(env.MIGRATIONS_DIR ? { migrationsDir: env.MIGRATIONS_DIR } : {}),
  });
});
