/**
 * POST /api/data/upload: validates records and hands them to the queue. With an
 * Idempotency-Key it first claims the key for these records (lambdas/core/idempotency.ts): a
 * retry goes ahead with the same ids, a key reused with other records is refused with a 422.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { byteLength } from '../core/chunking';
import { parseJsonWholeNumbers } from '../core/exact-json';
import {
  InvalidJsonError,
  PayloadTooLargeError,
  IdempotencyKeyReusedError,
  QueueUnavailableError,
  UnsupportedMediaTypeError,
} from '../core/errors';
import { claimIdempotencyKey, type IdempotencyKeyStore } from '../core/idempotency';
import type { RecordQueue } from '../core/ports';
import { packQueueMessages, parseIdempotencyKey, parseUploadBody, recordIds, toQueuedRecords } from '../core/record';
import { formatInstant } from '../core/timestamp';
import { DynamoIdempotencyKeys } from '../adapters/dynamo-idempotency-keys';
import { MemoryIdempotencyKeys } from '../adapters/memory-idempotency-keys';
import { documentClient } from '../shared/dynamo-client';
import { recordQueue } from '../shared/local-queue';
import { deferred, IngestEnv, readEnv } from '../shared/env';
import { bodyText, header, httpHandler, json, principalOf } from '../shared/http';
import { logger, metrics } from '../shared/observability';

export interface IngestDeps {
  readonly queue: RecordQueue;
  readonly maxBodyBytes: number;
  /**
   * Which records claimed each Idempotency-Key.
   * @default - a MemoryIdempotencyKeys of this handler's own
   */
  readonly keys?: IdempotencyKeyStore;
  readonly now?: () => number;
}

/** A client that reuses keys loses data it believes sent: worth a metric and a line. */
const countReuse = (userId: string) => (error: unknown): never => {
  if (error instanceof IdempotencyKeyReusedError) {
    metrics.addMetric('IdempotencyKeyReused', MetricUnit.Count, 1);
    logger.info('upload refused: Idempotency-Key reused with a different body', { userId });
  }
  throw error;
};

/** The upload handler over any RecordQueue. */
export function makeIngestHandler(deps: IngestDeps) {
  const now = deps.now ?? Date.now;
  const keys = deps.keys ?? new MemoryIdempotencyKeys();
  return httpHandler(async (event) => {
    const principal = principalOf(event);
    const contentType = header(event, 'content-type') ?? '';
    if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType)) {
      throw new UnsupportedMediaTypeError('Send the body as application/json.');
    }
    const text = bodyText(event);
    if (byteLength(text) > deps.maxBodyBytes) {
      throw new PayloadTooLargeError(`The body is larger than ${deps.maxBodyBytes} bytes.`);
    }
    let body: unknown;
    try {
      // A fraction such as 2147483646.9999999999 must be refused, not rounded to an integer.
      body = parseJsonWholeNumbers(text);
    } catch {
      throw new InvalidJsonError('The body is not valid JSON.');
    }
    // The dates are made canonical where they are used (the fingerprint, the queue's records).
    const inputs = parseUploadBody(body);
    const key = parseIdempotencyKey(header(event, 'idempotency-key'));
    // A retry (the same key and records) is sent again: its ids make the second copy harmless.
    if (key !== undefined) await claimIdempotencyKey(keys, principal.userId, key, inputs, now()).catch(countReuse(principal.userId));
    const ids = recordIds(inputs.length, principal.userId, key);
    const acceptedAt = formatInstant({ epochMs: now(), micros: 0 });
    try {
      await deps.queue.send(packQueueMessages(principal.userId, acceptedAt, toQueuedRecords(inputs, ids)));
    } catch (error) {
      // The client gets a 503 and retries; the operator gets an alarm on this metric.
      if (error instanceof QueueUnavailableError) metrics.addMetric('QueueUnavailable', MetricUnit.Count, 1);
      throw error;
    }
    metrics.addMetric('RecordsAccepted', MetricUnit.Count, ids.length);
    return json(202, { accepted: ids.length, ids });
  });
}

/** The Lambda entry point. */
export const handler = deferred(() => {
  const env = readEnv(IngestEnv);
  if (!env.IDEMPOTENCY_KEYS_TABLE) logger.warn('IDEMPOTENCY_KEYS_TABLE is not set: Idempotency-Key conflicts are caught within this execution environment only');
  return makeIngestHandler({
    queue: recordQueue(env.QUEUE_URL),
    maxBodyBytes: env.MAX_BODY_BYTES,
    keys: env.IDEMPOTENCY_KEYS_TABLE ? new DynamoIdempotencyKeys(documentClient, env.IDEMPOTENCY_KEYS_TABLE) : new MemoryIdempotencyKeys(),
  });
});
