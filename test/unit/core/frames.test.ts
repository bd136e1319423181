import { describe, expect, it } from 'vitest';
import { byteLength, chunkBySize, utf8Length } from '../../../lambdas/core/chunking';
import { MAX_FRAME_BYTES, mergeMissed, missedOf, recordsFrames } from '../../../lambdas/core/frames';
import { storedRecord } from '../../fixtures/records';

describe('monitoring frames', () => {
  it('puts a small batch in one records frame', () => {
    const rows = [storedRecord(), storedRecord()];
    const frames = recordsFrames(rows);
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0]!.data)).toEqual({ type: 'records', records: rows });
  });

  it('splits a large batch so that no frame passes 128 KB, in order and complete', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => storedRecord({ data: i, user_id: `user-${i % 7}` }));
    const frames = recordsFrames(rows);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(byteLength(f.data)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(frames.flatMap((f) => JSON.parse(f.data).records)).toEqual(rows);
  });

  it('tells, for each frame, how many records its loss would leave missed and when they were stored', () => {
    const at = (s: number, fraction = '') => `2024-01-01T00:00:${String(s).padStart(2, '0')}${fraction}Z`;
    // Out of order, and spelled as canonical text that does not sort as time does ("05Z" > "05.5Z").
    const rows = [storedRecord({ stored_at: at(5, '.500000') }), storedRecord({ stored_at: at(5) }), storedRecord({ stored_at: at(3) }), storedRecord({ stored_at: at(9) })];
    const frames = recordsFrames(rows, 2 * byteLength(JSON.stringify(rows[0])) + 40);

    expect(frames.map((f) => JSON.parse(f.data).records.length)).toEqual(frames.map((f) => f.missed.count));
    expect(frames.reduce((n, f) => n + f.missed.count, 0)).toBe(4);
    expect(frames.map((f) => f.missed).reduce((a, b) => mergeMissed(a, b))).toEqual({ count: 4, stored_from: at(3), stored_to: at(9) });
    expect(missedOf(rows.slice(0, 2))).toEqual({ count: 2, stored_from: at(5), stored_to: at(5, '.500000') });
  });

  it('counts bytes, not characters, so multi-byte user ids cannot overflow a frame', () => {
    const rows = Array.from({ length: 3000 }, () => storedRecord({ user_id: 'ユーザー🙂'.repeat(4) }));
    for (const f of recordsFrames(rows)) expect(byteLength(f.data)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  it('fills frames right up to the limit', () => {
    const docs = chunkBySize([1, 2, 3, 4, 5], '[1,2]'.length, (array) => array);
    expect(docs).toEqual(['[1,2]', '[3,4]', '[5]']);
  });

  it('makes no frame for no records, and refuses an item that can never fit', () => {
    expect(recordsFrames([])).toEqual([]);
    expect(() => chunkBySize(['x'.repeat(100)], 50, (array) => array)).toThrow(RangeError);
  });

  it('counts UTF-8 bytes exactly, surrogate pairs included', () => {
    for (const text of ['abc', 'é', '€', '🙂', 'a🙂é€', '\ud800 lone surrogate']) {
      expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'));
      expect(byteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
    }
  });
});
