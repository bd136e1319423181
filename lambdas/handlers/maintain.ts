/**
 * The maintenance function: one pass over the time-partitioned tables (records), which makes the
 * partitions ahead of time and drops those past the retention (lambdas/core/partitions.ts).
 * On AWS an EventBridge schedule invokes it; the local stack runs it at start and every
 * MAINTENANCE_INTERVAL_MS; `npm run maintain` runs one pass.
 *
 * It connects as the database's owner, since it makes and drops tables, over one connection of
 * its own per pass. A pass is idempotent and safe when passes overlap (an advisory lock); a
 * failure is raised, so that the function's Errors alarm sees it, after it has been logged.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import pg from 'pg';
import { DAILY_ROLLUPS_TABLE, HOURLY_ROLLUPS_TABLE, maintainPartitions, RECORDS_TABLE, ROLLUPS_TABLE, type TableReport } from '../adapters/pg-partitions';
import { DAY_MS } from '../core/partitions';
import { singleClientConfig } from '../shared/database';
import { deferred, MaintainEnv, partitionSizeMs, readEnv, retentionProblem, type RetentionSettings } from '../shared/env';
import { describeError, logger, metrics, observability } from '../shared/observability';

export interface MaintainDeps {
  /** Connection settings of the owner, resolved for each pass. */
  readonly connection: () => Promise<string | pg.ClientConfig>;
  readonly settings: RetentionSettings;
  /** How long a step waits for its lock. @default 2000 */
  readonly lockTimeoutMs?: number;
  /** The clock. @default Date.now */
  readonly now?: () => number;
  /** Where each partition made or dropped is told. @default the function's log */
  readonly log?: (line: string, detail: Record<string, unknown>) => void;
}

/** What a pass did, or that another pass held the lock and this one did nothing. */
export type MaintainResult = { readonly tables: readonly TableReport[] } | { readonly skipped: string };

/**
 * Days in a partition of each rollup table, one made ahead: a user's rollups are at most 1,440
 * rows a day by the minute, 24 by the hour and 1 by the day, so partitions of raw records' size
 * would be small and many.
 */
export const ROLLUP_PARTITION_DAYS = { minute: 30, hour: 90, day: 360 } as const;

/** The plans' settings: records by PARTITION_SIZE and RETENTION_DAYS, the rollups by ROLLUP_RETENTION_DAYS. */
export function partitionedTables(settings: RetentionSettings) {
  const keep = (days: number | undefined) => (days === undefined ? {} : { retentionDays: days });
  const rollups = (days: number) => ({ sizeMs: days * DAY_MS, ahead: 1, ...keep(settings.ROLLUP_RETENTION_DAYS) });
  return [
    {
      spec: RECORDS_TABLE,
      settings: { sizeMs: partitionSizeMs(settings.PARTITION_SIZE), ahead: settings.PARTITIONS_AHEAD, ...keep(settings.RETENTION_DAYS) },
    },
    { spec: ROLLUPS_TABLE, settings: rollups(ROLLUP_PARTITION_DAYS.minute) },
    { spec: HOURLY_ROLLUPS_TABLE, settings: rollups(ROLLUP_PARTITION_DAYS.hour) },
    { spec: DAILY_ROLLUPS_TABLE, settings: rollups(ROLLUP_PARTITION_DAYS.day) },
  ];
}

/** One pass on a connection of its own. */
export async function maintainOnce(deps: MaintainDeps): Promise<MaintainResult> {
  const problem = retentionProblem(deps.settings);
  if (problem) throw new Error(`Invalid configuration: ${problem}`);
  const connection = await deps.connection();
  const client = new pg.Client({ ...(typeof connection === 'string' ? { connectionString: connection } : connection), connectionTimeoutMillis: 10_000 });
  // A connection lost mid-pass fails the pass (the query rejects); this keeps it from crashing the process too.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const reports = await maintainPartitions(client, partitionedTables(deps.settings), (deps.now ?? Date.now)(), {
      lockTimeoutMs: deps.lockTimeoutMs ?? 2_000,
      log: deps.log ?? ((line, detail) => logger.info(line, detail)),
    });
    return reports ? { tables: reports } : { skipped: 'another maintenance pass holds the lock' };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The handler: the pass, its summary in the log and in metrics. */
export function makeMaintainHandler(deps: MaintainDeps) {
  return middy<unknown, MaintainResult, Error, Context>()
    .use(observability())
    .handler(async () => {
      try {
        const result = await maintainOnce(deps);
        if ('skipped' in result) {
          logger.info('maintenance skipped', { reason: result.skipped });
          return result;
        }
        const created = result.tables.reduce((n, t) => n + t.created.length, 0);
        const dropped = result.tables.reduce((n, t) => n + t.dropped.length, 0);
        metrics.addMetric('PartitionsCreated', MetricUnit.Count, created);
        metrics.addMetric('PartitionsDropped', MetricUnit.Count, dropped);
        const retention = deps.settings.RETENTION_DAYS;
        logger.info('maintenance done', { created, dropped, moved: result.tables.reduce((n, t) => n + t.moved, 0), retentionDays: retention ?? 'forever', horizon: retention === undefined ? undefined : new Date((deps.now ?? Date.now)() - retention * DAY_MS).toISOString() });
        return result;
      } catch (error) {
        logger.error('maintenance failed', describeError(error));
        metrics.addMetric('MaintenanceFailed', MetricUnit.Count, 1);
        throw error;
      }
    });
}

/** The Lambda entry point. */
export const handler = deferred(() => {
  const env = readEnv(MaintainEnv);
  return makeMaintainHandler({
    settings: env,
    lockTimeoutMs: env.MAINTENANCE_LOCK_TIMEOUT_MS,
    connection: () => singleClientConfig(),
  });
});
