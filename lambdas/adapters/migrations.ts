/**
 * Versioned schema migrations (node-pg-migrate, plain SQL files in `migrations/`). The local
 * stack, the tests and the deploy-time custom resource all run this one function.
 */
import { runner } from 'node-pg-migrate';
import { fileURLToPath } from 'node:url';
import type { ClientConfig } from 'pg';

/** The migrations folder of this repository. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Applies every pending migration; resolves with the names it ran. */
export async function migrateUp(databaseUrl: string | ClientConfig, dir = MIGRATIONS_DIR): Promise<string[]> {
  const ran = await runner({
    databaseUrl,
    dir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    singleTransaction: true,
    log: () => undefined,
  });
  return ran.map((m) => m.name);
}
