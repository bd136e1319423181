/**
 * `npm run maintain`: one maintenance pass (lambdas/handlers/maintain.ts) over the time-partitioned
 * tables: the partitions ahead of time are made, those past RETENTION_DAYS dropped. Against
 * DATABASE_URL (its owner), or else the running local stack's embedded PostgreSQL. The settings
 * are the local stack's (PARTITION_SIZE, PARTITIONS_AHEAD, RETENTION_DAYS, ROLLUP_RETENTION_DAYS).
 * Prints one line per partition made or dropped, then a summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { maintainOnce } from '../lambdas/handlers/maintain';
import { localConfigFromEnv } from '../local/config';
import { RUNTIME_FILE } from '../local/runtime-files';
import { LOCAL_PG_PASSWORD, LOCAL_PG_USER } from '../local/postgres';

let config: ReturnType<typeof localConfigFromEnv>;
try {
  config = localConfigFromEnv();
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

/** DATABASE_URL, or the owner's URL of the running local stack's embedded PostgreSQL (local-only credentials). */
function ownerUrl(): string | undefined {
  if (config.DATABASE_URL) return config.DATABASE_URL;
  const file = path.join(config.DATA_DIR, RUNTIME_FILE);
  if (!existsSync(file)) return undefined;
  const running = JSON.parse(readFileSync(file, 'utf8')) as { databaseUrl: string; postgresDataDir?: string };
  if (!running.postgresDataDir) return undefined;
  const url = new URL(running.databaseUrl);
  url.username = LOCAL_PG_USER;
  url.password = LOCAL_PG_PASSWORD;
  return url.toString();
}

const url = ownerUrl();
if (!url) {
  console.error(`Start the local stack first (npm start; its state is in ${config.DATA_DIR}), or set DATABASE_URL to the database's owner.`);
  process.exit(2);
}
const started = performance.now();
try {
  const result = await maintainOnce({ connection: async () => url, settings: config, lockTimeoutMs: 2_000, log: (line, detail) => console.log(`${line}${detail.from ? ` (${String(detail.from)} to ${String(detail.to)})` : ''}`) });
  const ms = (performance.now() - started).toFixed(0);
  if ('skipped' in result) console.log(`nothing done: ${result.skipped}`);
  else {
    for (const t of result.tables) {
      const days = t.table === 'records' ? config.RETENTION_DAYS : config.ROLLUP_RETENTION_DAYS;
      const kept = days === undefined ? 'kept forever' : `kept ${days} days`;
      console.log(`${t.table}: ${t.created.length} partition(s) made, ${t.dropped.length} dropped, ${t.moved} row(s) moved from ${t.table}_after; rows ${kept}; ${ms} ms`);
    }
  }
} catch (error) {
  console.error(`maintenance failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
