/**
 * The health function's readiness probe: a new PostgreSQL connection as the reader role, within
 * the deadlines of HealthEnv, shared by concurrent calls and its verdict reused for a while.
 *
 * The variables are read (and checked) when this is built. The connection settings are resolved
 * inside the first probe, within its deadline: on AWS that reads the role's secret, and a
 * Secrets Manager that does not answer is a 503 with a reason, not a failed invocation. Only a
 * successful read is kept (see shared/reader.ts on cached rejections).
 */
import { PgReadinessProbe, type PgConnectionSettings } from '../adapters/pg-readiness-probe';
import type { Readiness } from '../core/ports';
import { SharedReadiness } from '../core/readiness';
import { databaseConfig, databaseEnv } from './database';
import { HealthEnv, readEnv } from './env';
import { describeError, logger } from './observability';

/** Logs each change of verdict (not each probe: an outage must not flood the log). */
function logChange(verdict: Readiness, previous: Readiness | undefined): void {
  if (verdict.ready) {
    if (previous && !previous.ready) logger.info('ready again: a new database session answered');
    return;
  }
  if (!previous || previous.ready || previous.reason !== verdict.reason) {
    logger.warn('not ready', { reason: verdict.reason, ...(verdict.cause === undefined ? {} : describeError(verdict.cause)) });
  }
}

export function readinessFromEnv(source: NodeJS.ProcessEnv = process.env): SharedReadiness {
  const env = readEnv(HealthEnv, source);
  databaseEnv(source); // fails now, naming the variables, rather than as a 503 at each probe
  let settings: PgConnectionSettings | undefined;
  const probe = new PgReadinessProbe({
    settings: async () => (settings ??= await databaseConfig(source)),
    connectTimeoutMs: env.HEALTH_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: env.HEALTH_QUERY_TIMEOUT_MS,
  });
  return new SharedReadiness(probe, { reuseMs: env.HEALTH_REUSE_MS, onProbe: logChange });
}
