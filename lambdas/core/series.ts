/**
 * The series query: a window's records summed up per time bucket (count, min, max, average of
 * `data`), so that a chart of a day or a year needs a thousand points, not every record.
 * Buckets are aligned to SERIES_ORIGIN + k × bucket, as PostgreSQL's date_bin aligns them.
 */
import { ValidationError } from './errors';
import type { SeriesBucket, TimeWindow, UserSeries } from './ports';
import { parseTimestamp } from './timestamp';

/** Where buckets are aligned from: every bucket starts a whole number of buckets after it. */
export const SERIES_ORIGIN = '2000-01-01T00:00:00Z';
/** Buckets one answer may hold at most. */
export const MAX_BUCKETS = 10_000;
/** Buckets the automatic choice aims to stay within. */
export const TARGET_BUCKETS = 1_000;
/**
 * With `group_by=user`: buckets one answer may hold at most (each comes up to 2 + MAX_SERIES_USERS
 * times: everyone, each named user, the other users), so the answer stays under a megabyte.
 */
export const MAX_GROUPED_BUCKETS = 1_000;
/** With `group_by=user`: the users named, those with the most records in the window; the rest are summed. */
export const MAX_SERIES_USERS = 8;

const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;
type Unit = keyof typeof UNIT_SECONDS;

/** The sizes the automatic choice picks from: round ones a chart's axis reads well. */
const BUCKET_STEPS: readonly number[] = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
  // Weeks to years, for windows past a year: whole days, read from the daily rollups.
  1_209_600, 2_592_000, 7_776_000, 31_536_000, 315_360_000,
];

/** The largest bucket: ten years. */
export const MAX_BUCKET_DAYS = 3_660;

/**
 * Windows longer than this (a year, MAX_WINDOW_DAYS) take buckets of whole minutes only, which
 * the rollups serve, so a series over decades never scans raw rows beyond its ragged ends.
 */
export const RAW_SERIES_MAX_DAYS = 366;

/** A bucket's size in seconds, and its name (`15m`). */
export interface Bucket {
  readonly seconds: number;
  readonly name: string;
}

/** `seconds` as its shortest name: `90s`, `15m`, `6h`, `7d`. */
export function bucketName(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    if (seconds % UNIT_SECONDS[unit] === 0) return `${seconds / UNIT_SECONDS[unit]}${unit}`;
  }
  return `${seconds}s`;
}

function spanSeconds(window: TimeWindow): number {
  const start = parseTimestamp(window.start);
  const end = parseTimestamp(window.end);
  if (typeof start === 'string' || typeof end === 'string') throw new Error('series: the window is not canonical');
  return Math.max(0, (end.epochMs - start.epochMs) / 1000);
}

/** How many buckets of `seconds` the window touches at most (its ends can fall in partial ones). */
function bucketsIn(span: number, seconds: number): number {
  return Math.floor(span / seconds) + 2;
}

/**
 * `bucket`: `<n>s`, `<n>m`, `<n>h` or `<n>d`, at most MAX_BUCKETS of them in the window; absent,
 * the smallest round size that keeps the window within TARGET_BUCKETS.
 */
export function parseBucket(params: Readonly<Record<string, string | undefined>>, window: TimeWindow, maxBuckets = MAX_BUCKETS): Bucket {
  const span = spanSeconds(window);
  const raw = params.bucket;
  const long = span > RAW_SERIES_MAX_DAYS * 86_400;
  if (raw === undefined) {
    // Ten-year buckets keep even 9,999 years within TARGET_BUCKETS.
    const seconds = BUCKET_STEPS.find((step) => bucketsIn(span, step) <= TARGET_BUCKETS && (!long || step % 60 === 0)) ?? BUCKET_STEPS.at(-1)!;
    return { seconds, name: bucketName(seconds) };
  }
  const match = /^([1-9]\d{0,6})([smhd])$/.exec(raw);
  const fail = (message: string): never => {
    throw new ValidationError('The query parameters are not valid.', [{ path: 'bucket', message }]);
  };
  if (!match) return fail('must be a whole number and a unit, such as 10s, 1m, 1h or 1d');
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as Unit];
  if (seconds > MAX_BUCKET_DAYS * 86_400) return fail(`must be at most ${MAX_BUCKET_DAYS}d`);
  if (long && seconds % 60 !== 0) return fail(`must be a whole number of minutes (such as 1m, 1h or 1d) for a window longer than ${RAW_SERIES_MAX_DAYS} days`);
  if (bucketsIn(span, seconds) > maxBuckets) {
    return fail(`makes more than ${maxBuckets} buckets of this window; take at least ${bucketName(smallestFitting(span, long, maxBuckets))}`);
  }
  return { seconds, name: bucketName(seconds) };
}

/** The smallest bucket (whole seconds, or whole minutes for a long window) that keeps `span` within `maxBuckets`. */
function smallestFitting(span: number, wholeMinutes: boolean, maxBuckets: number): number {
  const unit = wholeMinutes ? 60 : 1;
  let seconds = Math.max(unit, Math.floor(span / maxBuckets / unit) * unit);
  while (bucketsIn(span, seconds) > maxBuckets) seconds += unit;
  return seconds;
}

/** `group_by`: absent, or `user` for each user's buckets beside everyone's. */
export function parseGroupBy(params: Readonly<Record<string, string | undefined>>): 'user' | undefined {
  const raw = params.group_by;
  if (raw === undefined || raw === 'user') return raw;
  throw new ValidationError('The query parameters are not valid.', [{ path: 'group_by', message: 'must be user' }]);
}

/** The series answer; with `group_by=user`, also `users` and `other_users` (UserSeries). */
export function seriesBody(window: TimeWindow, bucket: Bucket, answer: readonly SeriesBucket[] | UserSeries) {
  const head = { start_time: window.start, end_time: window.end, bucket: bucket.name, bucket_seconds: bucket.seconds };
  return 'users' in answer ? { ...head, ...answer } : { ...head, buckets: answer };
}
