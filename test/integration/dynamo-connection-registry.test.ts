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

  describe('what a connection is owed a missed frame for', () => {
    const span = (count: number, from: number, to: number) => ({
      count,
      stored_from: `2024-01-01T00:00:${String(from).padStart(2, '0')}Z`,
      stored_to: `2024-01-01T00:00:${String(to).padStart(2, '0')}Z`,
    });

    it('merges notes from concurrent writers without losing one, then hands it over once', async () => {
      // Arrange: the listing each writer works from, taken before any of them noted anything.
      await registry.add(connection('owed', 9_000));
      const listed = (await registry.list(1_000)).find((c) => c.connectionId === 'owed')!;

      // Act: 12 writers note at once, each from the same stale listing.
      const noted = await Promise.all(Array.from({ length: 12 }, (_, i) => registry.noteMissed('owed', span(i + 1, 10 + i, 20 + i), listed)));
      const takes = await Promise.all([registry.takeMissed('owed'), registry.takeMissed('owed')]);

      // Assert
      expect(noted.every(Boolean)).toBe(true);
      expect(takes.filter(Boolean)).toEqual([span(78, 10, 31)]); // 1 + 2 + … + 12, one taker
      expect(await registry.takeMissed('owed')).toBeUndefined();
      expect((await registry.list(1_000)).find((c) => c.connectionId === 'owed')!.missed).toBeUndefined();
    });

    it('never brings back the item of a connection that is gone', async () => {
      await registry.add(connection('leaving', 9_000));
      const listed = (await registry.list(1_000)).find((c) => c.connectionId === 'leaving')!;
      await registry.remove('leaving');

      expect(await registry.noteMissed('leaving', span(1, 1, 1), listed)).toBe(false);
      expect(await registry.noteMissed('leaving', span(1, 1, 1))).toBe(false);
      expect(await registry.takeMissed('leaving')).toBeUndefined();
      expect((await registry.list(0)).map((c) => c.connectionId)).not.toContain('leaving');
    });
  });
});
