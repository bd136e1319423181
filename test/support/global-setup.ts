/**
 * Starts the embedded services once for the whole run: a fresh PostgreSQL cluster, fauxqs and
 * dynalite, all on 127.0.0.1 and random ports. Test files make their own databases, queues and
 * tables on them (see services.ts), so files never share state.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startConnectionsTable, startPostgres, startQueue } from '../../local/services';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    sqsEndpoint: string;
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const dir = await mkdtemp(path.join(tmpdir(), 'dh-test-'));
  const postgres = await startPostgres({ dataDir: path.join(dir, 'pg'), port: 0 });
  const queue = await startQueue({ port: 0, visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
  const table = await startConnectionsTable({ port: 0 });
  project.provide('adminDatabaseUrl', postgres.info.databaseUrl.replace(/\/[^/]+$/, '/postgres'));
  project.provide('sqsEndpoint', queue.info.endpoint);
  project.provide('dynamoEndpoint', table.info.endpoint);
  return async () => {
    await Promise.all([queue.stop(), table.stop()]);
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
