/**
 * GET /health: answers once the function can run at all.
 */
import { httpHandler, json } from '../shared/http';

export function makeHealthHandler() {
  return httpHandler(async () => json(200, { status: 'ok' }));
}

/** The Lambda entry point. */
export const handler = makeHealthHandler();
