/**
 * The migration custom resource as deployed: when it runs (a digest of the migrations, not a
 * timestamp), what it waits for, and the connection limits it sets on every run.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationsHash, MIGRATIONS_DIR } from '../../lambdas/adapters/migrations';
import { APP_ROLES } from '../../lambdas/adapters/pg-roles';
import { parseConnectionLimits } from '../../lambdas/handlers/migrate';
import { synth } from './stack';

type Resource = { Properties: Record<string, any>; DependsOn?: string[] };
const schemaOf = (built: ReturnType<typeof synth>) => {
  const found = Object.values(built.template.findResources('Custom::DataHandlerSchema')) as Resource[];
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe('the schema migration resource', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'dh-migrations-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('carries a digest of the migration files instead of a timestamp, so two synths agree and cdk diff stays empty', () => {
    const first = schemaOf(synth()).Properties;
    const second = schemaOf(synth()).Properties;
    expect(first.MigrationsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(second.MigrationsHash).toBe(first.MigrationsHash);
    expect(first.MigrationsHash).toBe(migrationsHash(MIGRATIONS_DIR));
    expect(Object.keys(first).sort()).toEqual(['ConnectionLimits', 'Endpoint', 'MigrationsHash', 'ServiceToken']);
  });

  it('changes its digest when a migration file changes or is added, and only then', () => {
    const dir = path.join(scratch, 'migrations');
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const original = migrationsHash(dir);
    expect(original).toBe(migrationsHash(MIGRATIONS_DIR));
    writeFileSync(path.join(dir, 'notes.txt'), 'not a migration');
    expect(migrationsHash(dir)).toBe(original);
    writeFileSync(path.join(dir, '9999999999999_more.sql'), 'SELECT 1;');
    const added = migrationsHash(dir);
    expect(added).not.toBe(original);
    writeFileSync(path.join(dir, '9999999999999_more.sql'), 'SELECT 2;');
    expect(migrationsHash(dir)).not.toBe(added);
  });

  it('runs again when the database endpoint changes (a new instance, or the proxy switched)', () => {
    expect(JSON.stringify(schemaOf(synth()).Properties.Endpoint)).toContain('DatabaseProxy');
    expect(JSON.stringify(schemaOf(synth({ useRdsProxy: false })).Properties.Endpoint)).toContain('Endpoint.Address');
  });

  it('waits for the instance and the proxy with its registered target', () => {
    const built = synth();
    const schema = schemaOf(built);
    const proxyParts = [...Object.keys(built.template.findResources('AWS::RDS::DBProxy')), ...Object.keys(built.template.findResources('AWS::RDS::DBProxyTargetGroup'))];
    expect(proxyParts).toHaveLength(2);
    expect(schema.DependsOn).toEqual(expect.arrayContaining([...proxyParts, ...Object.keys(built.template.findResources('AWS::RDS::DBInstance'))]));
  });

  it('passes connection limits the function accepts, for application roles only, the readers limited', () => {
    const text = schemaOf(synth()).Properties.ConnectionLimits;

    const limits = parseConnectionLimits(text);

    expect(Object.keys(limits).every((role) => (Object.values(APP_ROLES) as string[]).includes(role))).toBe(true);
    expect(limits[APP_ROLES.reader]).toBeGreaterThan(0);
  });

  it('shows what the last run applied as a stack output, and names the function that re-runs it', () => {
    const outputs = synth().template.findOutputs('*');
    expect(outputs.SchemaMigrations?.Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^MigrationSchema/), 'Applied'] });
    expect(outputs.MigrateFunctionName?.Value).toEqual({ Ref: expect.stringMatching(/^MigrationFunction/) });
  });

  it('gives its function the catalogue\'s timeout, with time for the retries', () => {
    const functions = Object.values(synth().template.findResources('AWS::Lambda::Function')) as Resource[];
    const migrate = functions.find((f) => (f.Properties.Tags ?? []).some((t: { Value: string }) => t.Value === 'migrate'))!;
    expect(migrate.Properties.Timeout).toBe(300);
    expect(migrate.Properties.Environment.Variables.MIGRATIONS_DIR).toBe('/var/task/migrations');
  });
});
