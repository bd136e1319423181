// The client side of queue-channel.ts, for the ingest function's environments and for the event
// source on the main thread: requests over a MessagePort to the embedded queue's thread, each
// answered or given up. Plain JavaScript, as function-worker.mjs that loads it.

/** The global the ingest function looks for (lambdas/shared/local-queue.ts). */
export const LOCAL_RECORD_QUEUE = Symbol.for('data-handler.local.record-queue');

/** A request the channel answers in no more than this, or the caller goes the other way. */
const CHANNEL_TIMEOUT_MS = 5_000;

/** Requests over one channel, matched to their answers by id. */
export class ChannelClient {
  /** @param {import('node:worker_threads').MessagePort} port */
  constructor(port, timeoutMs = CHANNEL_TIMEOUT_MS) {
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.open = true;
    this.next = 1;
    /** @type {Map<number, (answer: object | undefined) => void>} */
    this.pending = new Map();
    port.on('message', (answer) => {
      const settle = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      settle?.(answer);
    });
    port.on('close', () => {
      this.open = false;
      for (const settle of this.pending.values()) settle(undefined);
      this.pending.clear();
    });
    port.unref();
  }

  /**
   * Resolves the other side's answer, or undefined when the channel is closed or the answer
   * late (`open` then tells which).
   */
  request(message, timeoutMs = this.timeoutMs) {
    if (!this.open) return Promise.resolve(undefined);
    const id = this.next++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.port.postMessage({ ...message, id });
    });
  }

  close() {
    this.port.close();
  }
}

/**
 * A RecordQueue over the channel. A send the channel cannot make (the queue's thread died and
 * was started again, no answer in time, a refusal) is made again by `fallback`, the function's
 * own SqsRecordQueue, over SQS's API: a message sent twice carries the same record ids, which
 * the store makes harmless.
 */
export class ChannelRecordQueue {
  /**
   * @param {import('node:worker_threads').MessagePort} port
   * @param {string} queueUrl
   * @param {{ send(bodies: readonly string[]): Promise<void> }} fallback
   */
  constructor(port, queueUrl, fallback) {
    this.client = new ChannelClient(port);
    this.queueUrl = queueUrl;
    this.fallback = fallback;
  }

  /** @param {readonly string[]} bodies */
  async send(bodies) {
    const answer = await this.client.request({ queueUrl: this.queueUrl, bodies });
    if (!answer?.ok) await this.fallback.send(bodies);
  }
}

/** The global a pushing function looks for (lambdas/shared/local-broadcaster.ts). */
export const LOCAL_POST_CHANNEL = Symbol.for('data-handler.local.post-channel');

/**
 * Posts to the WebSocket gateway over its channel (local/ws-management.ts): the gateway's answer
 * (an HTTP status and message), 'timeout' when none came within the post's bound, or 'closed'
 * when the channel is gone (the gateway stopped) and the caller posts over HTTP.
 * @param {import('node:worker_threads').MessagePort} port
 */
export function channelPoster(port) {
  const client = new ChannelClient(port);
  /** @param {string} connectionId @param {Uint8Array} data @param {number} timeoutMs */
  return async (connectionId, data, timeoutMs) => {
    const answer = await client.request({ connectionId, data }, timeoutMs);
    if (answer) return answer.message === undefined ? { status: answer.status } : { status: answer.status, message: answer.message };
    return client.open ? 'timeout' : 'closed';
  };
}
