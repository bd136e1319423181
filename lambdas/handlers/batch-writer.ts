/**
 * The SQS event source's target: parses each message, stores every valid record of the batch
 * in one statement, then pushes the newly stored rows to monitors. When the database refuses
 * some of the data, the batch is split until the messages that hold it stand alone, and only
 * those fail; when the database is unavailable, every message comes back later, later with
 * each receive, so an outage does not spend its receives.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { storeFailureReason, storeMessages, type BatchOutcome, type MessageRecords } from '../core/batch-store';
import { DEFAULT_FANOUT, pushRecords, pushStatus, type FanoutDeps, type FanoutOptions, type FanoutReport } from '../core/fanout';
import type { StatusFrame } from '../core/frames';
import { lastBatchOf, type LastFailure, type PipelineState } from '../core/pipeline';
import { QUEUE_MAX_RECEIVE_COUNT } from '../functions';
import type { DeadLetterLog, Redelivery, RecordStore, RecordToStore } from '../core/ports';
import type { StoredRecord } from '../core/record';
import { parseQueueMessage } from '../core/record';
import { retryDelaySeconds, STORE_RETRY_DELAYS_S } from '../core/redelivery';
import { DynamoConnectionRegistry } from '../adapters/dynamo-connection-registry';
import { DynamoPipelineState } from '../adapters/dynamo-pipeline-state';
import { PgDeadLetterLog } from '../adapters/pg-dead-letter-log';
import { createPool, PgRecordStore } from '../adapters/pg-record-store';
import { SqsRedelivery } from '../adapters/sqs-redelivery';
import { documentClient } from '../shared/dynamo-client';
import { broadcaster } from '../shared/local-broadcaster';
import { databaseConfig } from '../shared/database';
import { deferred, readEnv, WriterEnv } from '../shared/env';
import { sqsClient } from '../shared/sqs-client';
import { describeError, logger, metrics, observability } from '../shared/observability';

export interface BatchWriterDeps {
  readonly store: RecordStore;
  /** Hands messages back with a delay when their batch could not be stored. */
  readonly redelivery: Redelivery;
  /** Keeps the database's reason for each message it refused, for the dead-letter listing. */
  readonly deadLetters: DeadLetterLog;
  readonly fanout: FanoutDeps;
  readonly fanoutOptions?: Partial<Omit<FanoutOptions, 'remainingMs'>>;
  /** Seconds a message waits after a failed store, by receive count. @default STORE_RETRY_DELAYS_S */
  readonly retryDelaysSeconds?: readonly number[];
  /** No split of a refused batch starts with less time than this left. @default 5000 */
  readonly splitReserveMs?: number;
  /** Where the last batch and the last failure are noted for GET /api/pipeline/status. @default - not noted */
  readonly pipelineState?: PipelineState;
  /** Receives before the queue moves a message to the DLQ. @default QUEUE_MAX_RECEIVE_COUNT */
  readonly maxReceiveCount?: number;
}

type Parsed = MessageRecords & { readonly message: SQSRecord };

/** Messages that failed for one reason, for the pipeline status's last failure. */
interface Problem {
  readonly reason: string;
  readonly messages: readonly SQSRecord[];
}

/** What one invocation carries from step to step: the messages it fails, and why. */
interface Invocation {
  readonly deps: BatchWriterDeps;
  readonly fanout: FanoutOptions;
  /** Ids reported back as `batchItemFailures`. */
  readonly failures: string[];
  readonly problems: Problem[];
  /** How many of `messages` are on their last receive: a failure now sends them to the DLQ. */
  readonly lastTries: (messages: readonly SQSRecord[]) => number;
}

/** The batch writer over any store, redelivery, dead-letter log, registry and broadcaster. */
export function makeBatchWriterHandler(deps: BatchWriterDeps) {
  return middy<SQSEvent, SQSBatchResponse>()
    .use(observability())
    .handler((event, context: Context) => writeBatch(event, context, deps));
}

