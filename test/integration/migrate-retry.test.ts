/**
 * The migration custom resource when the database is not ready yet (as right after a proxy is
 * created), when it never becomes ready, when a migration is broken, and on a rollback. Real
 * PostgreSQL, real refused and silent sockets.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrationsHash, MIGRATIONS_DIR } from '../../lambdas/adapters/migrations';
import { makeMigrateHandler, type MigrateDeps } from '../../lambdas/handlers/migrate';
import { createDatabase, freePort } from '../../local/services';
import { lambdaContext } from '../fixtures/events';

const event = (RequestType: 'Create' | 'Update', properties: Record<string, string> = {}) =>
  ({ RequestType, PhysicalResourceId: 'data-handler-schema', ResourceProperties: { ServiceToken: 'arn', ...properties } }) as unknown as CloudFormationCustomResourceEvent;

/** A connection source that hands out `first` for the first `times` attempts, then `then`; it counts attempts. */
function flaky(first: string, times: number, then: string) {
  const source = { calls: 0, connection: async () => (++source.calls <= times ? first : then) };
  return source;
}

const fast: Partial<MigrateDeps> = { firstRetryDelayMs: 50, reserveMs: 0, connectTimeoutMs: 500 };
const names = () => readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort().map((f) => f.replace(/\.sql$/, ''));

describe('the migration resource, when the database is not ready', () => {
  let refused: string;
  let silent: Server;
  let silentUrl: string;
  const sockets: Socket[] = [];
  const scratch = mkdtempSync(path.join(tmpdir(), 'dh-migrate-'));

  beforeAll(async () => {
    refused = `postgres://nobody:nothing@127.0.0.1:${await freePort()}/none`;
    // Accepts connections and never says a word, like a proxy whose target is not registered.
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `postgres://nobody:nothing@127.0.0.1:${(silent.address() as { port: number }).port}/none`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    rmSync(scratch, { recursive: true, force: true });
  });

  it('retries refused connections with backoff until the database answers, then migrates', async () => {
    const url = await createDatabase(inject('adminDatabaseUrl'), 'migrate_retry_refused');
    const source = flaky(refused, 2, url);
    const migrate = makeMigrateHandler({ ...fast, connection: source.connection });

    const result = await migrate(event('Create', { MigrationsHash: migrationsHash(MIGRATIONS_DIR) }), lambdaContext());

    expect(result.Data).toEqual({ Applied: names().join(',') });
    expect(source.calls).toBe(3);
  });

  it('gives up on a server that accepts but never answers after the connect timeout, and tries again', async () => {
    const url = await createDatabase(inject('adminDatabaseUrl'), 'migrate_retry_silent');
    const source = flaky(silentUrl, 1, url);
    const migrate = makeMigrateHandler({ ...fast, connection: source.connection });
    const started = Date.now();

    const result = await migrate(event('Update'), lambdaContext());

    expect(result.Data).toEqual({ Applied: names().join(',') });
    expect(source.calls).toBe(2);
    expect(Date.now() - started).toBeLessThan(10_000); // one 500 ms timeout, not a hang
  });

  it('stops retrying at the deadline: an Update fails, so the deploy rolls back', async () => {
    const migrate = makeMigrateHandler({ ...fast, connection: async () => refused });
    await expect(migrate(event('Update'), lambdaContext(1_000))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('fails a first run (Create) as well, so the new stack rolls back rather than completing without a schema', async () => {
    const migrate = makeMigrateHandler({ ...fast, connection: async () => refused });

    const created = migrate(event('Create', { MigrationsHash: migrationsHash(MIGRATIONS_DIR) }), lambdaContext(1_000));

    await expect(created).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('does not retry a broken migration: retrying cannot fix SQL', async () => {
    const url = await createDatabase(inject('adminDatabaseUrl'), 'migrate_retry_broken');
    const dir = path.join(scratch, 'broken');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, '1000000000000_broken.sql'), 'CREATE TABLEX nothing ();');
    const source = flaky(url, 0, url);
    const migrate = makeMigrateHandler({ ...fast, connection: source.connection, migrationsDir: dir });

    await expect(migrate(event('Update'), lambdaContext())).rejects.toMatchObject({ code: '42601' });
    expect(source.calls).toBe(1);
  });

  it('runs nothing, sets no connection limit either, when the deploy asks for other migrations than it carries, as a rollback does', async () => {
    const source = flaky(refused, 99, refused);
    const migrate = makeMigrateHandler({ ...fast, connection: source.connection });

    const result = await migrate(event('Update', { MigrationsHash: 'the-previous-deploy', ConnectionLimits: '{"no_such_role":1}' }), lambdaContext());

    expect(result.Data?.Applied).toMatch(/^skipped: /);
    expect(source.calls).toBe(0);
  });
});
