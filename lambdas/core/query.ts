/**
 * The query parameters of the read API: a time window, a page size, an opaque keyset cursor,
 * and (for admins) a user filter. Every problem is a 400 that names the parameter.
 */
import { ValidationError, type FieldIssue } from './errors';
import type { PageKey, Principal, RecordScope, SortOrder, TimeField, TimeWindow } from './ports';
import type { StoredRecord } from './record';
import { canonicalTimestamp, compareInstants, formatInstant, parseTimestamp } from './timestamp';

/** The widest window one query may cover. */
export const MAX_WINDOW_DAYS = 366;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Longest `user_id`: Cognito's longest username (a `sub` is a 36-character UUID). */
export const MAX_USER_ID_LENGTH = 128;
// Control characters (NUL among them: PostgreSQL refuses it in text) and lone surrogates
// (not UTF-8) can be in no user id.
const NOT_IN_USER_ID = /[\p{Cc}\p{Cs}]/u;

type Params = Readonly<Record<string, string | undefined>>;

function fail(issues: FieldIssue[]): never {
  throw new ValidationError('The query parameters are not valid.', issues);
}

/**
 * `start_time` and `end_time`, inclusive, with zones, in order, at most `maxDays` apart
 * (MAX_WINDOW_DAYS; the series takes any span, its buckets bound its answer).
 */
export function parseWindow(params: Params, maxDays = MAX_WINDOW_DAYS): TimeWindow {
  const issues: FieldIssue[] = [];
  const read = (name: 'start_time' | 'end_time') => {
    const raw = params[name];
    if (raw === undefined || raw === '') {
      issues.push({ path: name, message: 'is required (an ISO-8601 time with a zone, e.g. 2024-05-01T00:00:00Z)' });
      return undefined;
    }
    const parsed = parseTimestamp(raw);
    if (typeof parsed === 'string') {
      issues.push({
        path: name,
        message: parsed === 'zone' ? 'must name its time zone: end with Z or an offset such as +02:00' : 'is not an ISO-8601 time such as 2024-05-01T00:00:00Z',
      });
      return undefined;
    }
    return parsed;
  };
  const start = read('start_time');
  const end = read('end_time');
  if (start && end) {
    if (compareInstants(start, end) > 0) issues.push({ path: 'start_time', message: 'must not be after end_time' });
    else if (end.epochMs - start.epochMs > maxDays * 86_400_000) {
      issues.push({ path: 'end_time', message: `must be at most ${maxDays} days after start_time` });
    }
  }
  if (issues.length) fail(issues);
  return { start: formatInstant(start!), end: formatInstant(end!) };
}

/** `limit`: 1..MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE when absent. */
export function parseLimit(params: Params): number {
  const raw = params.limit;
  if (raw === undefined) return DEFAULT_PAGE_SIZE;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= MAX_PAGE_SIZE)) fail([{ path: 'limit', message: `must be a whole number from 1 to ${MAX_PAGE_SIZE}` }]);
  return value;
}

/** `time_field`: which timestamp the window and the order use; `date` when absent. */
export function parseTimeField(params: Params): TimeField {
  const raw = params.time_field;
  if (raw === undefined || raw === 'date') return 'date';
  if (raw === 'stored_at') return 'stored_at';
  return fail([{ path: 'time_field', message: 'must be date or stored_at' }]);
}

/** `order`: asc (oldest first, the default) or desc (newest first). */
export function parseOrder(params: Params): SortOrder {
  const raw = params.order;
  if (raw === undefined || raw === 'asc') return 'asc';
  if (raw === 'desc') return 'desc';
  return fail([{ path: 'order', message: 'must be asc or desc' }]);
}

/**
 * An opaque cursor: the (timestamp, id) of the last record of the previous page, the timestamp
 * being the query's time field. A stored_at or a desc cursor says so, so that it cannot page a
 * query on the other field or in the other direction.
 */
export function encodeCursor(key: PageKey, field: TimeField = 'date', order: SortOrder = 'asc'): string {
  const parts: unknown[] = order === 'desc' ? [key.date, key.id, field, order] : field === 'date' ? [key.date, key.id] : [key.date, key.id, field];
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/**
 * The cursor's key, exactly as encodeCursor wrote it: a canonical UTC date and a lower-case
 * UUID. Anything else was not written by this API (and an offset such as +20:00, which
 * PostgreSQL refuses, never reaches it).
 */
export function parseCursor(params: Params, field: TimeField = 'date', order: SortOrder = 'asc'): PageKey | undefined {
  const raw = params.cursor;
  if (raw === undefined) return undefined;
  try {
    const parts: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    const [date, id, cursorField = 'date', cursorOrder = 'asc'] = Array.isArray(parts) ? (parts as unknown[]) : [];
    const fits = Array.isArray(parts) && parts.length <= 4 && cursorField === field && cursorOrder === order;
    if (fits && typeof date === 'string' && typeof id === 'string' && UUID.test(id) && isCanonical(date)) return { date, id };
  } catch {
    // Reported below.
  }
  return fail([{ path: 'cursor', message: 'is not a cursor this API returned (pass next_cursor as it came)' }]);
}

function isCanonical(date: string): boolean {
  return typeof parseTimestamp(date) !== 'string' && canonicalTimestamp(date) === date;
}

/** Whose records: an admin sees everyone's, or one user's with `user_id`; anyone else their own. */
export function parseScope(params: Params, caller: Principal): RecordScope {
  const userId = params.user_id;
  if (userId === undefined) return caller.isAdmin ? { allUsers: true } : { userId: caller.userId };
  if (userId === '') fail([{ path: 'user_id', message: 'must not be empty' }]);
  if (!caller.isAdmin && userId !== caller.userId) fail([{ path: 'user_id', message: 'is only for admins; you see your own records' }]);
  if (userId.length > MAX_USER_ID_LENGTH || NOT_IN_USER_ID.test(userId)) {
    fail([{ path: 'user_id', message: `must be at most ${MAX_USER_ID_LENGTH} characters, none of them a control character` }]);
  }
  return { userId };
}

/** The page answer: records, and the cursor of the next page when there may be one. */
export function pageBody(window: TimeWindow, rows: readonly StoredRecord[], limit: number, field: TimeField = 'date', order: SortOrder = 'asc') {
  const more = rows.length > limit;
  const records = more ? rows.slice(0, limit) : rows;
  const last = records.at(-1);
  return {
    start_time: window.start,
    end_time: window.end,
    ...(field === 'date' ? {} : { time_field: field }),
    ...(order === 'asc' ? {} : { order }),
    records,
    next_cursor: more && last ? encodeCursor({ date: last[field], id: last.id }, field, order) : null,
  };
}
