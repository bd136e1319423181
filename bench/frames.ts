/**
 * Frames: the cost of splitting stored rows into WebSocket frames under API Gateway's 128 KB
 * limit with `recordsFrames`, against one `JSON.stringify` of everything (what a naive
 * broadcaster would send, and API Gateway would refuse).
 */
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { byteLength } from '../lambdas/core/chunking';
import { MAX_FRAME_BYTES, recordsFrames, type RecordsFrame } from '../lambdas/core/frames';
import type { StoredRecord } from '../lambdas/core/record';
import { recordsToStore } from '../test/fixtures/records';
import { frameRecords } from '../web/monitor-client.js';
import { median } from './stats';
import { formatBytes, formatCount, formatFixed, formatRatio, type BenchTable } from './table';

/** How the frames benchmark is sized. */
export interface FramesOptions {
  /** @default 10_000 */
  readonly rows?: number;
  /** @default 5 */
  readonly runs?: number;
}

/**
 * A forced full GC, so each measurement starts from the same heap. `npm run bench` does not
 * pass --expose-gc, so the flag is set at run time and the function fetched from a new context.
 */
function gcFunction(): (() => void) | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as () => void;
  v8.setFlagsFromString('--expose-gc');
  const gc: unknown = vm.runInNewContext('gc');
  return typeof gc === 'function' ? (gc as () => void) : undefined;
}

/**
 * Rows shaped like `insertBatch`'s result: same keys, same order, one microsecond stored_at (one
 * statement), and the hard case for a frame: every record from an upload of its own, each with
 * its own acceptance time.
 */
function storedRows(count: number): StoredRecord[] {
  return recordsToStore(count, { userId: 'bench' }).map((r, i) => ({
    ...r,
    accepted_at: `2024-01-02T00:00:00.${String(i % 1_000_000).padStart(6, '0')}Z`,
    stored_at: '2024-01-02T00:00:01.123456Z',
  }));
}

interface Sample {
  readonly ms: number;
  /** Heap and external memory right after the call, before any forced GC: garbage included. */
  readonly grownBytes: number;
}

/** Runs the benchmark and returns its table; throws if a frame passes the limit or loses rows. */
export function runFramesBench(options: FramesOptions = {}): BenchTable {
  const count = options.rows ?? 10_000;
  const runs = options.runs ?? 5;
  const rows = storedRows(count);
  const gc = gcFunction();
  const memory = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };

  const variants: { label: string; run: () => string[] }[] = [
    {
      label: 'baseline: JSON.stringify of the whole array once',
      run: () => [JSON.stringify({ type: 'records', records: rows })],
    },
    { label: 'product: recordsFrames (≤ 128 KB each)', run: () => recordsFrames(rows).map((f) => f.data) },
  ];

  // Correctness first, untimed: every row arrives once, in order, and only the product fits.
  const outputs = variants.map((v) => v.run());
  const productFrames = outputs[1]!;
  const ids = productFrames.flatMap((f) => frameRecords(JSON.parse(f) as RecordsFrame).map((r) => r.id));
  if (ids.length !== count || ids.some((id, i) => id !== rows[i]!.id)) {
    throw new Error(`frames: recordsFrames returned ${ids.length} rows, or out of order; expected ${count}`);
  }
  if (productFrames.some((f) => byteLength(f) > MAX_FRAME_BYTES)) throw new Error('frames: a frame passes 128 KB');

  // Two untimed passes each, so both run as optimised code.
  for (let i = 0; i < 2; i++) for (const v of variants) v.run();

  const samples = variants.map(() => [] as Sample[]);
  for (let round = 0; round < runs; round++) {
    for (const [i, variant] of variants.entries()) {
      gc?.();
      const before = memory();
      const started = performance.now();
      const out = variant.run();
      const ms = performance.now() - started;
      samples[i]!.push({ ms, grownBytes: memory() - before });
      if (out.length === 0) throw new Error('frames: no output'); // keeps `out` alive until measured
    }
  }

  const baselineMs = median(samples[0]!.map((s) => s.ms));
  return {
    title: `Frames: ${formatCount(count)} stored rows into WebSocket messages, median of ${runs} runs`,
    columns: [
      { header: 'variant', align: 'left' },
      { header: 'median ms' },
      { header: 'vs baseline' },
      { header: 'frames' },
      { header: 'largest frame' },
      { header: 'all frames' },
      { header: 'fits 128 KB' },
      { header: 'peak heap+ext growth' },
    ],
    rows: variants.map((variant, i) => {
      const out = outputs[i]!;
      const sizes = out.map(byteLength);
      const ms = median(samples[i]!.map((s) => s.ms));
      return [
        variant.label,
        formatFixed(ms, 2),
        formatRatio(ms / baselineMs),
        formatCount(out.length),
        formatBytes(Math.max(...sizes)),
        formatBytes(sizes.reduce((a, b) => a + b, 0)),
        sizes.every((s) => s <= MAX_FRAME_BYTES) ? 'yes' : 'no',
        gc ? formatBytes(median(samples[i]!.map((s) => s.grownBytes))) : 'n/a (no gc)',
      ];
    }),
    notes: [
      '"vs baseline" here is variant ms ÷ baseline ms: the price of respecting the limit.',
      'Peak growth: heapUsed + external just after the call, from a heap just collected (median);',
      'garbage counts while no collection has run, so it is an approximate high-water mark.',
    ],
  };
}
