import { describe, expect, it } from 'vitest';
import { analyzeSwings, SwingAnalyzer } from '../../../lambdas/core/swing-analysis';
import { goldenSets } from '../../fixtures/golden';

describe('swing analysis', () => {
  const sets = goldenSets();

  it('has all twelve public golden sets to check against', () => {
    expect(sets).toHaveLength(12);
  });

  it.each(sets.map((s) => [s.file, s] as const))('reproduces %s exactly', (_, set) => {
    const result = analyzeSwings(set.records);
    if (typeof set.expected === 'string') {
      expect(result).toEqual({ signals: [], message: set.expected });
    } else {
      expect(result.message).toBeNull();
      expect(result.signals).toEqual(set.expected);
    }
  });

  it('anchors batches on records with a half-open five minutes', () => {
    const result = analyzeSwings([
      { data: 0, date: '2001-01-01T00:00:00Z' },
      { data: 100, date: '2001-01-01T00:04:59.999999Z' }, // still the first batch
      { data: 50, date: '2001-01-01T00:05:00Z' }, // exactly +5 min: a new batch, anchored here
      { data: 50, date: '2001-01-01T00:09:59Z' },
      { data: 0, date: '2001-01-01T00:10:00Z' },
      { data: 100, date: '2001-01-01T00:10:01Z' },
    ]);
    // Variances 2500, 0, 2500: threshold 1666.67 + 1443.38, half of it 1555; the middle batch is dropped.
    expect(result).toEqual({ signals: [], message: 'No signals found' });
  });

  it('lists every batch for drawing: spans, averages, and kept ones that hold every signal', () => {
    const analyzer = new SwingAnalyzer();
    for (const r of [
      { data: 0, date: '2001-01-01T00:00:00Z' },
      { data: 100, date: '2001-01-01T00:04:59.999999Z' },
      { data: 50, date: '2001-01-01T00:05:00Z' },
      { data: 50, date: '2001-01-01T00:09:59Z' },
      { data: 0, date: '2001-01-01T00:10:00Z' },
      { data: 100, date: '2001-01-01T00:10:01Z' },
    ]) analyzer.add(r);

    const { result, batches } = analyzer.finishWithBatches();

    expect(result).toEqual({ signals: [], message: 'No signals found' });
    expect(batches).toEqual([
      { start: '2001-01-01T00:00:00Z', end: '2001-01-01T00:04:59.999999Z', count: 2, average: 50, kept: true },
      { start: '2001-01-01T00:05:00Z', end: '2001-01-01T00:09:59Z', count: 2, average: 50, kept: false },
      { start: '2001-01-01T00:10:00Z', end: '2001-01-01T00:10:01Z', count: 2, average: 50, kept: true },
    ]);
    for (const set of sets.filter((g) => typeof g.expected !== 'string')) {
      const streamed = new SwingAnalyzer();
      for (const r of [...set.records].sort((a, b) => Date.parse(a.date) - Date.parse(b.date))) streamed.add(r);
      const drawn = streamed.finishWithBatches();
      const keptStarts = new Map(drawn.batches.filter((b) => b.kept).map((b) => [b.start, b.average]));
      for (const signal of drawn.result.signals) expect(keptStarts.get(signal.time), set.file).toBe(signal.average);
      expect(drawn.batches.reduce((n, b) => n + b.count, 0), set.file).toBe(set.records.length);
    }
  });

  it('refuses records out of date order when streamed', () => {
    const analyzer = new SwingAnalyzer();
    analyzer.add({ data: 1, date: '2001-01-01T00:01:00Z' });
    expect(() => analyzer.add({ data: 1, date: '2001-01-01T00:00:00Z' })).toThrow(RangeError);
  });

  it('keeps exact sums at the int32 extremes', () => {
    const analyzer = new SwingAnalyzer();
    for (let i = 0; i < 1000; i++) analyzer.add({ data: i % 2 ? 2147483647 : -2147483648, date: '2001-01-01T00:00:00Z' });
    expect(analyzer.finish()).toEqual({ signals: [], message: 'No signals found' });
  });
});
