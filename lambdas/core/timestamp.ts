/**
 * Timestamps with microsecond precision, kept as text end to end.
 *
 * A JS `Date` holds milliseconds only, so an instant is carried as its canonical UTC string
 * and parsed into whole milliseconds plus the remaining microseconds. `Date` is used only for
 * the millisecond part, where it is exact.
 */

/** An instant: whole epoch milliseconds plus 0..999 extra microseconds. */
export interface Instant {
  readonly epochMs: number;
  readonly micros: number;
}

// RFC 3339 / ISO-8601 extended format. The zone is required: "Z" or ±HH:MM (±HHMM, ±HH).
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}(?::?\d{2})?)$/;
// What PostgreSQL writes for an instant before its zone rules began (local mean time): an
// offset with seconds, e.g. `1850-01-01 00:53:28+00:53:28` in Europe/Berlin. Read back only.
const ISO_WITH_OFFSET_SECONDS =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([+-]\d{2}:\d{2}:\d{2})$/;

/** Why a string is not an accepted timestamp, or null when it is. */
export type TimestampProblem = 'format' | 'zone' | 'range' | 'precision';

/**
 * Parses an ISO-8601 timestamp that names its zone. Fractions beyond microseconds are refused
 * rather than rounded, so what is stored is exactly what was sent. Years 0001 to 9999, before
 * and after the offset is applied.
 */
export function parseTimestamp(text: string): Instant | TimestampProblem {
  if (isUtcShape(text)) return fromFields(digits(text, 0, 4), digits(text, 5, 2), digits(text, 8, 2), digits(text, 11, 2), digits(text, 14, 2), digits(text, 17, 2), text.slice(20, -1), 0);
  const m = ISO.exec(text);
  if (!m) {
    return /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? 'zone' : 'format';
  }
  return fromParts(m as unknown as string[]);
}

/** Whether the characters of `text` from `start` to `end` are all digits. */
function allDigits(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** The number the `length` digits of `text` at `start` spell (checked by isUtcShape). */
function digits(text: string, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

/**
 * The shape nearly every timestamp has, `YYYY-MM-DDTHH:MM:SS[.1 to 9 digits]Z` (the queue's, the
 * frames' and most clients'): its fields are read from the characters, not by the regular
 * expression, which takes the other shapes. The answer is the same either way (a test compares them).
 */
function isUtcShape(text: string): boolean {
  const n = text.length;
  if (n < 20 || n === 21 || n > 30 || text.charCodeAt(n - 1) !== 90 /* Z */) return false;
  if (text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':') return false;
  if (!allDigits(text, 0, 4) || !allDigits(text, 5, 7) || !allDigits(text, 8, 10) || !allDigits(text, 11, 13) || !allDigits(text, 14, 16) || !allDigits(text, 17, 19)) return false;
  return n === 20 || (text[19] === '.' && allDigits(text, 20, n - 1));
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in epoch ms: the years accepted. */
const FIRST_MS = new Date(0).setUTCFullYear(1, 0, 1);
const END_MS = new Date(0).setUTCFullYear(10000, 0, 1);

function fromParts(parts: readonly string[]): Instant | TimestampProblem {
  const [, y, mo, d, h, mi, s, frac = '', zone] = parts as string[];
  let offsetSeconds: number | 'range' = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    const digits = zone!.slice(1).replaceAll(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    const os = digits.length > 4 ? Number(digits.slice(4, 6)) : 0;
    offsetSeconds = oh > 23 || om > 59 || os > 59 ? 'range' : sign * (oh * 3600 + om * 60 + os);
  }
  return fromFields(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), frac, offsetSeconds);
}

/** An instant from its fields, its fraction's digits and its zone's offset, each checked. */
function fromFields(year: number, month: number, day: number, hour: number, minute: number, second: number, frac: string, offsetSeconds: number | 'range'): Instant | TimestampProblem {
  if (frac.length > 6 && /[1-9]/.test(frac.slice(6))) return 'precision';
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    return 'range';
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return 'range'; // e.g. 02-30
  if (offsetSeconds === 'range') return 'range';
  // Date.UTC reads years 0 to 99 as 1900 to 1999; setUTCFullYear takes the year as it is.
  const wallMs = year >= 100 ? Date.UTC(year, month - 1, day, hour, minute, second) : new Date(0).setUTCFullYear(year, month - 1, day) + ((hour * 60 + minute) * 60 + second) * 1000;
  const micros6 = frac === '' ? 0 : Number(frac.padEnd(6, '0').slice(0, 6));
  const epochMs = wallMs - offsetSeconds * 1000 + Math.floor(micros6 / 1000);
  if (epochMs < FIRST_MS || epochMs >= END_MS) return 'range';
  return { epochMs, micros: micros6 % 1000 };
}

/**
 * Parses or throws; for values that were validated before (queue bodies, database rows). It
 * also reads the offsets with seconds that PostgreSQL writes for old instants in some zones.
 */
export function instantOf(text: string): Instant {
  const withSeconds = ISO_WITH_OFFSET_SECONDS.exec(text);
  const parsed = withSeconds ? fromParts(withSeconds as unknown as string[]) : parseTimestamp(text);
  if (typeof parsed === 'string') throw new RangeError(`not a timestamp (${parsed}): ${text}`);
  return parsed;
}

/**
 * Canonical form: UTC, "Z", and six fractional digits only when the fraction is non-zero.
 * This is the one spelling that the API, the queue and the monitoring frames use.
 */
export function formatInstant(instant: Instant): string {
  const iso = new Date(instant.epochMs).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const fraction = (iso.slice(20, 23) + String(instant.micros).padStart(3, '0'));
  return fraction === '000000' ? `${iso.slice(0, 19)}Z` : `${iso.slice(0, 19)}.${fraction}Z`;
}

/**
 * Re-spells any accepted timestamp in the canonical form. A UTC one is re-spelled as text (its
 * fields are already the canonical ones), after the same checks: the ingest path's hot spot.
 */
export function canonicalTimestamp(text: string): string {
  const m = ISO.exec(text);
  if (m && (m[8] === 'Z' || m[8] === 'z')) {
    const parsed = fromParts(m as unknown as string[]);
    if (typeof parsed === 'string') throw new RangeError(`not a timestamp (${parsed}): ${text}`);
    return respellUtc(m);
  }
  return formatInstant(instantOf(text));
}

/** A UTC timestamp's fields in the canonical form. */
function respellUtc(m: RegExpExecArray): string {
  return canonicalOf(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}`, m[7]);
}

/** `YYYY-MM-DDTHH:MM:SS` and its fraction's digits in the canonical form: six digits or none, then Z. */
function canonicalOf(wall: string, fractionDigits = ''): string {
  const fraction = fractionDigits.padEnd(6, '0').slice(0, 6);
  return fraction === '000000' ? `${wall}Z` : `${wall}.${fraction}Z`;
}

/**
 * canonicalTimestamp for a timestamp validated before (parseTimestamp accepted it): text already
 * canonical is kept as it is, and a UTC one is re-spelled without checking its fields again.
 */
export function canonicalValidated(text: string): string {
  if (isUtcShape(text)) return canonicalOf(text.slice(0, 19), text.slice(20, -1));
  const m = ISO.exec(text);
  return m && (m[8] === 'Z' || m[8] === 'z') ? respellUtc(m) : formatInstant(instantOf(text));
}

/** Orders two instants; microsecond exact. */
export function compareInstants(a: Instant, b: Instant): number {
  return a.epochMs - b.epochMs || a.micros - b.micros;
}
