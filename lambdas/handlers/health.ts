/**
 * GET /health: readiness. 200 `{status: 'ok'}` when a new PostgreSQL session answers `SELECT 1`
 * within the probe's deadline; 503 `{status: 'degraded', reason}` with Retry-After otherwise.
 * Concurrent calls share one probe, and a verdict is reused for a moment (core/readiness.ts).
 */
import type { ReadinessProbe } from '../core/ports';
import { HEALTH_RETRY_AFTER_SECONDS, healthAnswer } from '../core/readiness';
import { deferred } from '../shared/env';
import { httpHandler, json } from '../shared/http';
import { readinessFromEnv } from '../shared/readiness';

export function makeHealthHandler(deps: { readonly readiness: ReadinessProbe }) {
  return httpHandler(async () => {
    const { statusCode, body } = healthAnswer(await deps.readiness.check());
    // A verdict is for now: no cache along the way may keep it.
    const headers: Record<string, string> = { 'cache-control': 'no-store', ...(statusCode === 503 ? { 'retry-after': String(HEALTH_RETRY_AFTER_SECONDS) } : {}) };
    return json(statusCode, body, headers);
  });
}

/** The Lambda entry point. */
export const handler = deferred(() => makeHealthHandler({ readiness: readinessFromEnv() }));