/** Parse, store, report what failed to store, push what was stored, note what went wrong. */
async function writeBatch(event: SQSEvent, context: Context, deps: BatchWriterDeps): Promise<SQSBatchResponse> {
  const maxReceives = deps.maxReceiveCount ?? QUEUE_MAX_RECEIVE_COUNT;
  const run: Invocation = {
    deps,
    fanout: { ...DEFAULT_FANOUT, ...deps.fanoutOptions, remainingMs: () => context.getRemainingTimeInMillis() },
    failures: [],
    problems: [],
    lastTries: (messages) => messages.filter((m) => receiveCount(m) >= maxReceives).length,
  };
  const parsed = parseMessages(event.Records, run);
  const recordCount = countRecords(parsed);
  // Zeros are emitted too, so that alarms and sums see every batch rather than missing data.
  metrics.addMetric('BatchSize', MetricUnit.Count, recordCount);
  metrics.addMetric('MalformedMessages', MetricUnit.Count, run.failures.length);

  const started = performance.now();
  const reserveMs = deps.splitReserveMs ?? 5_000;
  const outcome = await storeMessages(parsed, deps.store, { hasTime: () => context.getRemainingTimeInMillis() > reserveMs });
  const insertMs = performance.now() - started;
  const byId = new Map(parsed.map((p) => [p.messageId, p]));
  const stored = outcome.stored.map((id) => byId.get(id)!);
  countStore(outcome, stored, started);
  // Noted beside the push rather than before it: the status panel must not delay monitors.
  const noted = stored.length > 0 ? noteBatch(stored, outcome.inserted, insertMs, deps.pipelineState) : undefined;

  await reportUnstored(outcome, byId, run);
  if (stored.length > 0) {
    logger.info('batch stored', {
      messages: event.Records.length,
      records: recordCount,
      inserted: outcome.inserted.length,
      statements: outcome.statements,
      refused: outcome.refused.length,
      returned: outcome.unavailable.length + outcome.unfinished.length,
    });
  }
  await pushStored(outcome.inserted, stored, run);
  await noteProblems(run);
  await noted;
  return { batchItemFailures: run.failures.map((itemIdentifier) => ({ itemIdentifier })) };
}

/** The messages' records; a malformed message fails on its own, since redelivery cannot fix it. */
function parseMessages(messages: readonly SQSRecord[], run: Invocation): Parsed[] {
  const parsed: Parsed[] = [];
  const malformed: SQSRecord[] = [];
  for (const message of messages) {
    try {
      parsed.push({ message, messageId: message.messageId, records: toStore(message) });
    } catch (error) {
      // After maxReceiveCount it rests in the DLQ.
      logger.error('malformed message', { messageId: message.messageId, receiveCount: receiveCount(message), ...describeError(error) });
      run.failures.push(message.messageId);
      malformed.push(message);
    }
  }
  if (malformed.length > 0) run.problems.push({ reason: `${malformed.length} malformed message(s)`, messages: malformed });
  return parsed;
}

/** Fails the messages the store did not take: unavailable, refused, or not reached in time. */
async function reportUnstored(outcome: BatchOutcome, byId: ReadonlyMap<string, Parsed>, run: Invocation): Promise<void> {
  const pick = (ids: readonly string[]) => ids.map((id) => byId.get(id)!);
  if (outcome.error) {
    const returned = pick(outcome.unavailable);
    await returnLater(returned, outcome.error, run.deps);
    await reportStoreFailure(returned, storeFailureReason(outcome.error), run, (deadLettered, count) =>
      deadLettered === 0
        ? 'Storing records failed; they will be retried.'
        : `Storing records failed; ${deadLettered} of ${count} message(s) were on their last try and go to the dead-letter queue (inspect them with npm run dlq).`,
    );
  }
  if (outcome.refused.length > 0) {
    const refused = pick(outcome.refused.map((r) => r.messageId));
    await noteRefused(outcome, byId, run.deps.deadLetters);
    const codes = [...new Set(outcome.refused.map((r) => `SQLSTATE ${r.refusal.sqlstate}`))].join(', ');
    await reportStoreFailure(refused, `the database refused the records of ${refused.length} message(s) (${codes})`, run, (deadLettered, count) =>
      deadLettered === 0
        ? `The database refused the records of ${count} message(s); they are retried, then kept in the dead-letter queue with the reason.`
        : `The database refused the records of ${count} message(s); ${deadLettered} were on their last try and go to the dead-letter queue with the reason (npm run dlq).`,
    );
  }
  if (outcome.unfinished.length > 0) {
    // Not the messages' fault: they come back after the queue's visibility timeout.
    logger.warn('ran short of time isolating refused records; returning the rest untried', { messageIds: outcome.unfinished });
    run.failures.push(...outcome.unfinished);
  }
}

/**
 * Fails `failed`, keeps `reason` for the pipeline status, and tells monitors in an error status
 * frame whose words (`say`) depend on how many of the messages go to the DLQ now.
 */
async function reportStoreFailure(failed: readonly Parsed[], reason: string, run: Invocation, say: (deadLettered: number, count: number) => string): Promise<void> {
  run.failures.push(...failed.map((p) => p.messageId));
  const messages = failed.map((p) => p.message);
  const deadLettered = run.lastTries(messages);
  run.problems.push({ reason, messages });
  await pushStatusFrame(run, {
    level: 'error',
    stage: 'store',
    message: say(deadLettered, messages.length),
    pending: countRecords(failed),
    ...(deadLettered ? { dead_lettered: deadLettered } : {}),
  });
}

