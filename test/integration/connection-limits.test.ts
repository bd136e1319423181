/**
 * Per-role connection limits (applyConnectionLimits) on a real PostgreSQL: a role at its limit
 * is refused by the server itself while another role still connects; setting them again
 * changes nothing; a bad limit or a missing role is refused whole, naming the role.
 *
 * Roles belong to the whole server, which other files use at the same time, so these roles
 * have names of their own.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyConnectionLimits } from '../../lambdas/adapters/pg-roles';
import { urlAs } from '../../local/database-roles';
import { createDatabase } from '../../local/services';
import { queryOnce } from '../support/services';

describe('per-role connection limits', () => {
  const suffix = randomBytes(4).toString('hex');
  const roles = { reader: `limits_reader_${suffix}`, writer: `limits_writer_${suffix}` };
  const passwords = { reader: randomBytes(12).toString('hex'), writer: randomBytes(12).toString('hex') };
  const open: pg.Client[] = [];
  let admin: string;
  let database: string;

  /** Runs `sql` as the server's admin user, in this file's database. */
  const asAdmin = <T extends pg.QueryResultRow>(sql: string, values: unknown[] = []) => queryOnce<T>(database, sql, values);

  /** The limit PostgreSQL holds for each of this file's roles. */
  async function storedLimits(): Promise<Record<string, number>> {
    const rows = await asAdmin<{ rolname: string; rolconnlimit: number }>('SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = ANY($1::text[])', [Object.values(roles)]);
    return Object.fromEntries(rows.map((r) => [r.rolname, r.rolconnlimit]));
  }

  /** Opens a session as `role` and keeps it open; resolves with 'ok' or the SQLSTATE it was refused with. */
  async function connectAs(role: keyof typeof roles): Promise<string> {
    const client = new pg.Client({ connectionString: urlAs(database, roles[role], passwords[role]) });
    try {
      await client.connect();
      open.push(client);
      return 'ok';
    } catch (error) {
      await client.end().catch(() => undefined);
      return (error as { code?: string }).code ?? (error as Error).message;
    }
  }

  beforeAll(async () => {
    admin = inject('adminDatabaseUrl');
    database = await createDatabase(admin, 'connection_limits');
    // Plain login roles, as the application's are: a superuser would not be limited.
    for (const role of ['reader', 'writer'] as const) {
      await asAdmin(`CREATE ROLE ${roles[role]} LOGIN PASSWORD '${passwords[role]}'`);
    }
  });
  afterAll(async () => {
    await Promise.all(open.map((client) => client.end().catch(() => undefined)));
    // The sessions just ended may take a moment to leave the server; DROP ROLE does not wait for that.
    await asAdmin(`DROP ROLE IF EXISTS ${roles.reader}, ${roles.writer}`).catch(() => undefined);
  });

  it('refuses the reader a session past its limit (53300) while the writer still connects', async () => {
    // Arrange
    await applyConnectionLimits(admin, { [roles.reader]: 2, [roles.writer]: 3 });

    // Act
    const readers = [await connectAs('reader'), await connectAs('reader'), await connectAs('reader')];
    const writer = await connectAs('writer');

    // Assert
    expect(readers).toEqual(['ok', 'ok', '53300']); // too_many_connections, for the role
    expect(writer).toBe('ok');
  });

  it('can be applied again and again with the same outcome, and -1 lifts a limit', async () => {
    const limits = { [roles.reader]: 2, [roles.writer]: 3 };

    await applyConnectionLimits(admin, limits);
    await applyConnectionLimits(admin, limits);
    const twice = await storedLimits();
    await applyConnectionLimits(admin, { [roles.writer]: -1 });
    const lifted = await storedLimits();

    expect(twice).toEqual(limits);
    expect(lifted).toEqual({ [roles.reader]: 2, [roles.writer]: -1 });
  });

  it.each([
    ['zero, which would lock the role out', 0],
    ['below -1', -2],
    ['a fraction', 1.5],
    ['a string', '3'],
    ['past PostgreSQL\'s int4', 2 ** 31],
    ['not a number', Number.NaN],
  ])('refuses a limit that is %s, naming the role, and sets no other limit', async (_what, bad) => {
    await applyConnectionLimits(admin, { [roles.reader]: 2, [roles.writer]: 3 });

    const applied = applyConnectionLimits(admin, { [roles.reader]: 9, [roles.writer]: bad as number });

    await expect(applied).rejects.toThrow(`The connection limit of role "${roles.writer}" must be a positive integer, or -1 for none`);
    expect(await storedLimits()).toEqual({ [roles.reader]: 2, [roles.writer]: 3 });
  });

  it('refuses a role that does not exist, naming it, and sets no other limit', async () => {
    await applyConnectionLimits(admin, { [roles.reader]: 2, [roles.writer]: 3 });
    const missing = `limits_nobody_${suffix}`;

    const applied = applyConnectionLimits(admin, { [roles.reader]: 9, [missing]: 1 });

    await expect(applied).rejects.toThrow(`Cannot set the connection limit of "${missing}": no such role`);
    expect(await storedLimits()).toEqual({ [roles.reader]: 2, [roles.writer]: 3 });
  });
});
