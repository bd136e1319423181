/**
 * Logs and metrics for every handler: one Powertools Logger and one Metrics per execution
 * environment, and the middlewares that tie them to each invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type middy from '@middy/core';
import { ObservabilityEnv, readEnv } from './env';

const env = readEnv(ObservabilityEnv);

/**
 * Structured JSON log lines that CloudWatch Logs Insights can query. Never pass tokens,
 * passwords or secrets.
 */
export const logger = new Logger({
  serviceName: env.POWERTOOLS_SERVICE_NAME,
  // Passed explicitly because Powertools only reads these variables in upper case.
  logLevel: env.POWERTOOLS_LOG_LEVEL ?? env.LOG_LEVEL,
});

/**
 * CloudWatch metrics, written to stdout in the embedded metric format (EMF) and flushed at
 * the end of each invocation. `POWERTOOLS_METRICS_DISABLED=true` keeps them out of local and
 * test output.
 */
export const metrics = new Metrics({
  namespace: env.POWERTOOLS_METRICS_NAMESPACE,
  serviceName: env.POWERTOOLS_SERVICE_NAME,
  // Its own warnings (a bad dimension, say) then arrive as structured log lines too.
  logger,
});

/** The failure's name, message and cause chain, without its stack. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  const out: Record<string, unknown> = { error: error.name, detail: error.message };
  if (error.cause !== undefined) out.cause = describeError(error.cause);
  return out;
}

/**
 * The middlewares every handler `use`s first: the Lambda context on each log line, a
 * `ColdStart` metric, and the invocation's metrics flushed once the response (or error) is
 * final.
 */
export function observability<TEvent, TResult>(): middy.MiddlewareObj<TEvent, TResult>[] {
  const publish = logMetrics(metrics, { captureColdStartMetric: true });
  // Powertools warns "No application metrics to publish" on every flush of an empty buffer;
  // handlers such as health and ws-default never add one, so flush only when there is data.
  const flush: middy.MiddlewareFn<TEvent, TResult> = (request) => {
    if (metrics.hasStoredMetrics()) return publish.after?.(request);
  };
  return [
    // logEvent: false overrides POWERTOOLS_LOGGER_LOG_EVENT; events carry tokens and passwords.
    injectLambdaContext(logger, { logEvent: false }),
    { before: publish.before, after: flush, onError: flush },
  ];
}
