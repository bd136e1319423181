/**
 * The deploy-time migration custom resource: applies the same versioned migrations that
 * `npm start` and the tests apply, on every deploy (Create and Update). Delete keeps the data.
 */
import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { ClientConfig } from 'pg';
import { migrateUp } from '../adapters/migrations';
import { sslOptions } from '../adapters/pg-record-store';
import { databaseConfig } from '../shared/database';
import { deferred, MigrateEnv, readEnv } from '../shared/env';
import { observability } from '../shared/observability';

export interface MigrateDeps {
  /** Connection settings, resolved when a migration is due. */
  readonly connection: () => Promise<string | ClientConfig>;
  /** Where the SQL migrations are (bundled beside the function on AWS). */
  readonly migrationsDir?: string;
}

/** The provider framework's onEvent result. */
export interface MigrateResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

const RESOURCE_ID = 'data-handler-schema';

export function makeMigrateHandler(deps: MigrateDeps) {
  return middy<CloudFormationCustomResourceEvent, MigrateResult>()
    .use(observability())
    .handler(async (event) => {
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const applied = await migrateUp(await deps.connection(), ...(deps.migrationsDir ? [deps.migrationsDir] : []));
    return { PhysicalResourceId: RESOURCE_ID, Data: { Applied: applied.join(',') || 'none' } };
    });
}

/** The Lambda entry point. */
export const handler = deferred(() => {
  const env = readEnv(MigrateEnv);
  return makeMigrateHandler({
    connection: async () => {
      const { config, ssl } = await databaseConfig();
      return { ...config, ssl: sslOptions(ssl) };
    },
    ...(env.MIGRATIONS_DIR ? { migrationsDir: env.MIGRATIONS_DIR } : {}),
  });
});
