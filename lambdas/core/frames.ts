/**
 * Monitoring frames pushed over the WebSocket API.
 */
import { chunkBySize } from './chunking';
import type { StoredRecord } from './record';

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
}

export interface ErrorFrame {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
}

export type Frame = RecordsFrame | StatusFrame | PongFrame | ErrorFrame;

/** Records as frames, in order, none larger than `maxBytes`. */
export function recordsFrames(records: readonly StoredRecord[], maxBytes = MAX_FRAME_BYTES): string[] {
  return chunkBySize(records, maxBytes, (array) => `{"type":"records","records":${array}}`);
}

export function frame(value: Frame): string {
  return JSON.stringify(value);
}
