import type { MessagePort } from 'node:worker_threads';

export declare const LOCAL_RECORD_QUEUE: unique symbol;
export declare const LOCAL_POST_CHANNEL: unique symbol;

/** Requests over one channel to the embedded queue's thread (queue-channel-client.mjs). */
export declare class ChannelClient {
  constructor(port: MessagePort, timeoutMs?: number);
  /** Whether the channel is still open (an undefined answer with it open was late). */
  readonly open: boolean;
  /** The other side's answer, or undefined when the channel is closed or the answer late. */
  request<A>(message: object, timeoutMs?: number): Promise<A | undefined>;
  close(): void;
}

/** A RecordQueue over a channel to the embedded queue, `fallback` behind it (queue-channel-client.mjs). */
export declare class ChannelRecordQueue {
  constructor(port: MessagePort, queueUrl: string, fallback: { send(bodies: readonly string[]): Promise<void> });
  send(bodies: readonly string[]): Promise<void>;
}

/** Posts to the WebSocket gateway over a channel (queue-channel-client.mjs; lambdas/shared/local-broadcaster.ts ChannelPoster). */
export declare function channelPoster(
  port: MessagePort,
): (connectionId: string, data: Uint8Array, timeoutMs: number) => Promise<{ status: number; message?: string } | 'timeout' | 'closed'>;
