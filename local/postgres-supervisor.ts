/**
 * Keeps the embedded PostgreSQL running: when it dies (killed, crashed), the stack says so,
 * reports itself degraded (the gateway's /health answers 503 with the reason), and starts it
 * again on the same port and data, with growing pauses between tries, until it is back.
 * The functions' pools reconnect by themselves; batches that failed meanwhile come back from
 * the queue after their visibility timeout.
 */
import { EmbeddedPostgresServer, type EmbeddedPostgresOptions } from './postgres';

/** The platform's own state, as the gateway reports it before any function runs. */
export type PlatformHealth = { readonly status: 'ok' } | { readonly status: 'degraded'; readonly reason: string };

const FIRST_PAUSE_MS = 250;
const LONGEST_PAUSE_MS = 5_000;

export class SupervisedPostgres {
  private readonly server: EmbeddedPostgresServer;
  private state: PlatformHealth = { status: 'ok' };
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;
  private downSince = 0;
  private readonly log: (line: string) => void;

  constructor(options: Omit<EmbeddedPostgresOptions, 'onUnexpectedExit'>) {
    this.log = options.log ?? (() => undefined);
    this.server = new EmbeddedPostgresServer({ ...options, onUnexpectedExit: (how) => this.onDeath(how) });
  }

  /** Where the cluster's files are. */
  get dataDir(): string {
    return this.server.dataDir;
  }

  /** The running postmaster's process id (also its process group's), if it runs. */
  get pid(): number | undefined {
    return this.server.pid;
  }

  health(): PlatformHealth {
    return this.state;
  }

  /** The first start: a failure here fails the stack's start. */
  start(): Promise<void> {
    return this.server.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.attempt?.catch(() => undefined);
    await this.server.stop();
  }

  private onDeath(how: string): void {
    if (this.stopped) return;
    this.downSince = Date.now();
    this.state = { status: 'degraded', reason: `PostgreSQL stopped unexpectedly (${how.split(';')[0]}); restarting it` };
    this.log(`PostgreSQL stopped unexpectedly (${how}): /health answers 503 until it is back; restarting it…`);
    this.schedule(1);
  }

  private schedule(tries: number): void {
    const pause = Math.min(FIRST_PAUSE_MS * 2 ** (tries - 1), LONGEST_PAUSE_MS);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.attempt = this.server.start().then(
        () => {
          this.state = { status: 'ok' };
          this.log(`PostgreSQL is back after ${((Date.now() - this.downSince) / 1000).toFixed(1)} s (${tries} ${tries === 1 ? 'try' : 'tries'}); /health is ok again`);
        },
        (error: Error) => {
          if (this.stopped) return;
          this.state = { status: 'degraded', reason: `PostgreSQL is down; restart ${tries} failed: ${error.message}` };
          // One line for the first failure, then one every ten: an outage must not flood the console.
          if (tries === 1 || tries % 10 === 0) this.log(`restarting PostgreSQL failed (try ${tries}), trying again: ${error.message}`);
          this.schedule(tries + 1);
        },
      );
    }, pause);
  }
}
