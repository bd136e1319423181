import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { MIGRATIONS_DIR } from '../../lambdas/adapters/migrations';
import { describe, expect, inject, it } from 'vitest';
import { makeMigrateHandler } from '../../lambdas/handlers/migrate';
import { createDatabase } from '../../local/services';
import { lambdaContext } from '../fixtures/events';

const event = (RequestType: 'Create' | 'Update' | 'Delete') =>
  ({ RequestType, PhysicalResourceId: 'data-handler-schema', ResourceProperties: {} }) as unknown as CloudFormationCustomResourceEvent;

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
