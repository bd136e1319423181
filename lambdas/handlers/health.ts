/**
 * GET /health: answers once the function can run at all.
 */
import middy from '@middy/core';
import { json, type HttpEvent, type HttpResult } from '../shared/http';
import { observability } from '../shared/observability';

export function makeHealthHandler() {
  return middy<HttpEvent, HttpResult>()
    .use(observability())
    .handler(async () => json(200, { status: 'ok' }));
}

/** The Lambda entry point. */
export const handler = makeHealthHandler();
