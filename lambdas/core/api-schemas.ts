/**
 * The HTTP API's shapes as zod schemas: the bodies the handlers validate (the upload's are
 * record.ts's), the answers they give, and the query parameters, described for the OpenAPI
 * document (core/openapi.ts). The contract test checks real answers against them.
 */
import * as z from 'zod/mini';
import { MAX_RECORDS_PER_REQUEST, RecordBatchInput, RecordInput } from './record';
import { MAX_BUCKET_DAYS, MAX_BUCKETS, MAX_GROUPED_BUCKETS, MAX_SERIES_USERS, RAW_SERIES_MAX_DAYS } from './series';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_USER_ID_LENGTH, MAX_WINDOW_DAYS } from './query';

const NON_EMPTY = { error: 'must be a non-empty string' };

/** POST /auth/token's body. */
export const Credentials = z.object({
  username: z.string(NON_EMPTY).check(z.minLength(1, NON_EMPTY)),
  password: z.string(NON_EMPTY).check(z.minLength(1, NON_EMPTY)),
});

/** POST /api/data/upload's body: one record, or a batch. */
export const UploadBody = z.union([RecordInput, RecordBatchInput]).check(
  z.meta({ description: `One record, or {"records": [...]} with 1 to ${MAX_RECORDS_PER_REQUEST} of them. Unknown fields are refused.` }),
);

const described = <T extends z.ZodMiniType>(schema: T, description: string) => schema.check(z.meta({ description }));
const instant = (description: string) => described(z.string().check(z.meta({ format: 'date-time' })), description);
const count = (description: string) => described(z.int().check(z.gte(0)), description);

/** The error answer of every route: a stable code, a message, and the fields at fault. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.optional(z.array(z.object({ path: described(z.string(), 'The field or parameter, dotted (records.3.date); empty for the body itself.'), message: z.string() }))),
  }),
});

/** An answer of API Gateway itself (a 401 before any function, a 413 over its 10 MB limit, a 503). */
export const GatewayError = z.object({
  message: z.string(),
  error: z.optional(ErrorBody.shape.error),
});

export const UploadAccepted = z.object({
  accepted: count('Records accepted: each is stored, or kept in the dead-letter queue with its reason.'),
  ids: described(z.array(z.uuid()), "The records' ids, in the order sent."),
});

export const TokenGrant = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: described(z.int().check(z.positive()), 'Seconds the token is valid for.'),
});

/** GET /health's answer: readiness (core/readiness.ts), and the local gateway's while a service restarts. */
export const Health = z.object({
  status: described(z.enum(['ok', 'degraded']), 'ok: a new database session answered in time; degraded: not ready.'),
  reason: z.optional(described(z.string(), 'Why not ready (degraded only), e.g. "PostgreSQL did not accept a new connection within 1500 ms".')),
});

export const StoredRecord = z.object({
  id: z.uuid(),
  user_id: z.string(),
  data: z.int32(),
  date: instant("The record's own time, canonical UTC."),
  accepted_at: instant('When the upload was accepted.'),
  stored_at: instant("When the record's batch was stored."),
});

export const RecordsPage = z.object({
  start_time: instant('The window start, canonical UTC.'),
  end_time: instant('The window end, canonical UTC.'),
  time_field: z.optional(z.literal('stored_at')),
  order: z.optional(z.literal('desc')),
  records: z.array(StoredRecord),
  next_cursor: described(z.nullable(z.string()), 'Pass as `cursor` for the next page; null on the last page.'),
});

export const SwingAnalysis = z.object({
  start_time: instant('The window start, canonical UTC.'),
  end_time: instant('The window end, canonical UTC.'),
  signals: z.array(z.object({ time: instant("The batch's start: its first record's date."), signal: z.enum(['positive', 'negative']), average: z.number() })),
  message: described(z.nullable(z.enum(['No Data to merge', 'No signals found'])), 'Why there are no signals; null when there are.'),
  batches: z.optional(
    described(
      z.array(
        z.object({
          start: instant("Its first record's date."),
          end: instant("Its last record's date."),
          count: z.int().check(z.positive()),
          average: z.number(),
          kept: described(z.boolean(), 'Whether its variance reached the threshold (or half of it); only kept batches signal.'),
        }),
      ),
      'With include=batches: every batch of the analysis, in time order.',
    ),
  ),
});

