import { describe, expect, it } from 'vitest';
import { byteLength, chunkBySize, utf8Length } from '../../../lambdas/core/chunking';
import { MAX_FRAME_BYTES, recordsFrames } from '../../../lambdas/core/frames';
import { storedRecord } from '../../fixtures/records';

describe('monitoring frames', () => {
  it('puts a small batch in one records frame', () => {
    const rows = [storedRecord(), storedRecord()];
    const frames = recordsFrames(rows);
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0]!)).toEqual({ type: 'records', records: rows });
  });

  it('splits a large batch so that no frame passes 128 KB, in order and complete', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => storedRecord({ data: i, user_id: `user-${i % 7}` }));
    const frames = recordsFrames(rows);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(byteLength(f)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(frames.flatMap((f) => JSON.parse(f).records)).toEqual(rows);
  });

  it('counts bytes, not characters, so multi-byte user ids cannot overflow a frame', () => {
    const rows = Array.from({ length: 3000 }, () => storedRecord({ user_id: 'ユーザー🙂'.repeat(4) }));
    for (const f of recordsFrames(rows)) expect(byteLength(f)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
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
