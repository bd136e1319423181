import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { MIGRATIONS_DIR } from '../../lambdas/adapters/migrations';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { makeMigrateHandler } from '../../lambdas/handlers/migrate';
import { createDatabase } from '../../local/services';
import { lambdaContext } from '../fixtures/events';
import { queryOnce } from '../support/services';

const event = (RequestType: 'Create' | 'Update' | 'Delete', properties: Record<string, string> = {}) =>
  ({ RequestType, PhysicalResourceId: 'data-handler-schema', ResourceProperties: { ServiceToken: 'arn', ...properties } }) as unknown as CloudFormationCustomResourceEvent;

describe('the deploy-time migration custom resource', () => {
  it('applies the migrations on Create, nothing more on Update, and keeps the data on Delete', async () => {
    const url = await createDatabase(inject('adminDatabaseUrl'), 'migrate_cr');
    const migrate = makeMigrateHandler({ connection: async () => url });

    const created = await migrate(event('Create'), lambdaContext());
    const updated = await migrate(event('Update'), lambdaContext());
    const deleted = await migrate(event('Delete'), lambdaContext());

    const all = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort().map((f) => f.replace(/\.sql$/, ''));
    expect(all.length).toBeGreaterThan(0);
    expect(created).toEqual({ PhysicalResourceId: 'data-handler-schema', Data: { Applied: all.join(',') } });
    expect(updated.Data).toEqual({ Applied: 'none' });
    expect(deleted).toEqual({ PhysicalResourceId: 'data-handler-schema' });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    expect((await client.query("SELECT to_regclass('public.records') AS t")).rows[0].t).toBe('records');
    await client.end();
  });
});

describe('the migration resource\'s connection limits', () => {
  // Roles belong to the whole server, which other files use too: these have names of their own.
  const suffix = randomBytes(4).toString('hex');
  const roles = { writer: `cr_writer_${suffix}`, reader: `cr_reader_${suffix}` };
  const limitsOf = async (url: string) =>
    Object.fromEntries(
      (await queryOnce<{ rolname: string; rolconnlimit: number }>(url, 'SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = ANY($1::text[])', [Object.values(roles)]))
        .map((r) => [r.rolname, r.rolconnlimit]),
    );
  afterAll(async () => {
    await queryOnce(inject('adminDatabaseUrl'), `DROP ROLE IF EXISTS ${roles.writer}, ${roles.reader}`);
  });

  it('sets the ConnectionLimits property\'s limits on Create, and again on each Update', async () => {
    // Arrange
    const url = await createDatabase(inject('adminDatabaseUrl'), 'migrate_cr_limits');
    await queryOnce(url, `CREATE ROLE ${roles.writer} LOGIN`);
    await queryOnce(url, `CREATE ROLE ${roles.reader} LOGIN`);
    const migrate = makeMigrateHandler({ connection: async () => url });

    // Act
    const created = await migrate(event('Create', { ConnectionLimits: JSON.stringify({ [roles.writer]: 54, [roles.reader]: 15 }) }), lambdaContext());
    const afterCreate = await limitsOf(url);
    const updated = await migrate(event('Update', { ConnectionLimits: JSON.stringify({ [roles.writer]: 54, [roles.reader]: 20 }) }), lambdaContext());
    const afterUpdate = await limitsOf(url);

    // Assert
    expect(created.Data?.Applied).not.toBe('none');
    expect(afterCreate).toEqual({ [roles.writer]: 54, [roles.reader]: 15 });
    expect(updated.Data).toEqual({ Applied: 'none' });
    expect(afterUpdate).toEqual({ [roles.writer]: 54, [roles.reader]: 20 });
  });

  it.each([
    ['not JSON', '{data_handler_reader: 15}', /not JSON/],
    ['an array', '[15]', /not an object/],
    ['a limit of zero', '{"data_handler_reader":0}', /"data_handler_reader" must be a positive integer, or -1 for none; got 0/],
    ['a limit as a string', '{"data_handler_reader":"15"}', /"data_handler_reader" must be a positive integer, or -1 for none; got "15"/],
  ])('fails a request whose ConnectionLimits is %s, saying why, before connecting', async (_what, value, why) => {
    let connections = 0;
    const migrate = makeMigrateHandler({ connection: async () => (connections++, 'postgres://nobody@127.0.0.1:1/none') });

    const result = migrate(event('Update', { ConnectionLimits: value }), lambdaContext());

    await expect(result).rejects.toThrow(/^Invalid ConnectionLimits property: /);
    await expect(result).rejects.toThrow(why);
    expect(connections).toBe(0);
  });

  it('fails a request whose ConnectionLimits names a role that does not exist, naming it', async () => {
    const url = await createDatabase(inject('adminDatabaseUrl'), 'migrate_cr_limits_missing');
    const migrate = makeMigrateHandler({ connection: async () => url });

    const result = migrate(event('Create', { ConnectionLimits: `{"cr_nobody_${suffix}":5}` }), lambdaContext());

    await expect(result).rejects.toThrow(`Cannot set the connection limit of "cr_nobody_${suffix}": no such role`);
  });
});
