/**
 * The SQS event source's target: parses each message, stores every valid record of the batch
 * in one statement, then pushes the newly stored rows to monitors.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { DEFAULT_FANOUT, pushRecords, pushStatus, type FanoutDeps, type FanoutOptions, type FanoutReport } from '../core/fanout';
import type { RecordStore, RecordToStore } from '../core/ports';
import { parseQueueMessage } from '../core/record';
import { ApiGatewayBroadcaster } from '../adapters/apigw-broadcaster';
import { DynamoConnectionRegistry } from '../adapters/dynamo-connection-registry';
import { createPool, PgRecordStore } from '../adapters/pg-record-store';
import { documentClient } from '../shared/dynamo-client';
import { managementClient } from '../shared/management-client';
import { databaseConfig } from '../shared/database';
import { deferred, readEnv, WriterEnv } from '../shared/env';
import { describeError, logger, metrics, observability } from '../shared/observability';

export interface BatchWriterDeps {
  readonly store: RecordStore;
  readonly fanout: FanoutDeps;
  readonly fanoutOptions?: Partial<Omit<FanoutOptions, 'remainingMs'>>;
}

/** The batch writer over any store, registry and broadcaster. */
export function makeBatchWriterHandler(deps: BatchWriterDeps) {
  return middy<SQSEvent, SQSBatchResponse>()
    .use(observability())
    .handler(async (event, context: Context) => {
      const failures: string[] = [];
      const stored: { messageId: string; records: RecordToStore[] }[] = [];
      for (const message of event.Records) {
        try {
          stored.push({ messageId: message.messageId, records: toStore(message) });
        } catch (error) {
          // Redelivery cannot fix a malformed body; after maxReceiveCount it rests in the DLQ.
          logger.error('malformed message', { messageId: message.messageId, receiveCount: receiveCount(message), ...describeError(error) });
          failures.push(message.messageId);
        }
      }
      const records = stored.flatMap((s) => s.records);
      const options: FanoutOptions = {
        ...DEFAULT_FANOUT,
        ...deps.fanoutOptions,
        remainingMs: () => context.getRemainingTimeInMillis(),
      };
      // Zeros are emitted too, so that alarms and sums see every batch rather than missing data.
      metrics.addMetric('BatchSize', MetricUnit.Count, records.length);
      metrics.addMetric('MalformedMessages', MetricUnit.Count, failures.length);

      let inserted;
      const insertStarted = performance.now();
      try {
        inserted = await deps.store.insertBatch(records);
      } catch (error) {
        metrics.addMetric('StoreFailures', MetricUnit.Count, 1);
        logger.error('store failed; returning the batch to the queue', { records: records.length, ...describeError(error) });
        failures.push(...stored.map((s) => s.messageId));
        await pushStatus(
          { level: 'error', stage: 'store', message: 'Storing records failed; they will be retried.', pending: records.length },
          deps.fanout,
          options,
        ).then(countFanout, (pushError) => logger.warn('status push failed', describeError(pushError)));
        return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
      }
      metrics.addMetric('InsertMs', MetricUnit.Milliseconds, Math.round((performance.now() - insertStarted) * 10) / 10);
      metrics.addMetric('StoreFailures', MetricUnit.Count, 0);
      metrics.addMetric('RecordsStored', MetricUnit.Count, inserted.length);
      metrics.addMetric('DuplicateRecords', MetricUnit.Count, records.length - inserted.length);

      logger.info('batch stored', {
        messages: event.Records.length,
        records: records.length,
        inserted: inserted.length,
        duplicates: records.length - inserted.length,
      });
      try {
        const report = await pushRecords(inserted, deps.fanout, options);
        countFanout(report);
        if (report.failed || report.skipped) logger.warn('some frames were not delivered', { ...report });
      } catch (error) {
        // The rows are committed; a push failure never fails the batch.
        logger.warn('push failed', describeError(error));
      }
      return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
    });
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
    fanout: {
      registry: new DynamoConnectionRegistry(documentClient, env.CONNECTIONS_TABLE),
      broadcaster: new ApiGatewayBroadcaster(managementClient(env.CONNECTIONS_ENDPOINT)),
    },
    fanoutOptions: { concurrency: env.PUSH_CONCURRENCY },
  });
});
