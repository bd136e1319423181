// The ingest function environment's side of queue-channel.ts: a RecordQueue that sends over a
// MessagePort to the embedded queue's thread. Plain JavaScript, as function-worker.mjs that
// loads it. A send the channel cannot make (the queue's thread died and was started again, no
// answer in time, a refusal) is made again by `fallback`, the function's own SqsRecordQueue,
// over SQS's API: a message sent twice carries the same record ids, which the store makes
// harmless.

/** The global the ingest function looks for (lambdas/shared/local-queue.ts). */
export const LOCAL_RECORD_QUEUE = Symbol.for('data-handler.local.record-queue');

/** A send the channel answers in no more than this, or the fallback makes it. */
const CHANNEL_TIMEOUT_MS = 5_000;

export class ChannelRecordQueue {
  /**
   * @param {import('node:worker_threads').MessagePort} port
   * @param {string} queueUrl
   * @param {{ send(bodies: readonly string[]): Promise<void> }} fallback
   */
  constructor(port, queueUrl, fallback) {
    this.port = port;
    this.queueUrl = queueUrl;
    this.fallback = fallback;
    this.open = true;
    this.next = 1;
    /** @type {Map<number, (ok: boolean) => void>} */
    this.pending = new Map();
    port.on('message', (answer) => {
      const settle = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      settle?.(answer.ok === true);
    });
    port.on('close', () => {
      this.open = false;
      for (const settle of this.pending.values()) settle(false);
      this.pending.clear();
    });
    port.unref();
  }

  /** @param {readonly string[]} bodies */
  async send(bodies) {
    if (this.open && (await this.viaChannel(bodies))) return;
    await this.fallback.send(bodies);
  }

  /** Resolves whether the queue's thread took every body. */
  viaChannel(bodies) {
    const id = this.next++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(false);
      }, CHANNEL_TIMEOUT_MS);
      this.pending.set(id, (ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
      this.port.postMessage({ id, queueUrl: this.queueUrl, bodies });
    });
  }
}
