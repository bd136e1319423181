/**
 * GET /api/data/swing-analyze?start_time&end_time[&user_id][&include=batches]: the seed system's
 * swing analysis over the caller's records of the window (an admin's: everyone's, or one user's
 * with `user_id`), streamed from the database; with include=batches, every batch too (for a
 * chart), up to MAX_SWING_BATCHES.
 */
import type { RecordReader } from '../core/ports';
import { ValidationError } from '../core/errors';
import { parseScope, parseWindow } from '../core/query';
import { SwingAnalyzer } from '../core/swing-analysis';

/** Batches one answer lists at most with include=batches (a chart has no use for more). */
export const MAX_SWING_BATCHES = 10_000;

function parseInclude(params: Readonly<Record<string, string | undefined>>): boolean {
  const raw = params.include;
  if (raw === undefined) return false;
  if (raw === 'batches') return true;
  throw new ValidationError('The query parameters are not valid.', [{ path: 'include', message: 'must be batches' }]);
}
import { deferred } from '../shared/env';
import { httpHandler, json, principalOf } from '../shared/http';
import { readerFromEnv } from '../shared/reader';

export function makeSwingAnalyzeHandler(deps: { readonly reader: RecordReader }) {
  return httpHandler(async (event) => {
    const caller = principalOf(event);
    const params = event.queryStringParameters ?? {};
    const window = parseWindow(params);
    const scope = parseScope(params, caller);
    const withBatches = parseInclude(params);
    const analyzer = new SwingAnalyzer();
    for await (const record of deps.reader.stream(window, scope)) analyzer.add(record);
    const { result, batches } = analyzer.finishWithBatches();
    const body = { start_time: window.start, end_time: window.end, signals: result.signals, message: result.message };
    if (!withBatches) return json(200, body);
    if (batches.length > MAX_SWING_BATCHES) {
      throw new ValidationError('The query parameters are not valid.', [
        { path: 'include', message: `the window holds ${batches.length} batches, more than the ${MAX_SWING_BATCHES} listed at most; narrow the window or leave include out` },
      ]);
    }
    return json(200, { ...body, batches });
  });
}

/** The Lambda entry point. */
export const handler = deferred(async () => makeSwingAnalyzeHandler({ reader: await readerFromEnv() }));
