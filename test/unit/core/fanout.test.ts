/**
 * The fan-out's rules, over in-memory ports. Throttling (HTTP 429) has no local equivalent, so
 * the broadcaster here is scripted; the integration tests run the same code against the local
 * WebSocket gateway.
 */
import { describe, expect, it } from 'vitest';
import { ThrottledError } from '../../../lambdas/core/errors';
import { PROTOCOL_VERSION, recordsFrames } from '../../../lambdas/core/frames';
import { DEFAULT_FANOUT, pushRecords, pushStatus, recordTargets, reportMissed, type FanoutOptions } from '../../../lambdas/core/fanout';
import type { Broadcaster, Connection, PostOutcome } from '../../../lambdas/core/ports';
import { storedRecord } from '../../fixtures/records';
import { MemoryRegistry } from '../../support/memory-registry';
import { frameRecords } from '../../../web/monitor-client.js';

function connection(connectionId: string, userId: string, isAdmin = false): Connection {
  return { connectionId, userId, isAdmin, connectedAt: '2024-01-01T00:00:00Z', expiresAt: 4_000_000_000 };
}

class ScriptedBroadcaster implements Broadcaster {
  posts: { connectionId: string; data: string }[] = [];
  constructor(private readonly script: (connectionId: string, attempt: number) => PostOutcome | 'throttle' | 'fail' = () => 'delivered') {}
  private attempts = new Map<string, number>();
  async post(connectionId: string, data: string): Promise<PostOutcome> {
    const attempt = (this.attempts.get(connectionId) ?? 0) + 1;
    this.attempts.set(connectionId, attempt);
    const outcome = this.script(connectionId, attempt);
    if (outcome === 'throttle') throw new ThrottledError('429');
    if (outcome === 'fail') throw new Error('boom');
    if (outcome === 'delivered') this.posts.push({ connectionId, data });
    return outcome;
  }
  recordsFor(connectionId: string) {
    return this.posts.filter((p) => p.connectionId === connectionId).flatMap((p) => frameRecords(JSON.parse(p.data)));
  }
}

const options = (overrides: Partial<FanoutOptions> = {}): FanoutOptions => ({
  ...DEFAULT_FANOUT,
  remainingMs: () => 60_000,
  sleep: async () => undefined,
  ...overrides,
});

