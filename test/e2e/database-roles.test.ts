/**
 * The local stack's functions connect as their roles, not as the owner: on the embedded
 * PostgreSQL the writer's and the readers' connections (named after their functions) belong to
 * data_handler_writer and data_handler_reader, `npm run dlq` gets the writer's URL, and a restart
 * reuses the roles' passwords from DATA_DIR. With a DATABASE_URL whose user may not create
 * roles, one line says so and every function connects as that user.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { APP_ROLES } from '../../lambdas/adapters/pg-roles';
import { localConfigFromEnv } from '../../local/config';
import { ROLE_PASSWORDS_FILE, urlAs } from '../../local/database-roles';
import { RUNTIME_FILE, startLocalStack, type LocalStack } from '../../local/stack';
import { login, waitFor } from '../support/stack';

const FAST = { PORT: '0', WS_PORT: '0', BATCH_WINDOW_MS: '200', WRITER_TIMEOUT_MS: '5000', QUEUE_VISIBILITY_TIMEOUT_S: '5' };

/** Uploads one record and reads it back through the records route; resolves once both answered. */
async function writeAndRead(stack: LocalStack): Promise<void> {
  const token = await login(stack.httpUrl);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const uploaded = await fetch(`${stack.httpUrl}/api/data/upload`, { method: 'POST', headers, body: JSON.stringify({ records: [{ data: 5, date: '2024-05-01T00:00:00Z' }] }) });
  expect(uploaded.status).toBe(202);
  const [id] = ((await uploaded.json()) as { ids: string[] }).ids;
  await waitFor(async () => (await stack.pool.query('SELECT 1 FROM records WHERE id = $1', [id])).rowCount === 1);
  const window = new URLSearchParams({ start_time: '2024-05-01T00:00:00Z', end_time: '2024-05-02T00:00:00Z' });
  const read = await fetch(`${stack.httpUrl}/api/data/records?${window}`, { headers });
  expect(read.status).toBe(200);
  await read.arrayBuffer();
}

/** Who each function's connections log in as, from the server's own view (owner's pool). */
async function connectionsByFunction(stack: LocalStack): Promise<Record<string, string[]>> {
  const { rows } = await stack.pool.query<{ app: string; users: string[] }>(
    `SELECT application_name AS app, array_agg(DISTINCT usename::text ORDER BY usename::text) AS users FROM pg_stat_activity
     WHERE datname = current_database() AND application_name <> '' GROUP BY application_name`,
  );
  return Object.fromEntries(rows.map((r) => [r.app, r.users]));
}

describe('the database roles of the local stack (embedded PostgreSQL)', () => {
  let dataDir: string;
  let stack: LocalStack | undefined;
  const start = async () => (stack = await startLocalStack(localConfigFromEnv({ ...FAST, DATA_DIR: dataDir }), { drainTimeoutMs: 1_000 }));

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'dh-roles-stack-'));
    await start();
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs the writer as data_handler_writer and the readers as data_handler_reader, never as the owner', async () => {
    await writeAndRead(stack!);

    const users = await connectionsByFunction(stack!);

    expect(users).toMatchObject({ 'batch-writer': [APP_ROLES.writer], 'records-query': [APP_ROLES.reader] });
    expect(Object.values(users).flat()).not.toContain('postgres');
    expect(new URL(stack!.functionDatabaseUrls.writer).username).toBe(APP_ROLES.writer);
  });

  it('gives `npm run dlq` the writer\'s URL: it reads the noted refusals and cannot touch records', async () => {
    const running = JSON.parse(await readFile(path.join(dataDir, RUNTIME_FILE), 'utf8')) as { databaseUrl: string };
    const client = new pg.Client({ connectionString: running.databaseUrl });
    await client.connect();
    try {
      expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe(APP_ROLES.writer);
      await expect(client.query('SELECT count(*) FROM dead_letters')).resolves.toBeDefined();
      await expect(client.query('DELETE FROM records')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
  });

  it("keeps the roles' passwords in a private file, and a restart reuses them", async () => {
    const file = path.join(dataDir, ROLE_PASSWORDS_FILE);
    const before = await readFile(file, 'utf8');
    await stack!.stop();
    stack = undefined;

    const lines: string[] = [];
    stack = await startLocalStack(localConfigFromEnv({ ...FAST, DATA_DIR: dataDir }), { drainTimeoutMs: 1_000, log: (l) => lines.push(l) });
    await writeAndRead(stack);

    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(lines.join('\n')).not.toMatch(/every function connects as/);
    expect(await connectionsByFunction(stack)).toMatchObject({ 'batch-writer': [APP_ROLES.writer], 'records-query': [APP_ROLES.reader] });
  });
});

describe('the local stack with a DATABASE_URL whose user may not create roles', () => {
  const suffix = randomBytes(4).toString('hex');
  const owner = `plain_${suffix}`;
  let dataDir: string;
  let databaseUrl: string;
  let stack: LocalStack | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    const password = randomBytes(9).toString('hex');
    await admin.connect();
    await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD '${password}'`);
    await admin.query(`CREATE DATABASE ${owner} OWNER ${owner}`);
    await admin.end();
    databaseUrl = urlAs(inject('adminDatabaseUrl'), owner, password).replace(/\/postgres$/, `/${owner}`);
    dataDir = await mkdtemp(path.join(tmpdir(), 'dh-plain-stack-'));
    stack = await startLocalStack(localConfigFromEnv({ ...FAST, DATA_DIR: dataDir, DATABASE_URL: databaseUrl }), { drainTimeoutMs: 1_000, log: (l) => lines.push(l) });
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('says so in one line and runs every function as that user', async () => {
    await writeAndRead(stack!);

    expect(lines.filter((l) => /CREATEROLE/.test(l))).toEqual([`${owner}, the DATABASE_URL user, may not create roles (no CREATEROLE): every function connects as ${owner}`]);
    expect(stack!.functionDatabaseUrls).toEqual({ writer: databaseUrl, reader: databaseUrl });
    expect(await connectionsByFunction(stack!)).toMatchObject({ 'batch-writer': [owner], 'records-query': [owner] });
  });
});
