import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, layoutOf, partitionName, PartitionLayoutError, planPartitions, type PartitionBound } from '../../../lambdas/core/partitions';

const at = (iso: string) => Date.parse(iso);
const DAY = { sizeMs: DAY_MS, ahead: 2 };

/** A layout of `_before`, day partitions from `first` up to `last` (exclusive), and `_after`. */
function days(first: string, last: string): PartitionBound[] {
  const out: PartitionBound[] = [{ name: 'records_before', from: null, to: at(first) }];
  for (let t = at(first); t < at(last); t += DAY_MS) out.push({ name: partitionName('records', t, DAY_MS), from: t, to: t + DAY_MS });
  out.push({ name: 'records_after', from: at(last), to: null });
  return out;
}

describe('planning time partitions', () => {
  it('makes the current partition and the ones ahead where _after began, and moves _after past them', () => {
    // Arrange: a table just converted, with nothing but its two catch-alls, at 2024-10-01 15:00.
    const partitions = days('2024-10-01T00:00:00Z', '2024-10-01T00:00:00Z');

    // Act
    const plan = planPartitions('records', partitions, at('2024-10-01T15:00:00Z'), DAY);

    // Assert
    expect(plan.create.map((p) => p.name)).toEqual(['records_p20241001', 'records_p20241002', 'records_p20241003']);
    expect(plan.create[0]).toMatchObject({ from: at('2024-10-01T00:00:00Z'), to: at('2024-10-02T00:00:00Z') });
    expect(plan.afterFrom).toBe(at('2024-10-04T00:00:00Z'));
    expect(plan.drop).toEqual([]);
    expect(plan.beforeTo).toBeUndefined();
  });

  it('does nothing when the partitions ahead exist already: a second pass is a no-op', () => {
    // Arrange
    const partitions = days('2024-10-01T00:00:00Z', '2024-10-04T00:00:00Z');

    // Act
    const plan = planPartitions('records', partitions, at('2024-10-01T23:59:59Z'), DAY);

    // Assert
    expect(plan).toEqual({ create: [], afterFrom: undefined, drop: [] });
  });

  it('makes one partition of the whole gap when the partitions ahead ran out long ago, then the grid from now', () => {
    // Arrange: no pass for two months.
    const partitions = days('2024-08-01T00:00:00Z', '2024-08-04T00:00:00Z');

    // Act
    const plan = planPartitions('records', partitions, at('2024-10-01T06:00:00Z'), { sizeMs: DAY_MS, ahead: 1 });

    // Assert
    expect(plan.create).toEqual([
      { name: 'records_p20240804', from: at('2024-08-04T00:00:00Z'), to: at('2024-10-01T00:00:00Z') },
      { name: 'records_p20241001', from: at('2024-10-01T00:00:00Z'), to: at('2024-10-02T00:00:00Z') },
      { name: 'records_p20241002', from: at('2024-10-02T00:00:00Z'), to: at('2024-10-03T00:00:00Z') },
    ]);
  });

  it('names partitions smaller than a day by their hour, and starts a new size where the old partitions end', () => {
    // Arrange: day partitions, then the size set to 6 hours.
    const partitions = days('2024-10-01T00:00:00Z', '2024-10-02T00:00:00Z');

    // Act
    const plan = planPartitions('records', partitions, at('2024-10-02T07:00:00Z'), { sizeMs: 6 * HOUR_MS, ahead: 1 });

    // Assert
    expect(plan.create.map((p) => [p.name, new Date(p.from).toISOString(), new Date(p.to).toISOString()])).toEqual([
      ['records_p20241002_00', '2024-10-02T00:00:00.000Z', '2024-10-02T06:00:00.000Z'],
      ['records_p20241002_06', '2024-10-02T06:00:00.000Z', '2024-10-02T12:00:00.000Z'],
      ['records_p20241002_12', '2024-10-02T12:00:00.000Z', '2024-10-02T18:00:00.000Z'],
    ]);
  });

  it('aligns a first partition off the grid to end on it, when the size changes to a week', () => {
    // Arrange: weeks are aligned to 2000-01-01, a Saturday; 2024-10-01 is a Tuesday.
    const partitions = days('2024-10-01T00:00:00Z', '2024-10-01T00:00:00Z');

    // Act
    const plan = planPartitions('records', partitions, at('2024-10-01T00:00:00Z'), { sizeMs: 7 * DAY_MS, ahead: 0 });

    // Assert: Tuesday to Saturday, then nothing more (the current week is covered).
    expect(plan.create.map((p) => [new Date(p.from).toISOString().slice(0, 10), new Date(p.to).toISOString().slice(0, 10)])).toEqual([['2024-10-01', '2024-10-05']]);
  });

  it('keeps everything without a retention, however old', () => {
    // Arrange
    const partitions = days('2020-01-01T00:00:00Z', '2024-10-04T00:00:00Z');

    // Act
    const plan = planPartitions('records', partitions, at('2024-10-01T12:00:00Z'), DAY);

    // Assert
    expect(plan.drop).toEqual([]);
    expect(plan.beforeTo).toBeUndefined();
  });

  it('drops the partitions wholly past the horizon and folds their range into a new, empty _before', () => {
    // Arrange: 10 days of partitions, a retention of 3 days, at noon on the 10th.
    const partitions = days('2024-10-01T00:00:00Z', '2024-10-13T00:00:00Z');

    // Act
    const plan = planPartitions('records', partitions, at('2024-10-10T12:00:00Z'), { ...DAY, retentionDays: 3 });

    // Assert: the horizon is 2024-10-07 12:00; the partition of the 7th still holds rows inside it.
    expect(plan.drop.map((p) => p.name)).toEqual(['records_p20241001', 'records_p20241002', 'records_p20241003', 'records_p20241004', 'records_p20241005', 'records_p20241006']);
    expect(plan.beforeTo).toBe(at('2024-10-07T00:00:00Z'));
  });

  it('keeps _before while it may hold a row inside the horizon (a converted table), and drops nothing older than it', () => {
    // Arrange: the old table became _before up to the 5th; 2 days of retention on the 6th.
    const partitions = days('2024-10-05T00:00:00Z', '2024-10-09T00:00:00Z');

    // Act
    const plan = planPartitions('records', partitions, at('2024-10-06T12:00:00Z'), { ...DAY, retentionDays: 2 });

    // Assert
    expect(plan.drop).toEqual([]);
    expect(plan.beforeTo).toBeUndefined();
  });

  it('makes _before anew when rows past the horizon arrived in it since the last pass, and leaves an empty one alone', () => {
    // Arrange: the horizon has passed _before's end; no fixed partition has expired yet.
    const partitions = days('2024-10-05T00:00:00Z', '2024-10-09T00:00:00Z');
    const now = at('2024-10-06T00:00:00Z');

    // Act
    const late = planPartitions('records', partitions, now, { ...DAY, retentionDays: 1 }, true);
    const empty = planPartitions('records', partitions, now, { ...DAY, retentionDays: 1 }, false);

    // Assert
    expect(late.beforeTo).toBe(at('2024-10-05T00:00:00Z'));
    expect(empty.beforeTo).toBeUndefined();
  });

  it('refuses a layout with a gap, a missing catch-all or an overlap, naming the partitions found', () => {
    // Arrange
    const gap = days('2024-10-01T00:00:00Z', '2024-10-04T00:00:00Z').filter((p) => p.name !== 'records_p20241002');
    const noAfter = days('2024-10-01T00:00:00Z', '2024-10-02T00:00:00Z').filter((p) => p.to !== null);

    // Act / Assert
    expect(() => layoutOf('records', gap)).toThrow(PartitionLayoutError);
    expect(() => layoutOf('records', gap)).toThrow(/gap or overlap at 2024-10-02T00:00:00.000Z/);
    expect(() => layoutOf('records', noAfter)).toThrow(/no single partition to MAXVALUE.*records_before, records_p20241001/);
  });
});