describe('fan-out of stored records', () => {
  it('sends an admin every record and a user only their own', async () => {
    const registry = new MemoryRegistry([connection('admin', 'root', true), connection('a', 'alice'), connection('b', 'bob'), connection('c', 'carol')]);
    const broadcaster = new ScriptedBroadcaster();
    const rows = [storedRecord({ user_id: 'alice' }), storedRecord({ user_id: 'bob' }), storedRecord({ user_id: 'alice' })];

    const report = await pushRecords(rows, { registry, broadcaster }, options());

    expect(broadcaster.recordsFor('admin')).toEqual(rows);
    expect(broadcaster.recordsFor('a')).toEqual([rows[0], rows[2]]);
    expect(broadcaster.recordsFor('b')).toEqual([rows[1]]);
    expect(broadcaster.recordsFor('c')).toEqual([]);
    expect(report).toMatchObject({ connections: 3, framesDelivered: 3, gone: 0, failed: 0, skipped: 0 });
  });

  it('removes a connection that answers 410 and goes on with the others', async () => {
    const registry = new MemoryRegistry([connection('gone', 'alice'), connection('live', 'alice')]);
    const broadcaster = new ScriptedBroadcaster((id) => (id === 'gone' ? 'gone' : 'delivered'));

    const report = await pushRecords([storedRecord()], { registry, broadcaster }, options());

    expect(registry.items.map((c) => c.connectionId)).toEqual(['live']);
    expect(report).toMatchObject({ gone: 1, framesDelivered: 1 });
  });

  it('retries a throttled post with back-off until it is delivered', async () => {
    const registry = new MemoryRegistry([connection('a', 'alice')]);
    const pauses: number[] = [];
    const broadcaster = new ScriptedBroadcaster((_, attempt) => (attempt < 3 ? 'throttle' : 'delivered'));

    const report = await pushRecords([storedRecord()], { registry, broadcaster }, options({ sleep: async (ms) => void pauses.push(ms) }));

    expect(report.framesDelivered).toBe(1);
    expect(pauses).toHaveLength(2);
    expect(pauses[0]).toBeLessThanOrEqual(DEFAULT_FANOUT.baseDelayMs);
    expect(pauses[1]).toBeLessThanOrEqual(DEFAULT_FANOUT.baseDelayMs * 2);
  });

  it('gives up on a connection after the last attempt without failing the others', async () => {
    const registry = new MemoryRegistry([connection('slow', 'alice'), connection('ok', 'alice')]);
    const broadcaster = new ScriptedBroadcaster((id) => (id === 'slow' ? 'throttle' : 'delivered'));

    const report = await pushRecords([storedRecord()], { registry, broadcaster }, options());

    expect(report).toMatchObject({ framesDelivered: 1, failed: 1 });
    expect(registry.items).toHaveLength(2);
  });

  it('stops starting posts when the invocation is about to run out of time', async () => {
    const registry = new MemoryRegistry(Array.from({ length: 10 }, (_, i) => connection(`c${i}`, 'alice')));
    let remaining = 5_000;
    const broadcaster = new ScriptedBroadcaster(() => {
      remaining -= 1_000;
      return 'delivered';
    });

    const report = await pushRecords([storedRecord()], { registry, broadcaster }, options({ concurrency: 1, remainingMs: () => remaining }));

    expect(report.framesDelivered).toBe(5); // at 1000 ms left it still posts; below it, it stops
    expect(report.skipped).toBe(5);
  });

  it('never has more posts in flight than the concurrency allows', async () => {
    const registry = new MemoryRegistry(Array.from({ length: 40 }, (_, i) => connection(`c${i}`, 'alice')));
    let inFlight = 0;
    let peak = 0;
    const broadcaster: Broadcaster = {
      post: async () => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        return 'delivered';
      },
    };

    await pushRecords([storedRecord()], { registry, broadcaster }, options({ concurrency: 5 }));

    expect(peak).toBe(5);
  });

  it('builds each user\'s frames once, however many connections they have', () => {
    const targets = recordTargets([connection('a1', 'alice'), connection('a2', 'alice')], [storedRecord()]);
    expect(targets[0]!.frames).toBe(targets[1]!.frames);
  });
});