/** A status frame to every monitor; a failed push costs only that frame. */
async function pushStatusFrame(run: Invocation, frame: Omit<StatusFrame, 'type'>): Promise<void> {
  await pushStatus(frame, run.deps.fanout, run.fanout).then(countFanout, (error) => logger.warn('status push failed', describeError(error)));
}

/**
 * Pushes the stored rows to monitors. When they cannot be read back, or some monitor may have
 * missed them without being told, the messages come back, and their retry finds the rows
 * stored and pushes them again.
 */
async function pushStored(inserted: readonly StoredRecord[], stored: readonly Parsed[], run: Invocation): Promise<void> {
  const toPush = await withReplayedRows(inserted, stored, run.deps.store);
  if (toPush && toPush.length === 0) return;
  if (toPush && (await pushRows(toPush, run))) return;
  const reason = toPush ? 'pushing stored records failed' : 'reading back the stored rows failed';
  await returnLater(stored, reason, run.deps);
  run.failures.push(...stored.map((p) => p.messageId));
  run.problems.push({ reason, messages: stored.map((p) => p.message) });
}

/** Whether every monitor has the rows or has been told it missed some. */
async function pushRows(rows: readonly StoredRecord[], run: Invocation): Promise<boolean> {
  try {
    const report = await pushRecords(rows, run.deps.fanout, run.fanout);
    countFanout(report);
    if (report.failed || report.skipped) logger.warn('some frames were not delivered; the connections are owed a missed frame', { ...report });
    return report.missedUnnoted === 0;
  } catch (error) {
    logger.warn('push failed', describeError(error));
    return false;
  }
}

/** Notes the invocation's problems, if any, as the pipeline's last failure. */
async function noteProblems(run: Invocation): Promise<void> {
  if (run.problems.length === 0) return;
  const messages = run.problems.flatMap((p) => p.messages);
  const failure: LastFailure = { at: new Date().toISOString(), reason: run.problems.map((p) => p.reason).join('; '), messages: messages.length, dead_lettered: run.lastTries(messages) };
  await run.deps.pipelineState?.noteFailure(failure).catch((error: unknown) => logger.warn('noting the failure for the pipeline status failed', describeError(error)));
}

function countRecords(messages: readonly Parsed[]): number {
  return messages.reduce((n, p) => n + p.records.length, 0);
}

/**
 * The rows to push: the new ones, and those of the batch found already stored. A batch comes
 * back when its invocation ended after the commit (a timeout, a crash, a failed push), so rows
 * stored before may never have reached a monitor; they are pushed again (monitors dedupe by
 * id). Resolves undefined when they cannot be read back.
 */
async function withReplayedRows(inserted: readonly StoredRecord[], stored: readonly Parsed[], store: RecordStore): Promise<StoredRecord[] | undefined> {
  const fresh = new Set(inserted.map((r) => r.id));
  const already = stored.flatMap((p) => p.records.map((r) => ({ id: r.id, date: r.date }))).filter((key) => !fresh.has(key.id));
  if (already.length === 0) return [...inserted];
  try {
    const replayed = await store.findStored(already);
    metrics.addMetric('RecordsRepushed', MetricUnit.Count, replayed.length);
    // Worth a warning: an earlier invocation of this batch ended after its commit.
    logger.warn('pushing again rows found already stored', { records: replayed.length });
    return [...inserted, ...replayed];
  } catch (error) {
    logger.warn('reading back rows already stored failed', describeError(error));
    return undefined;
  }
}

/**
 * Notes the batch for the pipeline status: what was stored, how long it took, and how far
 * behind acceptance it ran. A note that fails costs only the status panel's freshness.
 */
async function noteBatch(stored: readonly Parsed[], inserted: readonly StoredRecord[], insertMs: number, state: PipelineState | undefined): Promise<void> {
  await state
    ?.noteBatch(lastBatchOf(stored, inserted, insertMs, Date.now()))
    .catch((error: unknown) => logger.warn('noting the batch for the pipeline status failed', describeError(error)));
}

