import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoConnectionRegistry } from '../../lambdas/adapters/dynamo-connection-registry';
import type { Connection } from '../../lambdas/core/ports';
import { documentClient, freshTable } from '../support/services';

const connection = (connectionId: string, expiresAt: number, isAdmin = false): Connection => ({
  connectionId,
  userId: 'alice',
  isAdmin,
  connectedAt: '2024-01-01T00:00:00.000Z',
  expiresAt,
});

describe('DynamoConnectionRegistry on dynalite', () => {
  let doc: DynamoDBDocumentClient;
  let registry: DynamoConnectionRegistry;
  beforeAll(async () => {
    doc = documentClient();
    registry = new DynamoConnectionRegistry(doc, await freshTable());
  });
  afterAll(() => doc.destroy());

  it('adds, lists and removes connections', async () => {
    await registry.add(connection('a', 2_000, true));
    await registry.add(connection('b', 2_000));
    expect((await registry.list(1_000)).sort((x, y) => x.connectionId.localeCompare(y.connectionId))).toEqual([
      connection('a', 2_000, true),
      connection('b', 2_000),
    ]);
    await registry.remove('a');
    expect((await registry.list(1_000)).map((c) => c.connectionId)).toEqual(['b']);
  });

  it('skips expired connections even before the TTL deletes them', async () => {
    await registry.add(connection('old', 500));
    expect((await registry.list(1_000)).map((c) => c.connectionId)).not.toContain('old');
  });

  it('lists past one scan page (1 MB)', async () => {
    const many = Array.from({ length: 600 }, (_, i) => connection(`bulk-${i}-${'x'.repeat(1900)}`, 9_000));
    for (let i = 0; i < many.length; i += 25) await Promise.all(many.slice(i, i + 25).map((c) => registry.add(c)));
    const listed = await registry.list(1_000);
    expect(listed.filter((c) => c.connectionId.startsWith('bulk-'))).toHaveLength(600);
  });

  it('treats removing an unknown connection as done', async () => {
    await expect(registry.remove('never-existed')).resolves.toBeUndefined();
  });
});