describe('no silent loss: what a connection does not get is owed to it as a missed frame', () => {
  const at = (s: number) => `2024-01-01T00:00:${String(s).padStart(2, '0')}Z`;

  it('notes the frames skipped at the deadline on each skipped connection, with the span they were stored in', async () => {
    const registry = new MemoryRegistry(Array.from({ length: 4 }, (_, i) => connection(`c${i}`, 'alice')));
    let remaining = 3_000;
    const broadcaster = new ScriptedBroadcaster(() => {
      remaining -= 1_000;
      return 'delivered';
    });
    const rows = [storedRecord({ user_id: 'alice', stored_at: at(7) }), storedRecord({ user_id: 'alice', stored_at: at(2) })];

    const report = await pushRecords(rows, { registry, broadcaster }, options({ concurrency: 1, remainingMs: () => remaining }));

    expect(report).toMatchObject({ framesDelivered: 3, skipped: 1, missedNoted: 1, missedUnnoted: 0 });
    expect(registry.items.find((c) => c.connectionId === 'c3')!.missed).toEqual({ count: 2, stored_from: at(2), stored_to: at(7) });
    expect(registry.items.filter((c) => c.missed)).toHaveLength(1);
  });

  it('notes a frame that failed after its retries, and merges it with what was owed before', async () => {
    const registry = new MemoryRegistry([{ ...connection('slow', 'alice'), missed: { count: 5, stored_from: at(1), stored_to: at(3) } }]);
    const broadcaster = new ScriptedBroadcaster(() => 'throttle');

    const report = await pushRecords([storedRecord({ user_id: 'alice', stored_at: at(9) })], { registry, broadcaster }, options());

    // The owed missed frame was taken, then failed too: both are owed again, as one.
    expect(report).toMatchObject({ failed: 2, missedNoted: 1 });
    expect(registry.items[0]!.missed).toEqual({ count: 6, stored_from: at(1), stored_to: at(9) });
  });

  it('gives a connection already owed a missed frame one attempt, no back-off, while a fresh one gets its retries', async () => {
    // Arrange: both refuse every post (a full buffer: 429).
    const registry = new MemoryRegistry([{ ...connection('owed', 'alice'), missed: { count: 1, stored_from: at(1), stored_to: at(1) } }, connection('fresh', 'alice')]);
    const attempts = new Map<string, number>();
    const broadcaster = new ScriptedBroadcaster((id, attempt) => {
      attempts.set(id, attempt);
      return 'throttle';
    });

    // Act
    await pushRecords([storedRecord({ user_id: 'alice', stored_at: at(9) })], { registry, broadcaster }, options());

    // Assert
    expect(attempts.get('owed')).toBe(1);
    expect(attempts.get('fresh')).toBe(DEFAULT_FANOUT.maxAttempts);
    expect(registry.items.every((c) => c.missed !== undefined)).toBe(true);
  });

  it('sends what was owed first, as a missed frame of its own, then the new records, and clears the debt', async () => {
    const owed = { count: 12, stored_from: at(1), stored_to: at(4) };
    const registry = new MemoryRegistry([{ ...connection('a', 'alice'), missed: owed }, { ...connection('b', 'bob'), missed: owed }]);
    const broadcaster = new ScriptedBroadcaster();
    const row = storedRecord({ user_id: 'alice', stored_at: at(5) });

    const report = await pushRecords([row], { registry, broadcaster }, options());

    // bob has no record in this batch, and still hears of his loss.
    const postsTo = (id: string) => broadcaster.posts.filter((p) => p.connectionId === id).map((p) => p.data);
    expect(postsTo('a')).toEqual([JSON.stringify({ type: 'missed', protocol_version: PROTOCOL_VERSION, ...owed }), recordsFrames([row])[0]!.data]);
    expect(postsTo('b')).toEqual([JSON.stringify({ type: 'missed', protocol_version: PROTOCOL_VERSION, ...owed })]);
    expect(report.missedReported).toBe(2);
    expect(registry.items.every((c) => c.missed === undefined)).toBe(true);
  });

  it('says so when a loss cannot even be noted, so that the caller pushes the batch again', async () => {
    const registry = new MemoryRegistry([connection('a', 'alice')]);
    registry.noteMissed = async () => Promise.reject(new Error('DynamoDB unavailable'));
    const broadcaster = new ScriptedBroadcaster(() => 'fail');

    const report = await pushRecords([storedRecord({ user_id: 'alice' })], { registry, broadcaster }, options());

    expect(report).toMatchObject({ failed: 1, missedNoted: 0, missedUnnoted: 1 });
  });

  it('reports what is owed on a ping, and keeps it owed when that post fails', async () => {
    const owed = { count: 3, stored_from: at(1), stored_to: at(2) };
    const registry = new MemoryRegistry([{ ...connection('a', 'alice'), missed: owed }]);

    await expect(reportMissed('a', { registry, broadcaster: new ScriptedBroadcaster(() => 'fail') })).rejects.toThrow('boom');
    expect(registry.items[0]!.missed).toEqual(owed);

    const broadcaster = new ScriptedBroadcaster();
    expect(await reportMissed('a', { registry, broadcaster })).toBe('reported');
    expect(broadcaster.posts).toEqual([{ connectionId: 'a', data: JSON.stringify({ type: 'missed', protocol_version: PROTOCOL_VERSION, ...owed }) }]);
    expect(await reportMissed('a', { registry, broadcaster })).toBe('none');
  });
});

describe('status frames', () => {
  it('go to admins only', async () => {
    const registry = new MemoryRegistry([connection('admin', 'root', true), connection('a', 'alice')]);
    const broadcaster = new ScriptedBroadcaster();

    await pushStatus({ level: 'error', stage: 'store', message: 'down', pending: 7 }, { registry, broadcaster }, options());

    expect(broadcaster.posts).toEqual([
      { connectionId: 'admin', data: JSON.stringify({ type: 'status', protocol_version: PROTOCOL_VERSION, level: 'error', stage: 'store', message: 'down', pending: 7 }) },
    ]);
  });
});
