import { describe, expect, it } from 'vitest';
import { pgTimestampToIso } from '../../../lambdas/adapters/pg-record-store';

describe('timestamps read back from PostgreSQL', () => {
  it.each([
    ['2001-01-01 00:00:00.123456+00', '2001-01-01T00:00:00.123456Z'],
    ['2001-01-01 02:00:00+02', '2001-01-01T00:00:00Z'],
    ['2001-01-01 05:30:00.5+05:30', '2001-01-01T00:00:00.500000Z'],
    ['2000-12-31 19:00:00.000001-05', '2001-01-01T00:00:00.000001Z'],
  ])('re-spells %s in UTC whatever the session zone', (text, expected) => {
    expect(pgTimestampToIso(text)).toBe(expected);
  });
});
