/**
 * Summary statistics and deadlines shared by the benchmarks.
 */

/** The median; the mean of the middle two for an even count. Throws on no samples. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The nearest-rank percentile (`p` from 0 to 100): always a value that was measured, so a p99
 * of 2,000 samples is the 1,980th slowest, not an interpolation between two requests.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** A point in time after which a bounded loop gives up with a message that names it. */
export class Deadline {
  private readonly at: number;

  constructor(
    private readonly what: string,
    readonly timeoutMs: number,
  ) {
    this.at = Date.now() + timeoutMs;
  }

  /** Milliseconds left, never below zero. */
  remainingMs(): number {
    return Math.max(0, this.at - Date.now());
  }

  /** Throws once the deadline has passed; `progress` says how far the loop got. */
  check(progress = ''): void {
    if (Date.now() > this.at) throw this.error(progress);
  }

  /** The error a loop fails with when its time is up. */
  error(progress = ''): Error {
    return new Error(`${this.what} did not finish within ${this.timeoutMs / 1000} s${progress ? ` (${progress})` : ''}`);
  }
}
