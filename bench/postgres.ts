/**
 * One embedded PostgreSQL for the whole benchmark run, in a temporary folder that is removed
 * afterwards. Each benchmark takes its own freshly migrated database on it, so no benchmark
 * sees another's rows and the server starts (initdb included) only once.
 */
import pg from 'pg';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrateUp } from '../lambdas/adapters/migrations';
import { createDatabase, startPostgres } from '../local/services';

/** The running server, and how to get a database on it. */
export interface BenchPostgres {
  /** `SELECT version()`, for the table titles. */
  readonly version: string;
  /** Creates database `name`, applies the migrations, resolves with its URL. */
  freshDatabase(name: string): Promise<string>;
  /** Stops the server and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts an embedded PostgreSQL on a free 127.0.0.1 port in a new temporary folder. */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const folder = await mkdtemp(path.join(tmpdir(), 'dh-bench-'));
  // Under root the server runs as the 'postgres' account, which must be able to enter the folder.
  await chmod(folder, 0o755);
  let server: Awaited<ReturnType<typeof startPostgres>> | undefined;
  try {
    server = await startPostgres({ dataDir: path.join(folder, 'pg'), port: 0 });
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
  const running = server;
  // startPostgres hands out the URL of its own database; the admin database sits beside it.
  const adminUrl = running.info.databaseUrl.replace(/\/[^/]+$/, '/postgres');
  const admin = new pg.Client({ connectionString: adminUrl });
  let version: string;
  try {
    await admin.connect();
    version = (await admin.query<{ version: string }>('SELECT version()')).rows[0]!.version.split(' on ')[0]!;
  } finally {
    await admin.end();
  }

  let stopping: Promise<void> | undefined;
  return {
    version,
    freshDatabase: async (name) => {
      const url = await createDatabase(adminUrl, name);
      await migrateUp(url);
      return url;
    },
    stop: () =>
      (stopping ??= (async () => {
        try {
          await running.stop();
        } finally {
          await rm(folder, { recursive: true, force: true });
        }
      })()),
  };
}
