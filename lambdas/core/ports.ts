/**
 * The ports between the handlers and the outside world. Adapters implement them against AWS
 * (and the local stand-ins that speak the same protocols); core logic depends only on these.
 */
import type { StoreRefusal } from './errors';
import type { Missed } from './frames';
import type { QueuedRecord, StoredRecord } from './record';

/**
 * Whether a dependency can take new work now. `reason` is public (GET /health answers it): it
 * names the dependency and what failed, never a credential or a driver's own message; `cause`
 * is the failure itself, for the log only.
 */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string; readonly cause?: unknown };

export interface ReadinessProbe {
  /** Checks within its own deadline; resolves not ready rather than rejecting. */
  check(): Promise<Readiness>;
}

/** Takes queue message bodies; resolves once the queue has durably taken all of them. */
export interface RecordQueue {
  send(bodies: readonly string[]): Promise<void>;
}

/** A record ready to store: the queued record plus who sent it and when it was accepted. */
export interface RecordToStore extends QueuedRecord {
  readonly user_id: string;
  readonly accepted_at: string;
}

export interface RecordStore {
  /**
   * Stores a batch in one statement and one transaction, ignoring ids that already exist.
   * Resolves with the rows that were new. Rejects with a RecordsRefusedError when the database
   * refuses the data (nothing of the batch is stored), and a StoreUnavailableError otherwise.
   */
  insertBatch(records: readonly RecordToStore[]): Promise<StoredRecord[]>;
  /**
   * The stored rows of these keys (those stored, in any order). A retried batch finds some of its
   * rows already there; they may never have been pushed, so they are pushed again.
   */
  findStored(keys: readonly StoredKey[]): Promise<StoredRecord[]>;
}

/** A stored record's key: its id and its date (canonical UTC), which chooses its partition. */
export interface StoredKey {
  readonly id: string;
  readonly date: string;
}

/** A message handed back to its queue, to be delivered again after a delay. */
export interface DelayedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  /** The ARN of the queue that delivered it (the event's `eventSourceARN`). */
  readonly queueArn: string;
  /** Seconds from now until it may be delivered again. */
  readonly delaySeconds: number;
}

export interface Redelivery {
  /**
   * Keeps each message out of sight for its delay. Resolves with the ids whose delay could not
   * be set: those come back after the queue's own visibility timeout.
   */
  delay(messages: readonly DelayedMessage[]): Promise<string[]>;
}

/** A message whose records the database refused, as one receive of it saw it. */
export interface RefusedMessage extends StoreRefusal {
  readonly messageId: string;
  readonly receiveCount: number;
}

/** A refusal as kept: the last one seen, and when the first and the last were. */
export interface NotedRefusal extends RefusedMessage {
  /** ISO-8601 UTC. */
  readonly firstSeen: string;
  readonly lastSeen: string;
}

/** Why the database refused messages, kept beside the dead letters they become. */
export interface DeadLetterLog {
  /** Notes each refusal under its message id (the latest wins; the first sighting is kept). */
  noteRefusals(messages: readonly RefusedMessage[]): Promise<void>;
  /** The refusals noted for these message ids, by id; ids without one are left out. */
  refusals(messageIds: readonly string[]): Promise<Map<string, NotedRefusal>>;
}

/** One open monitoring connection. */
export interface Connection {
  readonly connectionId: string;
  readonly userId: string;
  readonly isAdmin: boolean;
  /** ISO-8601 UTC. */
  readonly connectedAt: string;
  /** Epoch seconds at which the connection is past API Gateway's 2-hour limit (a TTL attribute). */
  readonly expiresAt: number;
  /** Records not delivered to it yet to be reported in a missed frame, merged. */
  readonly missed?: Missed;
  /** Changes with each change of `missed`, so that concurrent writers merge instead of overwrite. */
  readonly missedVersion?: number;
}

