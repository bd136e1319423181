/**
 * The deadline of every request the functions' AWS SDK clients make to a service (DynamoDB,
 * SQS): a service that stops answering fails the request, and so the caller's step, rather
 * than holding the function until Lambda ends it. Without `throwOnRequestTimeout` this SDK only
 * logs a warning when `requestTimeout` passes, and goes on waiting.
 *
 * A request that timed out may still have taken effect: the callers' writes are safe to repeat
 * (records are idempotent on their id; connection items are keyed by connection).
 */
export const SERVICE_REQUEST_HANDLER = { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true } as const;
