import { describe, expect, it } from 'vitest';
import { canonicalTimestamp, canonicalValidated, compareInstants, formatInstant, instantOf, parseTimestamp } from '../../../lambdas/core/timestamp';

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

  it('spells a UTC timestamp as text exactly as formatting its parsed instant would, over 20,000 generated ones', () => {
    // A seeded generator, so a failure names a reproducible input.
    let seed = 20_240_501;
    const next = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const pad = (v: number, w: number) => String(v).padStart(w, '0');
    for (let i = 0; i < 20_000; i++) {
      const year = [1, 99, 100, 1900, 2000, 2024, 9999][next(7)]! + (next(3) === 0 ? next(50) : 0);
      const fraction = ['', '.0', '.000000', '.5', '.123', '.000001', '.999999', '.1234560', '.000000000'][next(9)]!;
      const zone = ['Z', 'z', '+00:00', '-05:30', '+14:00'][next(5)]!;
      const text = `${pad(Math.min(year, 9999), 4)}-${pad(1 + next(12), 2)}-${pad(1 + next(31), 2)}${next(2) ? 'T' : ' '}${pad(next(24), 2)}:${pad(next(60), 2)}:${pad(next(60), 2)}${fraction}${zone}`;
      const parsed = parseTimestamp(text);
      if (typeof parsed === 'string') {
        expect(() => canonicalTimestamp(text), text).toThrow(RangeError);
        continue;
      }
      expect(canonicalTimestamp(text), text).toBe(formatInstant(parsed));
      expect(instantOf(canonicalTimestamp(text)), text).toEqual(parsed);
    }
  });

  it('reads the common UTC shape by its characters exactly as the general way reads the same instant with +00:00, over 20,000 generated ones', () => {
    // Arrange: a seeded generator of texts in and near the shape `YYYY-MM-DDTHH:MM:SS[.f]Z`,
    // valid and not (ranges, precision, a missing digit, a letter, an empty or long fraction).
    let seed = 7_654_321;
    const next = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    const pad = (v: number, w: number) => String(v).padStart(w, '0');
    for (let i = 0; i < 20_000; i++) {
      const year = [0, 1, 50, 99, 100, 1900, 2000, 2024, 9999][next(9)]!;
      const fraction = ['', '.', '.0', '.5', '.123', '.123456', '.1234567', '.1234560', '.000000000', '.0000000000', '.12a'][next(11)]!;
      const field = (max: number) => pad(next(max), 2);
      let text = `${pad(year, 4)}-${field(14)}-${field(33)}T${field(26)}:${field(62)}:${field(62)}${fraction}`;
      if (next(20) === 0) text = text.slice(0, 5) + text.slice(6); // a digit short

      // Act
      const fast = parseTimestamp(`${text}Z`);
      const general = parseTimestamp(`${text}+00:00`);

      // Assert
      if (typeof general === 'string') expect(fast, text).toBe(general === 'zone' ? 'format' : general);
      else {
        expect(fast, text).toEqual(general);
        expect(canonicalValidated(`${text}Z`), text).toBe(canonicalTimestamp(`${text}+00:00`));
      }
    }
  });

  it('refuses a 29 February outside leap years, and the years either side of 0001 to 9999', () => {
    expect(parseTimestamp('2024-02-29T00:00:00Z')).toEqual({ epochMs: Date.UTC(2024, 1, 29), micros: 0 });
    for (const text of ['2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2100-02-29T00:00:00Z']) expect(parseTimestamp(text), text).toBe('range');
    expect(parseTimestamp('2000-02-29T00:00:00Z')).toEqual({ epochMs: Date.UTC(2000, 1, 29), micros: 0 });
    expect(parseTimestamp('0001-01-01T00:00:00+00:01')).toBe('range');
    expect(parseTimestamp('9999-12-31T23:59:59.999999-00:01')).toBe('range');
    expect(canonicalTimestamp('0001-01-01T00:00:00Z')).toBe('0001-01-01T00:00:00Z');
  });
});
