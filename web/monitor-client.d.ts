/** Types of web/monitor-client.js, for the demo and the tests (the dashboard loads the .js). */
import type { Frame, RecordsFrame } from '../lambdas/core/frames';
import type { StoredRecord } from '../lambdas/core/record';

export declare const CATCH_UP_MARGIN_MS: number;
export declare const PING_EVERY_MS: number;

/** The records of a `records` frame, each whole (its group's fields with the record's own). */
export declare function frameRecords(frame: RecordsFrame): StoredRecord[];

export type Delivery = 'live' | 'missed' | 'catch-up';

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
  /** Resolves when the catch-ups and missed fetches queued so far are done. */
  readonly pending: Promise<void>;
}
