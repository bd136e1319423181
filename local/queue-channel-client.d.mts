import type { MessagePort } from 'node:worker_threads';

export declare const LOCAL_RECORD_QUEUE: unique symbol;

/** Requests over one channel to the embedded queue's thread (queue-channel-client.mjs). */
export declare class ChannelClient {
  constructor(port: MessagePort, timeoutMs?: number);
  /** The thread's answer, or undefined when the channel is closed or the answer late. */
  request<A>(message: object): Promise<A | undefined>;
  close(): void;
}

/** A RecordQueue over a channel to the embedded queue, `fallback` behind it (queue-channel-client.mjs). */
export declare class ChannelRecordQueue {
  constructor(port: MessagePort, queueUrl: string, fallback: { send(bodies: readonly string[]): Promise<void> });
  send(bodies: readonly string[]): Promise<void>;
}
