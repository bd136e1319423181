/**
 * GET /api/data/records?start_time&end_time&limit&cursor[&user_id][&time_field][&order]: stored
 * records of a window, ordered by (date, id), a keyset page at a time. With time_field=stored_at
 * the window and order are on when records were stored: how monitors catch up after a gap.
 * With order=desc the pages run newest first: how the dashboard loads recent history.
 */
import type { RecordReader } from '../core/ports';
import { pageBody, parseCursor, parseLimit, parseOrder, parseScope, parseTimeField, parseWindow } from '../core/query';
import { deferred } from '../shared/env';
import { httpHandler, json, principalOf } from '../shared/http';
import { readerFromEnv } from '../shared/reader';

export function makeRecordsQueryHandler(deps: { readonly reader: RecordReader }) {
  return httpHandler(async (event) => {
    const caller = principalOf(event);
    const params = event.queryStringParameters ?? {};
    const window = parseWindow(params);
    const limit = parseLimit(params);
    const field = parseTimeField(params);
    const order = parseOrder(params);
    const after = parseCursor(params, field, order);
    const scope = parseScope(params, caller);
    // One row past the page tells whether another page follows.
    const rows = await deps.reader.page(window, scope, limit + 1, after, field, order);
    return json(200, pageBody(window, rows, limit, field, order));
  });
}

/** The Lambda entry point. */
export const handler = deferred(async () => makeRecordsQueryHandler({ reader: await readerFromEnv() }));
