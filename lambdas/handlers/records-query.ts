/**
 * GET /api/data/records?start_time&end_time&limit&cursor[&user_id]: stored records of a
 * window, ordered by (date, id), a keyset page at a time.
 */
import type { RecordReader } from '../core/ports';
import { pageBody, parseCursor, parseLimit, parseScope, parseWindow } from '../core/query';
import { deferred } from '../shared/env';
import { httpHandler, json, principalOf } from '../shared/http';
import { readerFromEnv } from '../shared/reader';

export function makeRecordsQueryHandler(deps: { readonly reader: RecordReader }) {
  return httpHandler(async (event) => {
    const caller = principalOf(event);
    const params = event.queryStringParameters ?? {};
    const window = parseWindow(params);
    const limit = parseLimit(params);
    const after = parseCursor(params);
    const scope = parseScope(params, caller);
    // One row past the page tells whether another page follows.
    const rows = await deps.reader.page(window, scope, limit + 1, after);
    return json(200, pageBody(window, rows, limit));
  });
}

/** The Lambda entry point. */
export const handler = deferred(async () => makeRecordsQueryHandler({ reader: await readerFromEnv() }));