/** Metrics of the store step. What a store that stored nothing cannot tell is left out. */
function countStore(outcome: BatchOutcome, stored: readonly Parsed[], started: number): void {
  metrics.addMetric('StoreFailures', MetricUnit.Count, outcome.error ? 1 : 0);
  metrics.addMetric('RefusedMessages', MetricUnit.Count, outcome.refused.length);
  if (outcome.error && stored.length === 0) return;
  const storedRecords = countRecords(stored);
  metrics.addMetric('InsertMs', MetricUnit.Milliseconds, Math.round((performance.now() - started) * 10) / 10);
  metrics.addMetric('RecordsStored', MetricUnit.Count, outcome.inserted.length);
  metrics.addMetric('DuplicateRecords', MetricUnit.Count, storedRecords - outcome.inserted.length);
}

/**
 * Hides each returned message for the wait its receive count calls for. Without this the event
 * source would show it again after the queue's visibility timeout, and an outage would spend its
 * receives in minutes.
 */
async function returnLater(returned: readonly Parsed[], why: BatchOutcome['error'] | string, deps: BatchWriterDeps): Promise<void> {
  if (returned.length === 0) return;
  const schedule = deps.retryDelaysSeconds ?? STORE_RETRY_DELAYS_S;
  const delayed = returned.map(({ message }) => ({
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    queueArn: message.eventSourceARN,
    delaySeconds: retryDelaySeconds(receiveCount(message), schedule),
  }));
  const byDelay = new Map<number, string[]>();
  for (const d of delayed) {
    const ids = byDelay.get(d.delaySeconds) ?? [];
    ids.push(d.messageId);
    byDelay.set(d.delaySeconds, ids);
  }
  const what = typeof why === 'string' ? why : why?.unreachable ? 'database unreachable' : 'store failed';
  logger.error(`${what}; returning the messages with a delay`, {
    records: countRecords(returned),
    delays: [...byDelay].map(([delaySeconds, messageIds]) => ({ delaySeconds, messageIds })),
    ...(typeof why === 'string' ? {} : describeError(why)),
  });
  const notDelayed = await deps.redelivery.delay(delayed).catch((error: unknown) => {
    logger.warn('delaying the messages failed', describeError(error));
    return delayed.map((d) => d.messageId);
  });
  if (notDelayed.length > 0) {
    logger.warn("some messages could not be delayed; they come back after the queue's visibility timeout", { messageIds: notDelayed });
  }
}

/** Logs each refusal under its message id and keeps it for the dead-letter listing. */
async function noteRefused(outcome: BatchOutcome, byId: ReadonlyMap<string, Parsed>, deadLetters: DeadLetterLog): Promise<void> {
  const refused = outcome.refused.map(({ messageId, refusal }) => ({ ...refusal, messageId, receiveCount: receiveCount(byId.get(messageId)!.message) }));
  for (const r of refused) {
    logger.error('message refused by the database', { ...r, records: byId.get(r.messageId)!.records.length });
  }
  await deadLetters.noteRefusals(refused).catch((error: unknown) => logger.warn('noting the refusals failed; the log lines above keep them', describeError(error)));
}

/** Frames that did not reach a monitor, and monitors found gone, from one fan-out. */
function countFanout(report: FanoutReport): void {
  metrics.addMetric('PushFailures', MetricUnit.Count, report.failed + report.skipped);
  metrics.addMetric('ConnectionsGone', MetricUnit.Count, report.gone);
}

function toStore(message: SQSRecord): RecordToStore[] {
  const body = parseQueueMessage(message.body);
  return body.records.map((r) => ({ ...r, user_id: body.user_id, accepted_at: body.accepted_at }));
}

function receiveCount(message: SQSRecord): number {
  return Number(message.attributes?.ApproximateReceiveCount ?? 0);
}

/** The Lambda entry point. */
export const handler = deferred(async () => {
  const env = readEnv(WriterEnv);
  const database = await databaseConfig();
  const pool = createPool({ connection: database.config, ssl: database.ssl, max: env.DATABASE_POOL_MAX });
  return makeBatchWriterHandler({
    store: new PgRecordStore(pool),
    redelivery: new SqsRedelivery(sqsClient),
    deadLetters: new PgDeadLetterLog(pool),
    fanout: {
      registry: new DynamoConnectionRegistry(documentClient, env.CONNECTIONS_TABLE),
      broadcaster: broadcaster(env.CONNECTIONS_ENDPOINT),
    },
    fanoutOptions: { concurrency: env.PUSH_CONCURRENCY },
    maxReceiveCount: env.QUEUE_MAX_RECEIVE_COUNT,
    ...(env.STORE_RETRY_DELAYS_S ? { retryDelaysSeconds: env.STORE_RETRY_DELAYS_S } : {}),
    ...(env.PIPELINE_STATE_TABLE ? { pipelineState: new DynamoPipelineState(documentClient, env.PIPELINE_STATE_TABLE) } : {}),
  });
});
