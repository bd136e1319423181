/**
 * The maintenance function's handler against the embedded PostgreSQL: what a pass makes, that a
 * second one does nothing, and failures that are raised (for the function's Errors alarm) with a
 * message that says why.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { RECORDS_TABLE, readPartitions } from '../../lambdas/adapters/pg-partitions';
import { DAY_MS, gridFloor, partitionName } from '../../lambdas/core/partitions';
import { makeMaintainHandler, type MaintainResult } from '../../lambdas/handlers/maintain';
import type { RetentionSettings } from '../../lambdas/shared/env';
import { lambdaContext } from '../fixtures/events';
import { freshDatabase } from '../support/services';

const SETTINGS: RetentionSettings = { PARTITION_SIZE: '1d', PARTITIONS_AHEAD: 3, RETENTION_DAYS: undefined, ROLLUP_RETENTION_DAYS: undefined };

describe('the maintenance handler', () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase();
  });
  const partitionNames = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await readPartitions(client, RECORDS_TABLE)).partitions.map((p) => p.name).sort();
    } finally {
      await client.end();
    }
  };

  it('makes the current day partition and three ahead on its first pass, and nothing on the next', async () => {
    // Arrange
    const handler = makeMaintainHandler({ connection: async () => url, settings: SETTINGS });
    const today = gridFloor(Date.now(), DAY_MS);

    // Act
    const first = (await handler({}, lambdaContext())) as Extract<MaintainResult, { tables: unknown }>;
    const second = (await handler({}, lambdaContext())) as Extract<MaintainResult, { tables: unknown }>;

    // Assert
    expect(first.tables[0]!.created.map((p) => p.name)).toEqual([0, 1, 2, 3].map((d) => partitionName('records', today + d * DAY_MS, DAY_MS)));
    expect(second.tables[0]).toEqual({ table: 'records', created: [], dropped: [], moved: 0 });
    expect(await partitionNames()).toEqual(['records_after', 'records_before', ...[0, 1, 2, 3].map((d) => partitionName('records', today + d * DAY_MS, DAY_MS))].sort());
  });

  it('fails a pass whose settings do not go together, naming the variable, before it connects', async () => {
    // Arrange
    const handler = makeMaintainHandler({ connection: async () => 'postgres://nobody@127.0.0.1:1/none', settings: { ...SETTINGS, RETENTION_DAYS: 30, ROLLUP_RETENTION_DAYS: 7 } });

    // Act / Assert
    await expect(handler({}, lambdaContext())).rejects.toThrow(/ROLLUP_RETENTION_DAYS is invalid \(7 days is shorter than RETENTION_DAYS, 30 days\)/);
  });

  it('fails a pass that cannot reach the database, so that the schedule retries it and the alarm sees it', async () => {
    // Arrange
    const handler = makeMaintainHandler({ connection: async () => 'postgres://nobody@127.0.0.1:1/none', settings: SETTINGS });

    // Act / Assert
    await expect(handler({}, lambdaContext())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

