/**
 * Monitoring frames pushed over the WebSocket API.
 */
import { byteLength } from './chunking';
import type { StoredRecord } from './record';
import { compareInstants, instantOf } from './timestamp';

/** API Gateway's WebSocket message limit: 128 KB. */
export const MAX_FRAME_BYTES = 128 * 1024;

/** One record in a records frame: what was uploaded, with its id; `accepted_at` only where it is not its group's. */
export interface FramedRecord {
  readonly id: string;
  readonly data: number;
  readonly date: string;
  readonly accepted_at?: string;
}

/**
 * Consecutive records with one owner stored by one statement (the same `stored_at`). A stored
 * record is its group's fields with its own: `accepted_at` is the group's unless the record
 * carries its own (records of other uploads do).
 */
export interface RecordsGroup {
  readonly user_id: string;
  readonly accepted_at: string;
  readonly stored_at: string;
  readonly records: readonly FramedRecord[];
}

/**
 * Newly stored records, in the batch's order. Grouped, a record costs about 100 bytes of a frame
 * (about 135 when it came in an upload of its own) rather than 200 with the shared fields repeated
 * in each: a batch of 1000 from one upload fits one frame, which halves a fan-out's posts and its
 * bytes (API Gateway bills a message per 32 KB).
 */
export interface RecordsFrame {
  readonly type: 'records';
  readonly groups: readonly RecordsGroup[];
}

export interface StatusFrame {
  readonly type: 'status';
  readonly level: 'error' | 'warning' | 'info';
  readonly stage: 'store' | 'push';
  readonly message: string;
  /** Records waiting to be stored when this was sent. */
  readonly pending: number;
  /** Messages of this failure that were on their last receive: they are in the dead-letter queue, not retried. */
  readonly dead_lettered?: number;
}

export interface PongFrame {
  readonly type: 'pong';
  /** The server's time (ISO-8601 UTC): where a monitor that has seen no record yet catches up from. */
  readonly time: string;
}

/**
 * Records this connection should have received but did not: frames that failed after retries
 * or were not sent before the writer's deadline. They were all stored between `stored_from`
 * and `stored_to` (inclusive); GET /api/data/records?time_field=stored_at with that window
 * returns them (and possibly others already seen: dedupe by id).
 */
export interface MissedFrame {
  readonly type: 'missed';
  /** Records not delivered to this connection (repeats counted). */
  readonly count: number;
  readonly stored_from: string;
  readonly stored_to: string;
}

export interface ErrorFrame {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
}

export type Frame = RecordsFrame | StatusFrame | PongFrame | MissedFrame | ErrorFrame;

/** What a missed frame reports, before it is sent: merged over every miss of a connection. */
export type Missed = Omit<MissedFrame, 'type'>;

/** One records frame, with what its loss would leave missed. */
export interface OutgoingRecords {
  readonly data: string;
  readonly missed: Missed;
}

const FRAME_HEAD = '{"type":"records","groups":[';
const FRAME_TAIL = ']}';
const GROUP_TAIL = ']}';

/** A record as its group holds it: its acceptance time only where it is not the group's. */
function rowOf(r: StoredRecord, group: StoredRecord): string {
  return JSON.stringify(r.accepted_at === group.accepted_at ? { id: r.id, data: r.data, date: r.date } : { id: r.id, data: r.data, date: r.date, accepted_at: r.accepted_at });
}

/** The opening of a group, up to its first record. */
function groupHead(r: StoredRecord): string {
  return `{"user_id":${JSON.stringify(r.user_id)},"accepted_at":${JSON.stringify(r.accepted_at)},"stored_at":${JSON.stringify(r.stored_at)},"records":[`;
}

/** Records as frames, in order, none larger than `maxBytes`; consecutive records of one owner and statement share a group. */
export function recordsFrames(records: readonly StoredRecord[], maxBytes = MAX_FRAME_BYTES): OutgoingRecords[] {
  const frames: OutgoingRecords[] = [];
  const empty = byteLength(FRAME_HEAD) + byteLength(FRAME_TAIL);
  let text = '';
  let size = empty;
  let start = 0;
  let count = 0;
  let group: StoredRecord | undefined; // the first record of the open group
  const close = () => {
    frames.push({ data: `${FRAME_HEAD}${text}${GROUP_TAIL}${FRAME_TAIL}`, missed: missedOf(records.slice(start, start + count)) });
    start += count;
    [text, size, count, group] = ['', empty, 0, undefined];
  };
  for (const r of records) {
    const sameGroup = group !== undefined && group.user_id === r.user_id && group.stored_at === r.stored_at;
    let row = rowOf(r, sameGroup ? group! : r);
    let head = sameGroup ? '' : groupHead(r);
    let added = sameGroup ? 1 + byteLength(row) : (group ? 1 : 0) + byteLength(head) + byteLength(GROUP_TAIL) + byteLength(row);
    if (size + added > maxBytes && count > 0) {
      close();
      row = rowOf(r, r);
      head = groupHead(r);
      added = byteLength(head) + byteLength(GROUP_TAIL) + byteLength(row);
    }
    if (empty + added > maxBytes) throw new RangeError(`one record of ${added} bytes cannot fit in a frame of ${maxBytes} bytes`);
    if (head) {
      text += `${group ? `${GROUP_TAIL},` : ''}${head}${row}`;
      group = r;
    } else {
      text += `,${row}`;
    }
    size += added;
    count++;
  }
  if (count > 0) close();
  return frames;
}

/** `a` or `b`, whichever is earlier (or later): by instant, as canonical text does not sort. */
function earlier(a: string, b: string): string {
  return compareInstants(instantOf(a), instantOf(b)) <= 0 ? a : b;
}
function later(a: string, b: string): string {
  return earlier(a, b) === a ? b : a;
}

/** What missing these records would leave missed: their count and the span of their stored_at. */
export function missedOf(records: readonly StoredRecord[]): Missed {
  let from = records[0]!.stored_at;
  let to = from;
  for (const r of records) {
    // The rows of one statement share their stored_at: skip the parse for them.
    if (r.stored_at === from || r.stored_at === to) continue;
    from = earlier(from, r.stored_at);
    to = later(to, r.stored_at);
  }
  return { count: records.length, stored_from: from, stored_to: to };
}

/** Two misses as one: counts added, the union of their spans. */
export function mergeMissed(a: Missed | undefined, b: Missed): Missed {
  if (!a) return b;
  return { count: a.count + b.count, stored_from: earlier(a.stored_from, b.stored_from), stored_to: later(a.stored_to, b.stored_to) };
}

export function frame(value: Frame): string {
  return JSON.stringify(value);
}
