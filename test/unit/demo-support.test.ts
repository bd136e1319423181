import { describe, expect, it } from 'vitest';
import { analysisWindow, demoRecords, formatAnalysis, parseDemoArgs, percentile, progressStep, renderProgress, uploadBody } from '../../bin/demo-support';

describe('the demo client', () => {
  it('defaults to the seed workload: 1000 single-record uploads from 2 workers', () => {
    const parsed = parseDemoArgs([]);
    expect(parsed).toMatchObject({ kind: 'run', options: { count: 1000, concurrency: 2, batchSize: 1, url: 'http://127.0.0.1:3000' } });
  });

  it('takes --count, --concurrency and --batch-size, and refuses bad values by name', () => {
    expect(parseDemoArgs(['--count', '300', '--concurrency', '4', '--batch-size', '50'])).toMatchObject({ kind: 'run', options: { count: 300, concurrency: 4, batchSize: 50 } });
    const bad = parseDemoArgs(['--count', '0', '--batch-size', '1001']);
    expect(bad.kind).toBe('error');
    expect(bad.kind === 'error' && bad.message).toMatch(/--count[\s\S]*--batch-size/);
  });

  it('dates record i at start + i minutes with data in 1..100', () => {
    const records = demoRecords(Date.parse('2024-01-01T00:00:00Z'), 0, 3, () => 0.999);
    expect(records).toEqual([
      { data: 100, date: '2024-01-01T00:00:00.000Z' },
      { data: 100, date: '2024-01-01T00:01:00.000Z' },
      { data: 100, date: '2024-01-01T00:02:00.000Z' },
    ]);
    expect(uploadBody(records.slice(0, 1), 1)).toEqual(records[0]);
    expect(uploadBody(records, 3)).toEqual({ records });
  });

  it('reports percentiles by nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([], 50)).toBeUndefined();
  });

  it('draws pushed, sent and waiting records, and is full only when done', () => {
    expect(renderProgress({ total: 10, sent: 5, failed: 0, pushed: 2 }, 10)).toBe('[##===.....] 5/10 sent · 2 pushed');
    expect(renderProgress({ total: 10, sent: 10, failed: 0, pushed: 10 }, 10)).toBe('[##########] 10/10 sent · 10 pushed');
    expect(progressStep({ total: 10, sent: 10, failed: 0, pushed: 0 })).toBe(5);
  });
});

describe('the demo\'s closing analysis', () => {
  it('covers the minutes the records were dated', () => {

    expect(analysisWindow(Date.parse('2024-01-01T00:00:00Z'), 1000)).toEqual({ start_time: '2024-01-01T00:00:00Z', end_time: '2024-01-01T16:39:00Z' });
  });

  it('prints the counts and the first signals, or the message', () => {

    const text = formatAnalysis({ start_time: 'a', end_time: 'b', message: null, signals: [{ time: 't1', signal: 'positive', average: 60.5 }, { time: 't2', signal: 'negative', average: 40 }] });
    expect(text).toContain('2 signals: 1 positive, 1 negative');
    expect(text).toContain('t1  positive  average 60.50');
    expect(formatAnalysis({ start_time: 'a', end_time: 'b', message: 'No signals found', signals: [] })).toContain('No signals found');
  });
});
