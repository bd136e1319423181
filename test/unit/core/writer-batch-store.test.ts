/**
 * Isolating refused records by splitting a batch, over a store that refuses given record ids
 * (the real one, PostgreSQL, is in test/integration/writer-poison.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { storeMessages, type MessageRecords } from '../../../lambdas/core/batch-store';
import { RecordsRefusedError, StoreUnavailableError } from '../../../lambdas/core/errors';
import type { RecordStore, RecordToStore } from '../../../lambdas/core/ports';
import { recordsToStore } from '../../fixtures/records';

/** A store that refuses any statement holding one of `refused`, and counts its statements. */
function refusingStore(refused: ReadonlySet<string>, failAfter = Infinity) {
  const stored = new Set<string>();
  let statements = 0;
  const store: RecordStore = {
    async findStored() {
      return [];
    },
    async insertBatch(records: readonly RecordToStore[]) {
      if (++statements > failAfter) throw new StoreUnavailableError(new Error('connect ECONNREFUSED'), true);
      const bad = records.find((r) => refused.has(r.id));
      if (bad) throw new RecordsRefusedError({ reason: `refused ${bad.id}`, sqlstate: '23514' });
      const fresh = records.filter((r) => !stored.has(r.id));
      for (const r of fresh) stored.add(r.id);
      return fresh.map((r) => ({ ...r, stored_at: r.accepted_at }));
    },
  };
  return { store, stored, statements: () => statements };
}

const messages = (count: number, perMessage = 2): MessageRecords[] =>
  Array.from({ length: count }, (_, i) => ({ messageId: `m${i}`, records: recordsToStore(perMessage) }));
const always = { hasTime: () => true };

describe('storing a batch of messages', () => {
  it('stores a clean batch in one statement', async () => {
    const batch = messages(100);
    const { store } = refusingStore(new Set());

    const outcome = await storeMessages(batch, store, always);

    expect(outcome).toMatchObject({ statements: 1, refused: [], unavailable: [], unfinished: [] });
    expect(outcome.stored).toHaveLength(100);
    expect(outcome.inserted).toHaveLength(200);
  });

  it('isolates the two messages that hold refused records and stores every other record', async () => {
    // Arrange
    const batch = messages(1000);
    const bad = [batch[3]!.records[1]!.id, batch[777]!.records[0]!.id];
    const { store, stored, statements } = refusingStore(new Set(bad));

    // Act
    const outcome = await storeMessages(batch, store, always);

    // Assert
    expect(outcome.refused.map((r) => r.messageId)).toEqual(['m3', 'm777']);
    expect(outcome.refused[0]!.refusal).toEqual({ reason: `refused ${bad[0]}`, sqlstate: '23514' });
    expect(outcome.stored).toHaveLength(998);
    expect(stored.size).toBe(1996);
    expect(outcome.inserted).toHaveLength(1996);
    expect(statements()).toBe(outcome.statements);
    expect(outcome.statements).toBeLessThanOrEqual(2 * 2 * Math.ceil(Math.log2(1000)) + 1);
  });

  it('stops splitting when the store becomes unavailable, and returns every message not yet stored', async () => {
    const batch = messages(8);
    const { store } = refusingStore(new Set([batch[7]!.records[0]!.id]), 3);

    const outcome = await storeMessages(batch, store, always);

    // 1: all 8 refused; 2: m0–m3 stored; 3: m4–m7 refused; 4: unavailable.
    expect(outcome.stored).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(outcome.unavailable.sort()).toEqual(['m4', 'm5', 'm6', 'm7']);
    expect(outcome.error).toMatchObject({ name: 'StoreUnavailableError', unreachable: true });
    expect(outcome.refused).toEqual([]);
  });

  it('returns the rest untried when time runs short, but always tries the whole batch once', async () => {
    const batch = messages(4);
    const { store } = refusingStore(new Set([batch[0]!.records[0]!.id]));

    const outcome = await storeMessages(batch, store, { hasTime: () => false });

    expect(outcome.statements).toBe(1);
    expect(outcome.unfinished.sort()).toEqual(['m0', 'm1', 'm2', 'm3']);
  });

  it('wraps a failure of unknown kind as the store being unavailable', async () => {
    const store: RecordStore = { insertBatch: async () => Promise.reject(new TypeError('boom')), findStored: async () => [] };

    const outcome = await storeMessages(messages(2), store, always);

    expect(outcome.unavailable).toEqual(['m0', 'm1']);
    expect(outcome.error).toMatchObject({ name: 'StoreUnavailableError', unreachable: false });
  });
});
