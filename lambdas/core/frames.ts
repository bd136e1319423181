/**
 * Monitoring frames pushed over the WebSocket API.
 */
import { chunkCounted } from './chunking';
import type { StoredRecord } from './record';
import { compareInstants, instantOf } from './timestamp';

/** API Gateway's WebSocket message limit: 128 KB. */
export const MAX_FRAME_BYTES = 128 * 1024;

export interface RecordsFrame {
  readonly type: 'records';
  readonly records: readonly StoredRecord[];
}

export interface StatusFrame {
  readonly type: 'status';
  readonly level: 'error' | 'warning' | 'info';
  readonly stage: 'store' | 'push';
  readonly message: string;
  /** Records waiting to be stored when this was sent. */
  readonly pending: number;
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

/** Records as frames, in order, none larger than `maxBytes`. */
export function recordsFrames(records: readonly StoredRecord[], maxBytes = MAX_FRAME_BYTES): OutgoingRecords[] {
  const frames: OutgoingRecords[] = [];
  let start = 0;
  for (const { document, count } of chunkCounted(records, maxBytes, (array) => `{"type":"records","records":${array}}`)) {
    frames.push({ data: document, missed: missedOf(records.slice(start, start + count)) });
    start += count;
  }
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
