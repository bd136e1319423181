import { describe, expect, it } from 'vitest';
import { canonicalTimestamp, compareInstants, instantOf, parseTimestamp } from '../../../lambdas/core/timestamp';

describe('timestamps', () => {
  it.each([
    ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00Z'],
    ['2024-05-01T12:00:00.000000Z', '2024-05-01T12:00:00Z'],
    ['2024-05-01T12:00:00.5Z', '2024-05-01T12:00:00.500000Z'],
    ['2024-05-01T12:00:00.123456Z', '2024-05-01T12:00:00.123456Z'],
    ['2024-05-01T12:00:00.000001Z', '2024-05-01T12:00:00.000001Z'],
    ['2024-05-01T12:00:00.123456+02:00', '2024-05-01T10:00:00.123456Z'],
    ['2024-05-01T00:30:00.999999-01:30', '2024-05-01T02:00:00.999999Z'],
    ['2024-05-01T12:00:00+0530', '2024-05-01T06:30:00Z'],
    ['2024-05-01T12:00:00+05', '2024-05-01T07:00:00Z'],
    ['2024-12-31T23:59:59.999999-00:01', '2025-01-01T00:00:59.999999Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00Z'],
    ['2024-05-01T12:00:00.123456000Z', '2024-05-01T12:00:00.123456Z'],
  ])('re-spells %s as %s, keeping every microsecond', (input, expected) => {
    expect(canonicalTimestamp(input)).toBe(expected);
  });

  it.each([
    ['2024-05-01T12:00:00', 'zone'],
    ['2024-05-01 12:00', 'zone'],
    ['yesterday', 'format'],
    ['2024-05-01', 'format'],
    ['1714564800', 'format'],
    ['2024-13-01T00:00:00Z', 'range'],
    ['2023-02-29T00:00:00Z', 'range'],
    ['2024-05-01T24:00:00Z', 'range'],
    ['2024-05-01T12:60:00Z', 'range'],
    ['2024-05-01T12:00:60Z', 'range'],
    ['0000-01-01T00:00:00Z', 'range'],
    ['2024-05-01T12:00:00+24:00', 'range'],
    ['2024-05-01T12:00:00.1234567Z', 'precision'],
  ])('refuses %s (%s)', (input, problem) => {
    expect(parseTimestamp(input)).toBe(problem);
  });

  it('orders instants by their microseconds when the milliseconds are equal', () => {
    const a = instantOf('2024-01-01T00:00:00.000001Z');
    const b = instantOf('2024-01-01T00:00:00.000002Z');
    expect(compareInstants(a, b)).toBeLessThan(0);
    expect(compareInstants(b, a)).toBeGreaterThan(0);
    expect(compareInstants(a, a)).toBe(0);
  });
});
