/**
 * The restart loop of a supervised local service (the embedded PostgreSQL, the embedded queue's
 * thread): when it dies, the stack says so, reports itself degraded (the gateway's /health
 * answers 503 with the reason), and starts it again with growing pauses until it is back.
 */

/** The platform's own state, as the gateway reports it before any function runs. */
export type PlatformHealth = { readonly status: 'ok' } | { readonly status: 'degraded'; readonly reason: string };

const FIRST_PAUSE_MS = 250;
const LONGEST_PAUSE_MS = 5_000;

export class Restarter {
  private state: PlatformHealth = { status: 'ok' };
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;
  private downSince = 0;

  /**
   * @param what   the service, as a log line names it ("PostgreSQL")
   * @param start  starts it again (on the same port and data)
   */
  constructor(
    private readonly what: string,
    private readonly start: () => Promise<unknown>,
    private readonly log: (line: string) => void,
  ) {}

  health(): PlatformHealth {
    return this.state;
  }

  /** The service ended without being asked to: `how` says how (the reason keeps its first clause). */
  died(how: string): void {
    if (this.stopped) return;
    this.downSince = Date.now();
    this.state = { status: 'degraded', reason: `${this.what} stopped unexpectedly (${how.split(';')[0]}); restarting it` };
    this.log(`${this.what} stopped unexpectedly (${how}): /health answers 503 until it is back; restarting it…`);
    this.schedule(1);
  }

  /** No more restarts; waits for one under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.attempt?.catch(() => undefined);
  }

  private schedule(tries: number): void {
    const pause = Math.min(FIRST_PAUSE_MS * 2 ** (tries - 1), LONGEST_PAUSE_MS);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.attempt = this.start().then(
        () => {
          this.state = { status: 'ok' };
          this.log(`${this.what} is back after ${((Date.now() - this.downSince) / 1000).toFixed(1)} s (${tries} ${tries === 1 ? 'try' : 'tries'}); /health is ok again`);
        },
        (error: Error) => {
          if (this.stopped) return;
          this.state = { status: 'degraded', reason: `${this.what} is down; restart ${tries} failed: ${error.message}` };
          // One line for the first failure, then one every ten: an outage must not flood the console.
          if (tries === 1 || tries % 10 === 0) this.log(`restarting ${this.what} failed (try ${tries}), trying again: ${error.message}`);
          this.schedule(tries + 1);
        },
      );
    }, pause);
  }
}
