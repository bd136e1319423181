import { describe, expect, it } from 'vitest';
import { byteLength, chunkBySize, utf8Length } from '../../../lambdas/core/chunking';
import { frame, MAX_FRAME_BYTES, mergeMissed, missedOf, PROTOCOL_VERSION, recordsFrames } from '../../../lambdas/core/frames';
import { frameRecords } from '../../../web/monitor-client.js';
import { storedRecord } from '../../fixtures/records';

const recordsIn = (data: string) => frameRecords(JSON.parse(data));

describe('monitoring frames', () => {
  it('puts a small batch in one records frame, the fields its records share said once a group', () => {
    const [a, b] = [storedRecord(), storedRecord()];
    const frames = recordsFrames([a!, b!]);
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0]!.data)).toEqual({
      type: 'records',
      protocol_version: PROTOCOL_VERSION,
      groups: [{ user_id: a!.user_id, accepted_at: a!.accepted_at, stored_at: a!.stored_at, records: [a, b].map((r) => ({ id: r!.id, data: r!.data, date: r!.date })) }],
    });
    expect(recordsIn(frames[0]!.data)).toEqual([a, b]);
  });

  it('gives every frame its protocol version, right after its type, so a client can tell a shape it does not know', () => {
    const texts = [
      recordsFrames([storedRecord()])[0]!.data,
      frame({ type: 'missed', ...missedOf([storedRecord()]) }),
      frame({ type: 'status', level: 'info', stage: 'push', message: 'm', pending: 0 }),
      frame({ type: 'pong', time: '2024-01-01T00:00:00Z' }),
      frame({ type: 'error', code: 'invalid_json', message: 'm' }),
    ];

    for (const text of texts) {
      expect(text, text).toMatch(/^\{"type":"[a-z]+","protocol_version":\d+,/);
      expect(JSON.parse(text).protocol_version).toBe(PROTOCOL_VERSION);
    }
  });

  it('opens a new group wherever owner or store time changes, and keeps the order', () => {
    const rows = [
      storedRecord({ user_id: 'a' }),
      storedRecord({ user_id: 'b' }),
      storedRecord({ user_id: 'a' }),
      storedRecord({ user_id: 'a', accepted_at: '2024-01-01T00:00:05Z' }),
      storedRecord({ user_id: 'a', accepted_at: '2024-01-01T00:00:05Z', stored_at: '2024-01-01T00:00:09.000001Z' }),
      storedRecord({ user_id: 'a', accepted_at: '2024-01-01T00:00:05Z', stored_at: '2024-01-01T00:00:09.000001Z' }),
    ];
    const [only] = recordsFrames(rows);
    const groups = JSON.parse(only!.data).groups as { records: { accepted_at?: string }[] }[];
    expect(groups.map((g) => g.records.length)).toEqual([1, 1, 2, 2]);
    // The third group's second record came in another upload: it carries its own acceptance time.
    expect(groups[2]!.records.map((r) => r.accepted_at)).toEqual([undefined, '2024-01-01T00:00:05Z']);
    expect(recordsIn(only!.data)).toEqual(rows);
  });

  it('keeps single-record uploads of one batch compact: one group, each record with its own acceptance time', () => {
    // Canonical acceptance times, one millisecond apart, as the ingest function writes them.
    const rows = Array.from({ length: 900 }, (_, i) =>
      storedRecord({ data: i, date: '2024-01-01T00:00:00.123456Z', accepted_at: `2024-01-01T00:00:01.${String(i + 1).padStart(3, '0')}000Z` }),
    );
    const frames = recordsFrames(rows);
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0]!.data).groups).toHaveLength(1);
    expect(byteLength(frames[0]!.data) / rows.length).toBeLessThan(140);
    expect(recordsIn(frames[0]!.data)).toEqual(rows);
  });

  it('fits a batch of 1000 records of one upload in a single frame, at most about 100 bytes a record', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => storedRecord({ data: 2_000_000_000 - i, date: '2024-01-01T00:00:00.123456Z' }));
    const frames = recordsFrames(rows);
    expect(frames).toHaveLength(1);
    expect(byteLength(frames[0]!.data) / 1000).toBeLessThan(105);
  });
  it('splits a large batch so that no frame passes 128 KB, in order and complete', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => storedRecord({ data: i, user_id: `user-${i % 7}` }));
    const frames = recordsFrames(rows);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(byteLength(f.data)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(frames.flatMap((f) => recordsIn(f.data))).toEqual(rows);
  });

  it('tells, for each frame, how many records its loss would leave missed and when they were stored', () => {
    const at = (s: number, fraction = '') => `2024-01-01T00:00:${String(s).padStart(2, '0')}${fraction}Z`;
    // Out of order, and spelled as canonical text that does not sort as time does ("05Z" > "05.5Z").
    const rows = [storedRecord({ stored_at: at(5, '.500000') }), storedRecord({ stored_at: at(5) }), storedRecord({ stored_at: at(3) }), storedRecord({ stored_at: at(9) })];
    const frames = recordsFrames(rows, 2 * byteLength(JSON.stringify(rows[0])) + 40);

    expect(frames.length).toBeGreaterThan(1);
    expect(frames.map((f) => recordsIn(f.data).length)).toEqual(frames.map((f) => f.missed.count));
    expect(frames.reduce((n, f) => n + f.missed.count, 0)).toBe(4);
    expect(frames.map((f) => f.missed).reduce((a, b) => mergeMissed(a, b))).toEqual({ count: 4, stored_from: at(3), stored_to: at(9) });
    expect(missedOf(rows.slice(0, 2))).toEqual({ count: 2, stored_from: at(5), stored_to: at(5, '.500000') });
  });

  it('counts bytes, not characters, so multi-byte user ids cannot overflow a frame', () => {
    // A group each: the user id is in every group's head.
    const rows = Array.from({ length: 3000 }, (_, i) => storedRecord({ user_id: `ユーザー🙂${i}`.repeat(4) }));
    const frames = recordsFrames(rows);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(byteLength(f.data)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(frames.flatMap((f) => recordsIn(f.data))).toEqual(rows);
  });

  it('fills frames right up to the limit, a group split across two frames reopened in the second', () => {
    const rows = Array.from({ length: 7 }, (_, i) => storedRecord({ data: i }));
    const exact = byteLength(recordsFrames(rows.slice(0, 3))[0]!.data);
    const frames = recordsFrames(rows, exact);
    expect(frames.map((f) => f.missed.count)).toEqual([3, 3, 1]);
    expect(byteLength(frames[0]!.data)).toBe(exact);
    expect(frames.flatMap((f) => recordsIn(f.data))).toEqual(rows);
    expect(() => recordsFrames(rows, exact - 1)).not.toThrow();
    expect(recordsFrames(rows, exact - 1).map((f) => f.missed.count)).toEqual([2, 2, 2, 1]);
  });

  it('fills frames right up to the limit', () => {
    const docs = chunkBySize([1, 2, 3, 4, 5], '[1,2]'.length, (array) => array);
    expect(docs).toEqual(['[1,2]', '[3,4]', '[5]']);
  });

  it('makes no frame for no records, and refuses an item that can never fit', () => {
    expect(recordsFrames([])).toEqual([]);
    expect(() => recordsFrames([storedRecord({ user_id: 'x'.repeat(200) })], 100)).toThrow(RangeError);
    expect(() => chunkBySize(['x'.repeat(100)], 50, (array) => array)).toThrow(RangeError);
  });

  it('counts UTF-8 bytes exactly, surrogate pairs included', () => {
    for (const text of ['abc', 'é', '€', '🙂', 'a🙂é€', '\ud800 lone surrogate']) {
      expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'));
      expect(byteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
    }
  });
});
