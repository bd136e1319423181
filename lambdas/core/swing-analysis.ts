/**
 * The swing analysis of the seed system, ported exactly (see test/fixtures/golden/swing/README.md,
 * whose twelve datasets it reproduces):
 *
 * 1. Records in the window, in date order. None: "No Data to merge".
 * 2. Batches anchored on records: the first batch starts at the first record's date; a record
 *    joins the open batch while `date < start + 5 min` (half-open), otherwise it starts a new
 *    batch at its own date. Empty batches never exist. Per batch: the average, and the
 *    population variance.
 * 3. Threshold = mean of the variances + their sample standard deviation (0 for one batch).
 *    A batch is kept when its variance reaches the threshold, or half of it (the soft keep).
 * 4. Among kept batches only, an inner batch whose average is strictly above both neighbours
 *    is `positive`, strictly below both `negative`. The first and last kept batches never
 *    signal. No signal at all: "No signals found".
 *
 * It consumes records one at a time, so a caller can stream millions from a database cursor;
 * only one small summary per batch is held.
 */
import { compareInstants, formatInstant, instantOf, type Instant } from './timestamp';

/** A batch is anchored at a record and spans five minutes, half-open. */
export const BATCH_SPAN_MS = 5 * 60_000;

export type SwingMessage = 'No Data to merge' | 'No signals found';

export interface SwingSignal {
  /** The batch's start: its first record's date, canonical UTC. */
  readonly time: string;
  readonly signal: 'positive' | 'negative';
  readonly average: number;
}

export interface SwingResult {
  readonly signals: SwingSignal[];
  readonly message: SwingMessage | null;
}

/** One batch of the analysis, for drawing it: its span, size, average, and whether it was kept. */
export interface SwingBatch {
  /** Its first record's date, canonical UTC. */
  readonly start: string;
  /** Its last record's date, canonical UTC. */
  readonly end: string;
  readonly count: number;
  readonly average: number;
  /** Whether its variance reached the threshold (or half of it): only kept batches can signal. */
  readonly kept: boolean;
}

interface Batch {
  readonly start: Instant;
  /** Exclusive end: start + 5 minutes. */
  readonly end: Instant;
  /** The latest record's date. */
  last: Instant;
  count: number;
  /** Exact integer sums: int32 values squared overflow a double's exact range. */
  sum: bigint;
  sumOfSquares: bigint;
}

/** Population variance of a batch: (nΣx² − (Σx)²) / n², exact until the one division. */
function populationVariance(b: Batch): number {
  const n = BigInt(b.count);
  return Number(n * b.sumOfSquares - b.sum * b.sum) / Number(n * n);
}

function average(b: Batch): number {
  // Σx / n: both exact in a double (|Σx| < 2^53 for fewer than 2^22 records per batch).
  return Number(b.sum) / b.count;
}

/** Mean and sample standard deviation, by Welford's method (stable for large, close values). */
function meanAndSampleStdev(values: readonly number[]): { mean: number; stdev: number } {
  let mean = 0;
  let m2 = 0;
  values.forEach((x, i) => {
    const delta = x - mean;
    mean += delta / (i + 1);
    m2 += delta * (x - mean);
  });
  return { mean, stdev: values.length > 1 ? Math.sqrt(m2 / (values.length - 1)) : 0 };
}

/** Feeds records in date order; `finish` gives the signals. */
export class SwingAnalyzer {
  private readonly batches: Batch[] = [];
  private last: Instant | undefined;

  /** Adds the next record. Records must come in date order (ties in any order). */
  add(record: { readonly data: number; readonly date: string }): void {
    const date = instantOf(record.date);
    if (this.last && compareInstants(date, this.last) < 0) {
      throw new RangeError(`records must arrive in date order: ${record.date} came after ${formatInstant(this.last)}`);
    }
    this.last = date;
    let open = this.batches.at(-1);
    if (!open || compareInstants(date, open.end) >= 0) {
      open = { start: date, end: { epochMs: date.epochMs + BATCH_SPAN_MS, micros: date.micros }, last: date, count: 0, sum: 0n, sumOfSquares: 0n };
      this.batches.push(open);
    }
    open.last = date;
    const x = BigInt(record.data);
    open.count++;
    open.sum += x;
    open.sumOfSquares += x * x;
  }

  finish(): SwingResult {
    return this.finishWithBatches().result;
  }

  /** The result, and every batch with whether it was kept: what a chart draws the analysis from. */
  finishWithBatches(): { result: SwingResult; batches: SwingBatch[] } {
    if (this.batches.length === 0) return { result: { signals: [], message: 'No Data to merge' }, batches: [] };
    const variances = this.batches.map(populationVariance);
    const { mean, stdev } = meanAndSampleStdev(variances);
    const threshold = mean + stdev;
    const keeps = variances.map((v) => v >= threshold || v >= threshold / 2);
    const kept = this.batches.filter((_, i) => keeps[i]);
    const signals: SwingSignal[] = [];
    for (let i = 1; i < kept.length - 1; i++) {
      const [prev, here, next] = [average(kept[i - 1]!), average(kept[i]!), average(kept[i + 1]!)];
      const signal = here > prev && here > next ? 'positive' : here < prev && here < next ? 'negative' : undefined;
      if (signal) signals.push({ time: formatInstant(kept[i]!.start), signal, average: here });
    }
    const batches = this.batches.map((b, i) => ({ start: formatInstant(b.start), end: formatInstant(b.last), count: b.count, average: average(b), kept: keeps[i]! }));
    return { result: signals.length > 0 ? { signals, message: null } : { signals: [], message: 'No signals found' }, batches };
  }
}

/** The analysis of records in any order (sorted here, stably by date). */
export function analyzeSwings(records: readonly { readonly data: number; readonly date: string }[]): SwingResult {
  const sorted = records
    .map((r, i) => ({ r, i, at: instantOf(r.date) }))
    .sort((a, b) => compareInstants(a.at, b.at) || a.i - b.i);
  const analyzer = new SwingAnalyzer();
  for (const { r } of sorted) analyzer.add(r);
  return analyzer.finish();
}
