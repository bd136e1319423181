// What the page asks the server for, beyond the live stream: the records stored before it
// opened (through the monitor, so they share its seen-set with live records), per-bucket
// aggregates when a window holds too many records to draw, and the swing analysis with its
// batches.
import { isoWithOffset } from './time.js';

/** History on open: at most this many of the newest records (two pages of 1000). */
export const HISTORY_LIMIT = 2000;

/**
 * Loads the most recent records of one user or all through `monitor.history` (delivered as
 * 'history'). Call once the monitor is live, so that history plus live leave no gap.
 * @returns {Promise<{ fetched: number, complete: boolean }>}
 */
export function loadHistory(monitor, userId = '') {
  return monitor.history({ limit: HISTORY_LIMIT, userId: userId || undefined });
}

/** The query of a window: ISO with the local offset, as the pickers show it. */
function windowQuery({ start, end }, userId) {
  return { start_time: isoWithOffset(start), end_time: isoWithOffset(end), user_id: userId || undefined };
}

/**
 * GET /api/data/series by user: per-bucket min, max and average of `data` by `date`, everyone's
 * and the busiest users' each (the server picks a bucket that keeps the window to about 1000).
 * @returns {Promise<{ bucketSeconds: number, bucket: string, buckets: object[], users: object[], otherUsers: object | null, total: number }>}
 */
export async function fetchSeries(api, window, userId) {
  const answer = await api.get('api/data/series', { ...windowQuery(window, userId), group_by: 'user' });
  return {
    bucket: answer.bucket,
    bucketSeconds: answer.bucket_seconds,
    buckets: answer.buckets,
    users: answer.users,
    otherUsers: answer.other_users,
    total: answer.buckets.reduce((n, b) => n + b.count, 0),
  };
}

/**
 * GET /api/data/swing-analyze over the window, with every batch to draw (include=batches):
 * { signals, message, batches }. A window of more batches than the API lists is analysed
 * without them (batches undefined): the signals are still drawn.
 */
export async function fetchAnalysis(api, window, userId) {
  try {
    return await api.get('api/data/swing-analyze', { ...windowQuery(window, userId), include: 'batches' });
  } catch (error) {
    if (error.status !== 400 || !/include/.test(error.message)) throw error;
    return { ...(await api.get('api/data/swing-analyze', windowQuery(window, userId))), batches: undefined };
  }
}
