/**
 * A WebSocket monitor for the ingest benchmark: notes when each record id is pushed, so the
 * time from the last accepted upload to the last push can be read off exactly.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { Frame } from '../lambdas/core/frames';
import { frameRecords } from '../web/monitor-client.js';

interface Waiter {
  readonly missing: Set<string>;
  done(): void;
  fail(error: Error): void;
}

/** A connected monitor; arrival times are `performance.now()` values of this process. */
export class PushMonitor {
  /** First arrival of each record id. */
  readonly arrivals = new Map<string, number>();
  /** Records pushed more than once (allowed: pushes are at least once; counted for the note). */
  duplicates = 0;
  framesReceived = 0;
  /** Status frames, for the failure message when pushes stop coming. */
  readonly statuses: string[] = [];
  private waiter: Waiter | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => this.onFrame(JSON.parse(data.toString()) as Frame));
    socket.on('close', (code) => this.waiter?.fail(new Error(`the monitoring WebSocket closed (${code}) while waiting for pushes`)));
    socket.on('error', () => undefined);
  }

  /** Connects to `wsUrl` with the token in the query, as the dashboard does. */
  static connect(wsUrl: string, token: string, timeoutMs: number): Promise<PushMonitor> {
    const socket = new WebSocket(`${wsUrl}/?token=${encodeURIComponent(token)}`, { handshakeTimeout: timeoutMs });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new PushMonitor(socket)));
      socket.once('error', reject);
      socket.once('unexpected-response', (_, res) => reject(new Error(`WebSocket handshake refused: ${res.statusCode}`)));
    });
  }

  /**
   * Resolves with the arrival time of the last of `ids` once all have been pushed; rejects
   * after `timeoutMs`, naming how many never came.
   */
  waitForAll(ids: readonly string[], timeoutMs: number, what: string): Promise<number> {
    const lastArrival = () => Math.max(...ids.map((id) => this.arrivals.get(id)!));
    const missing = new Set(ids.filter((id) => !this.arrivals.has(id)));
    if (missing.size === 0) return Promise.resolve(lastArrival());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        const statuses = this.statuses.length ? `; status frames: ${this.statuses.slice(-3).join(' | ')}` : '';
        reject(new Error(`${what}: ${missing.size} of ${ids.length} records were not pushed over the WebSocket within ${timeoutMs / 1000} s${statuses}`));
      }, timeoutMs);
      this.waiter = {
        missing,
        done: () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve(lastArrival());
        },
        fail: (error) => {
          clearTimeout(timer);
          this.waiter = undefined;
          reject(error);
        },
      };
    });
  }

  /** Closes the socket; resolves once it is closed (or after a second, terminated). */
  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, 1_000);
      this.socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      this.socket.close();
    });
  }

  private onFrame(frame: Frame): void {
    const now = performance.now();
    this.framesReceived++;
    if (frame.type === 'status') this.statuses.push(`${frame.level} ${frame.stage}: ${frame.message}`);
    if (frame.type !== 'records') return;
    for (const record of frameRecords(frame)) {
      if (this.arrivals.has(record.id)) this.duplicates++;
      else this.arrivals.set(record.id, now);
      this.waiter?.missing.delete(record.id);
    }
    if (this.waiter && this.waiter.missing.size === 0) this.waiter.done();
  }
}
