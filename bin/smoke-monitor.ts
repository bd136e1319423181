/**
 * The monitoring WebSocket as `npm run smoke` (smoke-steps.ts) watches it: the handshake, the
 * frames it sends back (records, pongs, notices) and its close, with bounded waits on each.
 */
import { WebSocket, type RawData } from 'ws';
import type { Frame } from '../lambdas/core/frames';
import { frameRecords } from '../web/monitor-client.js';
import { describeError, formatMs } from './demo-support';
import { oneLine, parseJson, type Seen } from './smoke-support';

/** A step's failure, with the reason shown to people. */
export class StepFailure extends Error {
  override readonly name = 'StepFailure';
}

/** The monitoring WebSocket, as the smoke check watches it: the records pushed, the pongs, the notices, the close. */
export class Monitor {
  readonly socket: WebSocket;
  readonly pushed = new Map<string, Seen>();
  recordFrames = 0;
  pongs = 0;
  closeCode: number | undefined;
  private readonly notices: string[] = [];
  private onFrame = () => {};
  private onClose = () => {};

  constructor(url: URL, handshakeTimeoutMs: number) {
    this.socket = new WebSocket(url, { handshakeTimeout: handshakeTimeoutMs });
    this.socket.on('error', () => undefined); // Reported through 'close' or the handshake (opened).
    this.socket.on('close', (code) => {
      this.closeCode = code;
      this.onClose();
    });
    this.socket.on('message', (data: RawData) => {
      this.take(parseJson(data.toString()) as Frame | undefined);
      this.onFrame();
    });
  }

  /** waitUntil, woken by the next frames or the close, as asked. */
  waitFor(done: () => boolean, timeoutMs: number, wakeOn: { frames?: boolean; close?: boolean }): Promise<boolean> {
    return waitUntil(done, timeoutMs, (wake) => {
      if (wakeOn.frames) this.onFrame = wake;
      if (wakeOn.close) this.onClose = wake;
    });
  }

  /** The last status or error frame, between `before` and `after`; nothing when there was none. */
  lastNotice(before: string, after = ''): string {
    return this.notices.length ? `${before}${this.notices.at(-1)}${after}` : '';
  }

  terminate(): void {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.terminate();
  }

  private take(frame: Frame | undefined): void {
    if (frame?.type === 'pong') this.pongs++;
    else if (frame?.type === 'records') {
      this.recordFrames++;
      for (const r of frameRecords(frame)) this.pushed.set(r.id, r);
    } else if (frame?.type === 'status' || frame?.type === 'error') {
      this.notices.push(frame.type === 'status' ? `status ${frame.level} (${frame.stage}): ${frame.message}` : `error frame ${frame.code}: ${frame.message}`);
    }
  }
}

/** Waits until `done()` holds or `timeoutMs` passes; `subscribe` lets events wake it early. Resolves with whether it held. */
function waitUntil(done: () => boolean, timeoutMs: number, subscribe?: (wake: () => void) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (value: boolean) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve(value);
    };
    const check = () => {
      if (done()) finish(true);
    };
    const timer = setTimeout(() => finish(done()), timeoutMs);
    // Events wake it at once; the slow poll only covers state that changes without one.
    const poll = setInterval(check, 100);
    subscribe?.(check);
    check();
  });
}

/** Resolves once the socket is open; a refused handshake or an error is a StepFailure that says which. */
export function opened(socket: WebSocket, wsUrl: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => {
      // The body says why (API Gateway: {"message":"Unauthorized"}); read a little of it, bounded.
      let body = '';
      const give = () => {
        socket.terminate();
        reject(new StepFailure(`the WebSocket API at ${wsUrl} refused the handshake: ${response.statusCode} ${oneLine(body)}`.trim()));
      };
      const timer = setTimeout(give, Math.min(timeoutMs, 2_000));
      response.on('data', (chunk: Buffer) => {
        if (body.length < 1000) body += chunk.toString('utf8');
      });
      response.once('end', () => {
        clearTimeout(timer);
        give();
      });
      response.once('error', () => undefined);
    });
    socket.once('error', (error) => {
      const why = /timeout/i.test(error.message) ? `no handshake within ${formatMs(timeoutMs)}` : describeError(error);
      reject(new StepFailure(`cannot open the WebSocket at ${wsUrl}: ${why}`));
    });
  });
}
