/**
 * The documented range of dates is years 0001 to 9999, the first century included; and an
 * instant read back from PostgreSQL keeps its value whatever offset PostgreSQL spells it with.
 */
import { describe, expect, it } from 'vitest';
import { parseUploadBody } from '../../../lambdas/core/record';
import { canonicalTimestamp, instantOf, parseTimestamp } from '../../../lambdas/core/timestamp';

describe('timestamps in the first century', () => {
  it.each([
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z'],
    ['0050-06-15T12:30:00.000001Z', '0050-06-15T12:30:00.000001Z'],
    ['0099-12-31T23:59:59.999999Z', '0099-12-31T23:59:59.999999Z'],
    ['0004-02-29T00:00:00Z', '0004-02-29T00:00:00Z'],
    ['0001-01-01T01:00:00+01:00', '0001-01-01T00:00:00Z'],
    ['0100-01-01T00:00:00-00:01', '0100-01-01T00:01:00Z'],
  ])('re-spells %s as %s', (input, expected) => {
    expect(canonicalTimestamp(input)).toBe(expected);
  });

  it.each([
    ['0000-12-31T23:59:59Z'],
    ['0001-01-01T00:00:00+00:01'], // year 0 once in UTC
    ['0003-02-29T00:00:00Z'], // not a leap year
    ['9999-12-31T23:59:59-00:01'], // year 10000 once in UTC
  ])('refuses %s as out of range', (input) => {
    expect(parseTimestamp(input)).toBe('range');
  });

  it('keeps year 50 apart from year 1950', () => {
    // Act
    const early = instantOf('0050-01-01T00:00:00Z');
    const late = instantOf('1950-01-01T00:00:00Z');
    // Assert
    expect(new Date(early.epochMs).toISOString()).toBe('0050-01-01T00:00:00.000Z');
    expect(late.epochMs).toBe(Date.UTC(1950, 0, 1));
    expect(early.epochMs).toBe(-60_589_296_000_000);
  });

  it('accepts a record dated in year 0050, as docs/api.md promises', () => {
    expect(parseUploadBody({ data: 1, date: '0050-01-01T00:00:00Z' })).toEqual([{ data: 1, date: '0050-01-01T00:00:00Z' }]);
  });
});

describe('instants as PostgreSQL writes them', () => {
  it.each([
    ['1850-01-01 00:53:28+00:53:28', '1850-01-01T00:00:00Z'], // Europe/Berlin's local mean time
    ['0050-01-01 00:00:00-04:56:02', '0050-01-01T04:56:02Z'], // America/New_York's
  ])('reads %s, an offset with seconds, as %s', (text, expected) => {
    expect(canonicalTimestamp(text.replace(' ', 'T'))).toBe(expected);
  });

  it('still refuses an offset with seconds from a client', () => {
    expect(parseTimestamp('1850-01-01T00:53:28+00:53:28')).toBe('format');
  });
});
