/**
 * What each function ships: bundles within their size budgets, source maps without the
 * sources, and only the SDK clients the function's bindings need (a module that loaded every
 * client, or a zod import that kept the whole namespace, would break these).
 */
import { readFile, stat } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { databaseRoleOf, FUNCTION_SPECS, type Binding, type FunctionName } from '../../lambdas/functions';
import { bundleFunctions, type FunctionBundles } from '../../local/bundles';

/** The SDK packages each binding needs at run time. */
const SDK_FOR: Record<Binding, readonly string[]> = {
  'enqueue-records': ['@aws-sdk/client-sqs'],
  'database-owner': ['@aws-sdk/client-secrets-manager'],
  'database-writer': ['@aws-sdk/client-secrets-manager'],
  'database-reader': ['@aws-sdk/client-secrets-manager'],
  'create-database-roles': ['@aws-sdk/client-secrets-manager'],
  'keep-partitions': [],
  'register-connections': ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
  'unregister-connections': ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
  'push-to-connections': ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-apigatewaymanagementapi'],
  'report-missed': ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-apigatewaymanagementapi'],
  'verify-tokens': [],
  'log-in-users': ['@aws-sdk/client-cognito-identity-provider'],
  'count-failed-logins': ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
  'claim-idempotency-keys': ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
  'delay-redelivery': ['@aws-sdk/client-sqs'],
  'note-pipeline-state': ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
  'read-pipeline-status': ['@aws-sdk/client-sqs', '@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
};

/**
 * Size budgets: a function that touches no database stays small; the others carry pg. The
 * openapi function serves documents generated at build time (lambdas/contracts/) and converts
 * no schema, so it stays within the small budget too.
 */
const budgetKiB = (_name: FunctionName, bindings: readonly Binding[]) => (databaseRoleOf({ bindings }) ? 250 : 100);

describe('the function bundles', () => {
  let bundles: FunctionBundles;
  beforeAll(async () => {
    bundles = await bundleFunctions(FUNCTION_SPECS);
  });

  const cases = FUNCTION_SPECS.map((s) => [s.name, s] as const);

  it.each(cases)('keep %s within its size budget', async (name, spec) => {
    const { size } = await stat(bundles.files[name as FunctionName]);

    expect(size / 1024).toBeLessThanOrEqual(budgetKiB(name as FunctionName, spec.bindings));
  });

  it.each(cases)('give %s a source map with names and lines but not the sources', async (name) => {
    const map = JSON.parse(await readFile(`${bundles.files[name as FunctionName]}.map`, 'utf8')) as { sources: string[]; sourcesContent?: unknown };

    expect(map.sources.length).toBeGreaterThan(0);
    expect(map.sourcesContent).toBeUndefined();
  });

  it.each(cases)('make %s load only the SDK clients its bindings need', async (name, spec) => {
    const code = await readFile(bundles.files[name as FunctionName], 'utf8');
    const imported = new Set([...code.matchAll(/(?:from|import)\s*"(@aws-sdk\/[^"/]+(?:\/[^"]+)?)"/g)].map((m) => m[1]!));

    expect([...imported].sort()).toEqual([...new Set(spec.bindings.flatMap((b) => SDK_FOR[b]))].sort());
  });
});
