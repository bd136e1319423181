/**
 * GET /api/data/series?start_time&end_time[&bucket][&user_id][&group_by=user]: the caller's records of a window
 * (an admin's: everyone's, or one user's with `user_id`) by `date`, summed up per time bucket in
 * PostgreSQL: count, min, max and average of `data` (lambdas/core/series.ts); with `group_by=user`
 * also each of the busiest users' buckets, and the rest's summed.
 */
import type { RecordReader } from '../core/ports';
import { parseScope, parseWindow } from '../core/query';
import { MAX_BUCKETS, MAX_GROUPED_BUCKETS, parseBucket, parseGroupBy, seriesBody } from '../core/series';
import { deferred } from '../shared/env';
import { httpHandler, json, principalOf } from '../shared/http';
import { readerFromEnv } from '../shared/reader';

export function makeRecordsSeriesHandler(deps: { readonly reader: RecordReader }) {
  return httpHandler(async (event) => {
    const caller = principalOf(event);
    const params = event.queryStringParameters ?? {};
    // Any span: past a year the buckets are whole minutes, served from the rollups.
    const window = parseWindow(params, Infinity);
    const scope = parseScope(params, caller);
    const byUser = parseGroupBy(params) === 'user';
    const bucket = parseBucket(params, window, byUser ? MAX_GROUPED_BUCKETS : MAX_BUCKETS);
    const answer = byUser ? await deps.reader.seriesByUser(window, scope, bucket.seconds) : await deps.reader.series(window, scope, bucket.seconds);
    return json(200, seriesBody(window, bucket, answer));
  });
}

/** The Lambda entry point. */
export const handler = deferred(async () => makeRecordsSeriesHandler({ reader: await readerFromEnv() }));
