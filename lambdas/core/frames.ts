/**
 * Monitoring frames pushed over the WebSocket API. Their shapes are frame-schemas.ts's zod
 * schemas (which the AsyncAPI document is built from); this module builds the text.
 */
import type * as z from 'zod/mini';
import { byteLength } from './chunking';
import type * as S from './frame-schemas';
import type { StoredRecord } from './record';
import { compareInstants, instantOf } from './timestamp';

/** API Gateway's WebSocket message limit: 128 KB. */
export const MAX_FRAME_BYTES = 128 * 1024;

/**
 * The protocol version every frame carries (`protocol_version`), so that a client can tell a
 * shape it does not know. Raise it with any change to a frame's shape (frame-schemas.ts).
 */
export const PROTOCOL_VERSION = 1;

/** A JSON shape as this module hands it out: read-only all the way down. */
type Frozen<T> = T extends readonly (infer E)[] ? readonly Frozen<E>[] : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;
/** A frame as its builder gives it: `frame()` adds the protocol version. */
type Built<S extends z.ZodMiniType> = Frozen<Omit<z.output<S>, 'protocol_version'>>;

/** One record in a records frame (S.FramedRecord). */
export type FramedRecord = Frozen<z.output<typeof S.FramedRecord>>;
/** Consecutive records of one owner and one statement (S.RecordsGroup). */
export type RecordsGroup = Frozen<z.output<typeof S.RecordsGroup>>;
/**
 * Newly stored records, in the batch's order (S.RecordsFrame). Grouped, a record costs about 100
 * bytes of a frame (about 135 when it came in an upload of its own) rather than 200 with the
 * shared fields repeated in each: a batch of 1000 from one upload fits one frame, which halves a
 * fan-out's posts and its bytes (API Gateway bills a message per 32 KB).
 */
export type RecordsFrame = Built<typeof S.RecordsFrame>;
/** The pipeline's state, for admins (S.StatusFrame). */
export type StatusFrame = Built<typeof S.StatusFrame>;
/** The answer to a ping (S.PongFrame). */
export type PongFrame = Built<typeof S.PongFrame>;
/** Records this connection should have received but did not (S.MissedFrame). */
export type MissedFrame = Built<typeof S.MissedFrame>;
/** The answer to a message that is not a ping (S.ErrorFrame). */
export type ErrorFrame = Built<typeof S.ErrorFrame>;

/** A frame as it is built, without its protocol version. */
export type Frame = RecordsFrame | StatusFrame | PongFrame | MissedFrame | ErrorFrame;

/** A frame as it is sent and received: with its protocol version. */
export type SentFrame = Frozen<z.output<(typeof S.SERVER_FRAMES)[keyof typeof S.SERVER_FRAMES]>>;

/** What a missed frame reports, before it is sent: merged over every miss of a connection. */
export type Missed = Omit<MissedFrame, 'type'>;

/** One records frame, with what its loss would leave missed. */
export interface OutgoingRecords {
  readonly data: string;
  readonly missed: Missed;
}

const FRAME_HEAD = `{"type":"records","protocol_version":${PROTOCOL_VERSION},"groups":[`;
const FRAME_TAIL = ']}';
const GROUP_TAIL = ']}';

/** A record as its group holds it: its acceptance time only where it is not the group's. */
function rowOf(r: StoredRecord, group: StoredRecord): string {
  const row: FramedRecord = r.accepted_at === group.accepted_at ? { id: r.id, data: r.data, date: r.date } : { id: r.id, data: r.data, date: r.date, accepted_at: r.accepted_at };
  return JSON.stringify(row);
}

/** The opening of a group, up to its first record. */
function groupHead(r: StoredRecord): string {
  const shared: Omit<RecordsGroup, 'records'> = { user_id: r.user_id, accepted_at: r.accepted_at, stored_at: r.stored_at };
  return `${JSON.stringify(shared).slice(0, -1)},"records":[`;
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

/** A frame's text: its type, then the protocol version, then its fields. */
export function frame(value: Frame): string {
  const { type, ...fields } = value;
  return JSON.stringify({ type, protocol_version: PROTOCOL_VERSION, ...fields });
}
