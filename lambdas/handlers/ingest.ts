/**
 * POST /api/data/upload: validates records and hands them to the queue, nothing else.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { byteLength } from '../core/chunking';
import { parseJsonWholeNumbers } from '../core/exact-json';
import {
  InvalidJsonError,
  PayloadTooLargeError,
  QueueUnavailableError,
  UnsupportedMediaTypeError,
} from '../core/errors';
import type { RecordQueue } from '../core/ports';
import { packQueueMessages, parseIdempotencyKey, parseUploadBody, recordIds, toQueuedRecords } from '../core/record';
import { formatInstant } from '../core/timestamp';
import { SqsRecordQueue } from '../adapters/sqs-record-queue';
import { sqsClient } from '../shared/sqs-client';
import { deferred, IngestEnv, readEnv } from '../shared/env';
import { bodyText, header, httpHandler, json, principalOf } from '../shared/http';
import { metrics } from '../shared/observability';

export interface IngestDeps {
  readonly queue: RecordQueue;
  readonly maxBodyBytes: number;
  readonly now?: () => number;
}

/** The upload handler over any RecordQueue. */
export function makeIngestHandler(deps: IngestDeps) {
  const now = deps.now ?? Date.now;
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
    const inputs = parseUploadBody(body);
    const key = parseIdempotencyKey(header(event, 'idempotency-key'));
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
  return makeIngestHandler({ queue: new SqsRecordQueue(sqsClient, env.QUEUE_URL), maxBodyBytes: env.MAX_BODY_BYTES });
});