export interface ConnectionRegistry {
  add(connection: Connection): Promise<void>;
  remove(connectionId: string): Promise<void>;
  /** Every live connection; expired items are skipped even where the store's TTL lags. */
  list(nowEpochSeconds: number): Promise<Connection[]>;
  /**
   * Adds `missed` to what the connection is owed a missed frame for. `known` is the
   * connection as last listed, to save a read. Resolves false when the connection is gone.
   */
  noteMissed(connectionId: string, missed: Missed, known?: Connection): Promise<boolean>;
  /** Takes (and clears) what the connection is owed a missed frame for; undefined when nothing. */
  takeMissed(connectionId: string): Promise<Missed | undefined>;
}

/** What happened to one post. */
export type PostOutcome = 'delivered' | 'gone';

export interface Broadcaster {
  /**
   * Posts one frame, given up at `timeoutMs` at the latest (the post then fails, whatever its
   * transport is doing). Resolves 'gone' on HTTP 410; throws a RetryablePostError on 429, 5xx
   * or a timeout.
   */
  post(connectionId: string, data: string, timeoutMs?: number): Promise<PostOutcome>;
}

/** An access token granted for a username and password. */
export interface TokenGrant {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
}

export interface TokenIssuer {
  /** Resolves null for wrong credentials. */
  issue(username: string, password: string): Promise<TokenGrant | null>;
}

/** The claims of a verified token that the system uses. */
export interface Principal {
  readonly userId: string;
  readonly isAdmin: boolean;
}

export interface TokenVerifier {
  /** Throws UnauthorizedError when the token is missing, forged, expired or for another audience. */
  verify(token: string): Promise<Principal & { claims: Record<string, unknown> }>;
}

/** A time window, both ends inclusive, canonical UTC. */
export interface TimeWindow {
  readonly start: string;
  readonly end: string;
}

/** Whose records a query sees: one user's, or (for an admin) everyone's. */
export type RecordScope = { readonly userId: string } | { readonly allUsers: true };

/** The timestamp a query's window applies to, and its order: the record's own, or when it was stored. */
export type TimeField = 'date' | 'stored_at';
/** Which way a page runs along (time field, id): oldest first, or newest first. */
export type SortOrder = 'asc' | 'desc';

/** Where a page starts: after this (timestamp, id), the timestamp being the query's time field. */
export interface PageKey {
  readonly date: string;
  readonly id: string;
}

export interface RecordReader {
  /**
   * Up to `limit` records of the window after `after`, ordered by (field, id), newest first with
   * `order` desc (then "after" means older); the window is on `field`.
   */
  page(window: TimeWindow, scope: RecordScope, limit: number, after?: PageKey, field?: TimeField, order?: SortOrder): Promise<StoredRecord[]>;
  /** Every record of the window in date order, streamed (not loaded at once). */
  stream(window: TimeWindow, scope: RecordScope): AsyncIterable<{ data: number; date: string }>;
  /** The window's records by `date`, summed up per bucket of `bucketSeconds` (core/series.ts): non-empty buckets, in order. */
  series(window: TimeWindow, scope: RecordScope, bucketSeconds: number): Promise<SeriesBucket[]>;
  /**
   * The same buckets, and beside them each of the MAX_SERIES_USERS users with the most records
   * in the window (most first, ties by id), and the other users' records summed.
   */
  seriesByUser(window: TimeWindow, scope: RecordScope, bucketSeconds: number): Promise<UserSeries>;
}

/** A series per user (RecordReader.seriesByUser). */
export interface UserSeries {
  /** Everyone's records in the scope, as `series` answers. */
  readonly buckets: SeriesBucket[];
  readonly users: { readonly user_id: string; readonly buckets: SeriesBucket[] }[];
  /** The records of the users not named, summed per bucket; null when every user is named. */
  readonly other_users: { readonly users: number; readonly buckets: SeriesBucket[] } | null;
}

/** One bucket of a series: the records whose date is in [start, start + bucket). */
export interface SeriesBucket {
  /** The bucket's start, canonical UTC. */
  readonly start: string;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly avg: number;
}
