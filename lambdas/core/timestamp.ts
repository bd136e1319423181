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
  const m = ISO.exec(text);
  if (!m) {
    return /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? 'zone' : 'format';
  }
  return fromParts(m as unknown as string[]);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in epoch ms: the years accepted. */
const FIRST_MS = new Date(0).setUTCFullYear(1, 0, 1);
const END_MS = new Date(0).setUTCFullYear(10000, 0, 1);

function fromParts(parts: readonly string[]): Instant | TimestampProblem {
  const [, y, mo, d, h, mi, s, frac = '', zone] = parts as string[];
  if (frac.length > 6 && /[1-9]/.test(frac.slice(6))) return 'precision';
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(s);
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    return 'range';
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return 'range'; // e.g. 02-30
  // Date.UTC reads years 0 to 99 as 1900 to 1999; setUTCFullYear takes the year as it is.
  const wallMs = year >= 100 ? Date.UTC(year, month - 1, day, hour, minute, second) : new Date(0).setUTCFullYear(year, month - 1, day) + ((hour * 60 + minute) * 60 + second) * 1000;
  let offsetSeconds = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    const digits = zone!.slice(1).replaceAll(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    const os = digits.length > 4 ? Number(digits.slice(4, 6)) : 0;
    if (oh > 23 || om > 59 || os > 59) return 'range';
    offsetSeconds = sign * (oh * 3600 + om * 60 + os);
  }
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
  const fraction = m[7] === undefined ? '000000' : m[7].padEnd(6, '0').slice(0, 6);
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${fraction === '000000' ? '' : `.${fraction}`}Z`;
}

/** The shape formatInstant writes: what a timestamp validated before needs no re-spelling in. */
const CANONICAL_SHAPE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.(?!000000)\d{6})?Z$/;

/**
 * canonicalTimestamp for a timestamp validated before (parseTimestamp accepted it): text already
 * canonical is kept as it is, and a UTC one is re-spelled without checking its fields again.
 */
export function canonicalValidated(text: string): string {
  if (CANONICAL_SHAPE.test(text)) return text;
  const m = ISO.exec(text);
  return m && (m[8] === 'Z' || m[8] === 'z') ? respellUtc(m) : formatInstant(instantOf(text));
}

/** Orders two instants; microsecond exact. */
export function compareInstants(a: Instant, b: Instant): number {
  return a.epochMs - b.epochMs || a.micros - b.micros;
}
