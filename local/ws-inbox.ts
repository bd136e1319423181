/**
 * One WebSocket connection's incoming messages at the local gateway: run one at a time and in
 * order, at most `maxQueued` waiting, and at most `ratePerSecond` a second after a burst of
 * `burst` (a token bucket, as API Gateway throttles routes). A message past either bound is
 * refused at once rather than queued.
 *
 * Why per connection: the route's function runs in a few environments that every connection
 * shares. With one message of each connection in flight at most, a connection that floods
 * waits behind itself, and the others' messages are taken in turn beside it.
 */

export interface InboxLimits {
  /** Messages a second, steadily. */
  readonly ratePerSecond: number;
  /** Messages at once after a quiet spell (the bucket's size). */
  readonly burst: number;
  /** Messages waiting behind the one in flight. */
  readonly maxQueued: number;
}

export class ConnectionInbox<M> {
  private readonly queue: M[] = [];
  private running = false;
  private closed = false;
  private tokens: number;
  private refilledAt: number;

  /**
   * @param run     runs one message; the next starts when it settles
   * @param refuse  told of each message refused by the limits
   */
  constructor(
    private readonly limits: InboxLimits,
    private readonly run: (message: M) => Promise<void>,
    private readonly refuse: (message: M) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = limits.burst;
    this.refilledAt = now();
  }

  /** Takes a message: queued to run after those before it, or refused. */
  push(message: M): void {
    if (this.closed) return;
    if (this.queue.length >= this.limits.maxQueued || !this.takeToken()) return this.refuse(message);
    this.queue.push(message);
    if (!this.running) void this.drain();
  }

  /** The connection closed: what waits is dropped, and nothing more is taken. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private takeToken(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.limits.ratePerSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        await this.run(next).catch(() => undefined);
      }
    } finally {
      this.running = false;
    }
  }
}
