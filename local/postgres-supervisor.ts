/**
 * Keeps the embedded PostgreSQL running: when it dies (killed, crashed), the stack says so,
 * reports itself degraded (the gateway's /health answers 503 with the reason), and starts it
 * again on the same port and data, with growing pauses between tries, until it is back.
 * The functions' pools reconnect by themselves; batches that failed meanwhile come back from
 * the queue after their visibility timeout.
 */
import { EmbeddedPostgresServer, type EmbeddedPostgresOptions } from './postgres';
import { Restarter, type PlatformHealth } from './restarter';

export class SupervisedPostgres {
  private readonly server: EmbeddedPostgresServer;
  private readonly restarter: Restarter;

  constructor(options: Omit<EmbeddedPostgresOptions, 'onUnexpectedExit'>) {
    this.server = new EmbeddedPostgresServer({ ...options, onUnexpectedExit: (how) => this.restarter.died(how) });
    this.restarter = new Restarter('PostgreSQL', () => this.server.start(), options.log ?? (() => undefined));
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
    return this.restarter.health();
  }

  /** The first start: a failure here fails the stack's start. */
  start(): Promise<void> {
    return this.server.start();
  }

  async stop(): Promise<void> {
    await this.restarter.stop();
    await this.server.stop();
  }
}
