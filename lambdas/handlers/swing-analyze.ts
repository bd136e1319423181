/**
 * GET /api/data/swing-analyze?start_time&end_time[&user_id]: the seed system's swing analysis
 * over the caller's records of the window (an admin's: everyone's, or one user's with
 * `user_id`), streamed from the database.
 */
import type { RecordReader } from '../core/ports';
import { parseScope, parseWindow } from '../core/query';
import { SwingAnalyzer } from '../core/swing-analysis';
import { deferred } from '../shared/env';
import { httpHandler, json, principalOf } from '../shared/http';
import { readerFromEnv } from '../shared/reader';

export function makeSwingAnalyzeHandler(deps: { readonly reader: RecordReader }) {
  return httpHandler(async (event) => {
    const caller = principalOf(event);
    const params = event.queryStringParameters ?? {};
    const window = parseWindow(params);
    const scope = parseScope(params, caller);
    const analyzer = new SwingAnalyzer();
    for await (const record of deps.reader.stream(window, scope)) analyzer.add(record);
    const { signals, message } = analyzer.finish();
    return json(200, { start_time: window.start, end_time: window.end, signals, message });
  });
}

/** The Lambda entry point. */
export const handler = deferred(async () => makeSwingAnalyzeHandler({ reader: await readerFromEnv() }));
