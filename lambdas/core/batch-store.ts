/**
 * Storing the records of a batch of messages: the whole batch in one statement, and when the
 * database refuses some of the data, the batch split in halves (by message) until the messages
 * that hold the refused records stand alone. Every other message's records are stored.
 */
import { refusalOf, StoreUnavailableError, type StoreRefusal } from './errors';
import type { RecordStore, RecordToStore } from './ports';
import type { StoredRecord } from './record';

/** The records of one queue message. */
export interface MessageRecords {
  readonly messageId: string;
  readonly records: readonly RecordToStore[];
}

/** What became of each message of a batch. */
export interface BatchOutcome {
  /** The rows that were new, from every statement that succeeded. */
  readonly inserted: StoredRecord[];
  /** Messages whose records are all in the store now (new or there before). */
  readonly stored: string[];
  /** Messages the database refused on their own, with what it said. */
  readonly refused: { readonly messageId: string; readonly refusal: StoreRefusal }[];
  /** Messages not stored because the store was unavailable; `error` says why. */
  readonly unavailable: string[];
  readonly error?: StoreUnavailableError;
  /** Messages not tried because the invocation ran short of time while splitting. */
  readonly unfinished: string[];
  /** INSERT statements sent (1 when nothing was refused). */
  readonly statements: number;
}

export interface BatchStoreOptions {
  /** Whether there is time for one more statement; asked before each split, never before the first. */
  readonly hasTime: () => boolean;
}

/**
 * Stores `messages`, isolating refused ones by bisection: k refused messages among n cost about
 * 2·k·log2(n) statements. A failure that is not a refusal stops at once: the messages not yet
 * stored are `unavailable`, because splitting cannot help when the database is down.
 */
export async function storeMessages(messages: readonly MessageRecords[], store: RecordStore, options: BatchStoreOptions): Promise<BatchOutcome> {
  const out = { inserted: [] as StoredRecord[], stored: [] as string[], refused: [] as BatchOutcome['refused'], unavailable: [] as string[], unfinished: [] as string[], statements: 0 };
  let error: StoreUnavailableError | undefined;
  const ids = (group: readonly MessageRecords[]) => group.map((m) => m.messageId);
  // Depth first, left half before right, so messages are stored in their batch order.
  const pending: (readonly MessageRecords[])[] = messages.length > 0 ? [messages] : [];
  for (let group = pending.pop(); group; group = pending.pop()) {
    if (error) {
      out.unavailable.push(...ids(group));
      continue;
    }
    if (out.statements > 0 && !options.hasTime()) {
      out.unfinished.push(...ids(group));
      continue;
    }
    try {
      out.statements++;
      out.inserted.push(...(await store.insertBatch(group.flatMap((m) => m.records))));
      out.stored.push(...ids(group));
    } catch (failure) {
      const refusal = refusalOf(failure);
      if (!refusal) {
        error = asUnavailable(failure);
        out.unavailable.push(...ids(group));
      } else if (group.length === 1) {
        out.refused.push({ messageId: group[0]!.messageId, refusal });
      } else {
        const half = Math.ceil(group.length / 2);
        pending.push(group.slice(half), group.slice(0, half));
      }
    }
  }
  return { ...out, ...(error ? { error } : {}) };
}

/** The failure as a StoreUnavailableError (by name, so another copy of this module's errors count). */
function asUnavailable(failure: unknown): StoreUnavailableError {
  return failure instanceof Error && failure.name === 'StoreUnavailableError' ? (failure as StoreUnavailableError) : new StoreUnavailableError(failure);
}

/** A store failure in words for the status panel: whether the database was reached, and its SQLSTATE (never its message, which may quote data). */
export function storeFailureReason(error: StoreUnavailableError): string {
  if (error.unreachable) return 'the database was unreachable';
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? `the database failed the store (SQLSTATE ${code})` : 'the database failed the store';
}
