/**
 * Versioned schema migrations (node-pg-migrate, plain SQL files in `migrations/`). The local
 * stack, the tests and the deploy-time custom resource all run this one function.
 */
import { runner } from 'node-pg-migrate';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientConfig } from 'pg';
import { isTransientConnectionError } from './pg-errors';

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

/**
 * A digest of the migrations in `dir`: every SQL file's name and content, in the order they
 * run. The deploy passes it to the migration custom resource, so the resource runs again
 * exactly when a migration was added or changed, and the function can tell whether the
 * migrations it carries are the ones the deploy asked for.
 */
export function migrationsHash(dir = MIGRATIONS_DIR): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    hash.update(`${file}\0${readFileSync(path.join(dir, file), 'utf8')}\0`);
  }
  return hash.digest('hex');
}

export interface RetryOptions {
  /** No attempt starts after this time (epoch ms), nor a wait that would end after it. */
  readonly deadline: number;
  /** The first wait; each next one doubles. @default 1000 */
  readonly firstDelayMs?: number;
  /** @default 15000 */
  readonly maxDelayMs?: number;
  /** Told of each failed attempt that will be retried. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `attempt` until it succeeds, retrying transient connection failures with exponential
 * backoff until `deadline`. Any other failure, or one at the deadline, is thrown as it is.
 */
export async function retryTransient<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  let delay = options.firstDelayMs ?? 1000;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTransientConnectionError(error) || Date.now() + delay >= options.deadline) throw error;
      options.onRetry?.(error, n, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, options.maxDelayMs ?? 15_000);
    }
  }
}
