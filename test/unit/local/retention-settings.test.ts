/**
 * The retention settings, as the local stack (and `npm run maintain`) reads them: defaults, and
 * bad values refused at start with an error that names the variable.
 */
import { describe, expect, it } from 'vitest';
import { partitionSizeMs, retentionVariables } from '../../../lambdas/shared/env';
import { localConfigFromEnv } from '../../../local/config';

describe('the retention settings of the local stack', () => {
  it('keeps everything in day partitions, three made ahead, a pass an hour, by default', () => {
    // Act
    const config = localConfigFromEnv({});

    // Assert
    expect(config).toMatchObject({ PARTITION_SIZE: '1d', PARTITIONS_AHEAD: 3, MAINTENANCE_INTERVAL_MS: 3_600_000 });
    expect(config.RETENTION_DAYS).toBeUndefined();
    expect(config.ROLLUP_RETENTION_DAYS).toBeUndefined();
    expect(retentionVariables(config)).toEqual({ PARTITION_SIZE: '1d', PARTITIONS_AHEAD: '3' });
  });

  it('passes set retentions on to the maintenance function as variables', () => {
    // Act
    const config = localConfigFromEnv({ RETENTION_DAYS: '30', ROLLUP_RETENTION_DAYS: '400', PARTITION_SIZE: '6h' });

    // Assert
    expect(retentionVariables(config)).toEqual({ PARTITION_SIZE: '6h', PARTITIONS_AHEAD: '3', RETENTION_DAYS: '30', ROLLUP_RETENTION_DAYS: '400' });
    expect(partitionSizeMs(config.PARTITION_SIZE)).toBe(6 * 3_600_000);
  });

  it.each([
    [{ RETENTION_DAYS: '-1' }, /RETENTION_DAYS is invalid \(must be at least 1 day/],
    [{ RETENTION_DAYS: 'a week' }, /RETENTION_DAYS is invalid \(must be a whole number of days\)/],
    [{ RETENTION_DAYS: '1.5' }, /RETENTION_DAYS is invalid \(must be a whole number of days\)/],
    [{ ROLLUP_RETENTION_DAYS: '0', RETENTION_DAYS: '1' }, /ROLLUP_RETENTION_DAYS is invalid/],
    [{ RETENTION_DAYS: '30', ROLLUP_RETENTION_DAYS: '7' }, /ROLLUP_RETENTION_DAYS is invalid \(7 days is shorter than RETENTION_DAYS, 30 days\)/],
    [{ ROLLUP_RETENTION_DAYS: '365' }, /ROLLUP_RETENTION_DAYS is invalid \(365 days is shorter than RETENTION_DAYS, unset: raw records are kept forever\)/],
    [{ PARTITION_SIZE: '2w' }, /PARTITION_SIZE is invalid \(must be a whole number of hours or days/],
    [{ PARTITIONS_AHEAD: '-2' }, /PARTITIONS_AHEAD is invalid \(must not be negative\)/],
    [{ MAINTENANCE_INTERVAL_MS: 'hourly' }, /MAINTENANCE_INTERVAL_MS is invalid/],
  ])('refuses %o, naming the variable', (env, message) => {
    // Act / Assert
    expect(() => localConfigFromEnv(env)).toThrow(message);
  });
});
