/**
 * The application's database roles on a real PostgreSQL: the migrate function creates them once
 * and never resets a password; the writer may do what the batch writer and `npm run dlq` do
 * and nothing more; the readers may only read records; nobody else may connect.
 *
 * Roles belong to the whole server, and other test files make and use these very roles on the
 * shared one, so this file runs a server of its own.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUp } from '../../lambdas/adapters/migrations';
import { PgDeadLetterLog } from '../../lambdas/adapters/pg-dead-letter-log';
import { createPool, PgRecordStore } from '../../lambdas/adapters/pg-record-store';
import { APP_ROLES, type LoginRole } from '../../lambdas/adapters/pg-roles';
import { makeMigrateHandler } from '../../lambdas/handlers/migrate';
import { urlAs } from '../../local/database-roles';
import { createDatabase, startPostgres, type RunningPostgres } from '../../local/services';
import { lambdaContext } from '../fixtures/events';
import { recordsToStore } from '../fixtures/records';

const create = { RequestType: 'Create', ResourceProperties: {} } as unknown as CloudFormationCustomResourceEvent;
const password = () => randomBytes(12).toString('hex');
const loginRoles = (passwords: { writer: string; reader: string }): LoginRole[] => [
  { name: APP_ROLES.writer, password: async () => passwords.writer },
  { name: APP_ROLES.reader, password: async () => passwords.reader },
];

/** Runs `sql` as whoever `url` names; resolves with the SQLSTATE it failed with, or 'ok'. */
async function outcome(url: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query(sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('the application database roles', () => {
  let dir: string;
  let server: RunningPostgres;
  let ownerUrl: string;
  const passwords = { writer: password(), reader: password() };
  const writerUrl = () => urlAs(ownerUrl, APP_ROLES.writer, passwords.writer);
  const readerUrl = () => urlAs(ownerUrl, APP_ROLES.reader, passwords.reader);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dh-roles-'));
    server = await startPostgres({ dataDir: path.join(dir, 'pg'), port: 0 });
    ownerUrl = server.info.databaseUrl;
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('are skipped, not fatal, for an owner that may not create roles, unless they are required', async () => {
    // Arrange: an owner without CREATEROLE, and its own database.
    const admin = urlAs(ownerUrl, 'postgres', 'local-only-password').replace(/\/[^/]+$/, '/postgres');
    const ownerPassword = password();
    expect(await outcome(admin, `CREATE ROLE plain_owner LOGIN PASSWORD '${ownerPassword}'`)).toBe('ok');
    expect(await outcome(admin, 'CREATE DATABASE plain_owned OWNER plain_owner')).toBe('ok');
    const plainUrl = urlAs(admin, 'plain_owner', ownerPassword).replace(/\/postgres$/, '/plain_owned');

    // Act
    const optional = await makeMigrateHandler({ connection: async () => plainUrl, roles: { required: false, roles: loginRoles(passwords) } })(create, lambdaContext());
    const required = await makeMigrateHandler({ connection: async () => plainUrl, roles: { required: true, roles: loginRoles(passwords) } })(create, lambdaContext()).catch((e: unknown) => e);

    // Assert: the schema is there, the roles are not, and where they are required the run fails.
    expect(optional.Data?.Applied).toMatch(/app-roles/);
    expect(await outcome(plainUrl, 'SELECT 1 FROM records')).toBe('ok');
    expect(await outcome(ownerUrl, `DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname LIKE 'data_handler_%') THEN RAISE 'made'; END IF; END $$`)).toBe('ok');
    expect(required).toMatchObject({ code: '42501' });
  });

  it('survive migrations of several databases at once on a server that has none of them yet', async () => {
    // As the test files' fresh databases do: each migration makes the missing roles without a login.
    const admin = ownerUrl.replace(/\/[^/]+$/, '/postgres');
    const migrated = await Promise.allSettled(
      Array.from({ length: 6 }, async (_, i) => migrateUp(await createDatabase(admin, `at_once_${i}`))),
    );

    expect(migrated.filter((m) => m.status === 'rejected').map((m) => String((m as PromiseRejectedResult).reason))).toEqual([]);
    // Without a login they are of no use to the migrate function, which never alters a role: gone again.
    for (let i = 0; i < 6; i++) expect(await outcome(admin, `DROP DATABASE at_once_${i}`)).toBe('ok');
    expect(await outcome(admin, `DROP ROLE ${APP_ROLES.writer}, ${APP_ROLES.reader}`)).toBe('ok');
  });

  describe('once the migrate function has created them', () => {
    beforeAll(async () => {
      await makeMigrateHandler({ connection: async () => ownerUrl, roles: { required: true, roles: loginRoles(passwords) } })(create, lambdaContext());
    });

    it('creates them once, and a second run leaves their passwords as they were', async () => {
      const other = { writer: password(), reader: password() };
      const asked: string[] = [];
      const roles = loginRoles(other).map((r) => ({ ...r, password: async () => (asked.push(r.name), r.password()) }));
      const database = await createDatabase(ownerUrl.replace(/\/[^/]+$/, '/postgres'), 'second_stack');

      await makeMigrateHandler({ connection: async () => database, roles: { required: true, roles } })(create, lambdaContext());

      expect(asked).toEqual([]); // not even read: the secrets are only asked for when a role is missing
      expect(await outcome(writerUrl(), 'SELECT 1')).toBe('ok');
      expect(await outcome(readerUrl(), 'SELECT 1')).toBe('ok');
      expect(await outcome(urlAs(ownerUrl, APP_ROLES.writer, other.writer), 'SELECT 1')).toBe('28P01');
      const stored = await outcome(ownerUrl, "DO $$ BEGIN IF EXISTS (SELECT FROM pg_authid WHERE rolname LIKE 'data_handler_%' AND rolpassword NOT LIKE 'SCRAM-SHA-256$%') THEN RAISE 'clear'; END IF; END $$");
      expect(stored).toBe('ok'); // only SCRAM verifiers were sent and kept
    });

    it('let the writer store records and note, read and prune refusals, as the batch writer and `npm run dlq` do', async () => {
      const pool = createPool({ connection: writerUrl(), max: 1 });
      try {
        const batch = recordsToStore(3);
        const notes = new PgDeadLetterLog(pool);
        const refusal = { messageId: `m-${password()}`, reason: 'refused', sqlstate: '23514', receiveCount: 1 };

        const stored = await new PgRecordStore(pool).insertBatch(batch);
        // Both ways in: COPY (a batch of new rows), and the statement a redelivery falls back to.
        const copied = recordsToStore(300);
        expect(await new PgRecordStore(pool, { copyMinRecords: 1 }).insertBatch(copied)).toHaveLength(300);
        expect(await new PgRecordStore(pool, { copyMinRecords: 1 }).insertBatch(copied)).toEqual([]);
        await notes.noteRefusals([refusal]);
        await notes.noteRefusals([{ ...refusal, receiveCount: 2 }]); // the upsert: ON CONFLICT DO UPDATE
        const read = await notes.refusals([refusal.messageId]);

        expect(stored.map((r) => r.id).sort()).toEqual(batch.map((r) => r.id).sort());
        expect(read.get(refusal.messageId)).toMatchObject({ receiveCount: 2 });
        expect(await outcome(writerUrl(), `DELETE FROM dead_letters WHERE message_id = '${refusal.messageId}'`)).toBe('ok');
      } finally {
        await pool.end();
      }
    });

    it.each([
      ['delete records', 'DELETE FROM records'],
      ['update records', 'UPDATE records SET data = 0'],
      ['truncate records', 'TRUNCATE records'],
      ['drop a table', 'DROP TABLE dead_letters'],
      ['alter a table', 'ALTER TABLE records ADD COLUMN extra int'],
      ['create a table', 'CREATE TABLE public.mine (id int)'],
      ['create a temporary table', 'CREATE TEMP TABLE mine (id int)'],
      ['create a schema', 'CREATE SCHEMA mine'],
      ['create a role', 'CREATE ROLE mine'],
    ])('refuse the writer to %s', async (_what, sql) => {
      const result = await outcome(writerUrl(), sql);

      expect(result).toBe('42501'); // insufficient_privilege (or must be owner)
    });

    it('let the readers read records, and nothing else', async () => {
      const refused = await Promise.all(
        [
          'INSERT INTO records (id, user_id, data, date, accepted_at) VALUES (gen_random_uuid(), $$x$$, 1, now(), now())',
          'SELECT 1 FROM dead_letters',
          'DELETE FROM records',
          'CREATE TABLE public.mine (id int)',
          'CREATE TEMP TABLE mine (id int)',
        ].map((sql) => outcome(readerUrl(), sql)),
      );

      expect(await outcome(readerUrl(), 'SELECT id, user_id, data, date, accepted_at, stored_at FROM records LIMIT 1')).toBe('ok');
      expect(refused).toEqual(['42501', '42501', '42501', '42501', '42501']);
    });

    it('let no other user connect to the database, while the roles still may', async () => {
      const stranger = password();
      await outcome(ownerUrl, `CREATE ROLE stranger LOGIN PASSWORD '${stranger}'`);

      const result = await outcome(urlAs(ownerUrl, 'stranger', stranger), 'SELECT 1');

      expect(result).toBe('42501'); // permission denied for database
      expect(await outcome(readerUrl(), 'SELECT 1')).toBe('ok');
    });
  });
});
