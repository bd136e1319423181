import type { MessagePort } from 'node:worker_threads';

export declare const LOCAL_RECORD_QUEUE: unique symbol;

/** A RecordQueue over a channel to the embedded queue, `fallback` behind it (queue-channel-client.mjs). */
export declare class ChannelRecordQueue {
  constructor(port: MessagePort, queueUrl: string, fallback: { send(bodies: readonly string[]): Promise<void> });
  send(bodies: readonly string[]): Promise<void>;
}
