/** Types of web/monitor-client.js, for the demo and the tests (the dashboard loads the .js). */
import type { Frame, RecordsFrame } from '../lambdas/core/frames';
import type { StoredRecord } from '../lambdas/core/record';

export declare const CATCH_UP_MARGIN_MS: number;
export declare const PING_EVERY_MS: number;
/** The monitoring protocol version this client reads; frames of another are set aside and their span fetched. */
export declare const PROTOCOL_VERSION: number;

/** The records of a `records` frame, each whole (its group's fields with the record's own). */
export declare function frameRecords(frame: RecordsFrame): StoredRecord[];

export type Delivery = 'live' | 'missed' | 'catch-up' | 'history';

export interface MonitorOptions {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly token: () => string;
  readonly onRecords: (records: StoredRecord[], how: Delivery) => void;
  readonly onFrame?: (frame: Frame) => void;
  readonly onState?: (state: string, detail?: Record<string, unknown>) => void;
  readonly WebSocket?: unknown;
  readonly fetch?: typeof fetch;
  readonly pingEveryMs?: number;
  readonly maxRetries?: number;
  readonly minReconnectMs?: number;
}

export interface MonitorStats {
  delivered: number;
  repeated: number;
  missedFrames: number;
  fetched: number;
  reconnects: number;
  catchUps: number;
  /** Frames of a protocol version this client does not know (each answered by a catch-up). */
  unknownFrames: number;
}

export interface HistoryOptions {
  /** At most this many records. @default 2000 */
  readonly limit?: number;
  /** One user's records (an admin's filter). */
  readonly userId?: string;
}

export interface HistoryResult {
  /** Records fetched, repeats of records already passed on included. */
  readonly fetched: number;
  /** Nothing older is left: the monitor holds every record this caller may see. */
  readonly complete: boolean;
}

export declare class Monitor {
  constructor(options: MonitorOptions);
  readonly seen: Set<string>;
  readonly stats: MonitorStats;
  watermarkMs: number | undefined;
  socket: { readyState: number; close(code?: number, reason?: string): void; send(data: string): void } | undefined;
  start(): this;
  stop(): Promise<void>;
  ping(): void;
  /**
   * The most recent records stored, newest first (time_field=stored_at&order=desc pages), up to
   * `limit`, passed on as 'history' through the same seen-set as live records. Call it once the
   * connection is live; called earlier, the first open catches up as a reconnect does.
   */
  history(options?: HistoryOptions): Promise<HistoryResult>;
  /** Resolves when the catch-ups and missed fetches queued so far are done. */
  readonly pending: Promise<void>;
}
