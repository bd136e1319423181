/**
 * The local stack runs the maintenance function as the schedule does on AWS: once at start,
 * then every MAINTENANCE_INTERVAL_MS.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDS_TABLE, readPartitions } from '../../lambdas/adapters/pg-partitions';
import { DAY_MS, gridFloor, partitionName } from '../../lambdas/core/partitions';
import { startTestStack, waitFor } from '../support/stack';

describe('maintenance on the local stack', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let owner: pg.Client;
  beforeAll(async () => {
    stack = await startTestStack({ MAINTENANCE_INTERVAL_MS: '300', PARTITIONS_AHEAD: '2' });
    owner = new pg.Client({ connectionString: stack.databaseUrl });
    await owner.connect();
  });
  afterAll(async () => {
    await owner?.end();
    await stack?.cleanup();
  });
  const names = async () => (await readPartitions(owner, RECORDS_TABLE)).partitions.map((p) => p.name);
  const dayName = (days: number) => partitionName('records', gridFloor(Date.now(), DAY_MS) + days * DAY_MS, DAY_MS);

  it('has made the partitions of today and the days ahead by the time it takes uploads', async () => {
    // Act
    const made = await names();

    // Assert
    expect(made).toEqual(expect.arrayContaining([dayName(0), dayName(1), dayName(2)]));
    expect(made).not.toContain(dayName(3));
  });

  it('makes a partition ahead again on a later pass, when it is missing', async () => {
    // Arrange: the last partition ahead folded back into records_after, as if never made.
    const last = dayName(2);
    const from = new Date(gridFloor(Date.now(), DAY_MS) + 2 * DAY_MS).toISOString();
    await owner.query(`BEGIN;
      ALTER TABLE records DETACH PARTITION records_after;
      DROP TABLE ${last};
      ALTER TABLE records ATTACH PARTITION records_after FOR VALUES FROM ('${from}') TO (MAXVALUE);
      COMMIT`);
    expect(await names()).not.toContain(last);

    // Act / Assert: the next pass, within a few intervals.
    await waitFor(async () => (await names()).includes(last), 10_000);
  });
});