const SeriesBuckets = z.array(
  z.object({ start: instant("The bucket's start, aligned to 2000-01-01T00:00:00Z."), count: z.int().check(z.positive()), min: z.int32(), max: z.int32(), avg: z.number() }),
);

export const Series = z.object({
  start_time: instant('The window start, canonical UTC.'),
  end_time: instant('The window end, canonical UTC.'),
  bucket: described(z.string(), 'The bucket size, as 15m.'),
  bucket_seconds: z.int().check(z.positive()),
  buckets: described(SeriesBuckets, 'The non-empty buckets, in time order.'),
  users: z.optional(
    described(
      z.array(z.object({ user_id: z.string(), buckets: described(SeriesBuckets, "This user's non-empty buckets, in time order.") })).check(z.maxLength(MAX_SERIES_USERS)),
      `With group_by=user: the ${MAX_SERIES_USERS} users (at most) with the most records in the window, most first.`,
    ),
  ),
  other_users: z.optional(
    described(
      z.nullable(z.object({ users: z.int().check(z.positive()), buckets: described(SeriesBuckets, "Their records' non-empty buckets, summed.") })),
      'With group_by=user: the users not named in users, summed; null when every user is named.',
    ),
  ),
});

const QueueCounts = z.object({ visible: count('Messages waiting.'), in_flight: count('Messages received and not yet deleted.'), delayed: count('Messages not yet visible.') });

export const PipelineStatus = z.object({
  checked_at: instant('When this was read.'),
  queue: QueueCounts,
  dead_letter_queue: z.object({ visible: QueueCounts.shape.visible, in_flight: QueueCounts.shape.in_flight }),
  last_batch: z.nullable(
    z.object({
      finished_at: instant('When its store finished.'),
      messages: count('Queue messages stored.'),
      records: count('Records in them.'),
      inserted: count('Records new to the database.'),
      duplicates: count('Records stored before (a redelivery).'),
      insert_ms: z.number().check(z.gte(0)),
      lag_ms: described(z.number().check(z.gte(0)), 'When the batch was stored minus its earliest acceptance.'),
    }),
  ),
  last_failure: z.nullable(
    z.object({
      at: instant('When it happened.'),
      reason: z.string(),
      messages: count('Messages that failed.'),
      dead_lettered: count('Of those, messages on their last receive: they are in the dead-letter queue.'),
    }),
  ),
});

/** The query parameters, each with the rule its parser applies (core/query.ts, core/series.ts). */
export const QueryParameters = {
  start_time: instant('Start of the window, inclusive: ISO-8601 with a zone (Z or an offset).'),
  end_time: instant(`End of the window, inclusive; at most ${MAX_WINDOW_DAYS} days after start_time (the series takes any span).`),
  limit: described(z.int().check(z.gte(1), z.lte(MAX_PAGE_SIZE)), `Records per page (default ${DEFAULT_PAGE_SIZE}).`),
  cursor: described(z.string(), "The previous page's next_cursor, as it came."),
  user_id: described(z.string().check(z.minLength(1), z.maxLength(MAX_USER_ID_LENGTH)), "Admins: one user's records only. Others may pass only their own id."),
  time_field: described(z.enum(['date', 'stored_at']), 'Which time the window and the order use (default date).'),
  order: described(z.enum(['asc', 'desc']), 'Oldest first (default) or newest first; next_cursor continues in the same direction.'),
  include: described(z.literal('batches'), `batches: list every batch of the analysis too (at most 10,000), to draw it.`),
  bucket: described(
    z.string().check(z.regex(/^[1-9][0-9]{0,6}[smhd]$/)),
    `Bucket size such as 10s, 1m, 1h, 1d; at most ${MAX_BUCKET_DAYS}d, and at most ${MAX_BUCKETS} buckets in the window (${MAX_GROUPED_BUCKETS} with group_by=user); whole minutes for a window longer than ${RAW_SERIES_MAX_DAYS} days. Absent: chosen for about 1000.`,
  ),
  group_by: described(z.literal('user'), `user: also each of the ${MAX_SERIES_USERS} busiest users' buckets, and the other users' summed (users, other_users).`),
} as const;
