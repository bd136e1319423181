/**
 * The steps of `npm run smoke`: one pass through a stack's public APIs, as a client sees them.
 * Health, log in, open the monitoring WebSocket, upload a few marked records, see them pushed
 * back, query them back, close. Every wait is bounded; the first failure stops the run.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { WebSocket, type RawData } from 'ws';
import type { Frame } from '../lambdas/core/frames';
import { frameRecords } from '../web/monitor-client.js';
import { acceptedIds, describeError, formatMs } from './demo-support';
import { markedRecords, oneLine, parseJson, stepLine, summaryLine, STEP_NAMES, type Seen, type SmokeReport, type StepName, type StepResult } from './smoke-support';

export interface SmokeOptions {
  /** The HTTP API's base URL; a trailing slash is fine. */
  readonly httpUrl: string;
  /** The WebSocket API's URL, as the stack outputs it. */
  readonly wsUrl: string;
  readonly username: string;
  readonly password: string;
  /** The bound on the push (step 5) and on the query (step 6). */
  readonly timeoutMs: number;
  /** The bound on each HTTP request and on the WebSocket handshake and ping. @default 30000 (the HTTP API's own limit) */
  readonly requestTimeoutMs?: number;
  /** Records in the upload. @default 3 */
  readonly records?: number;
  /** Receives each step's line as it finishes, then the summary line. @default no output */
  readonly log?: (line: string) => void;
}

/** A step's failure, with the reason shown to people. */
class StepFailure extends Error {
  override readonly name = 'StepFailure';
}

/** Runs every step in order and stops at the first failure; never throws, always ends. */
export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  const httpUrl = options.httpUrl.replace(/\/+$/, '');
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const log = options.log ?? (() => undefined);
  const secrets = [options.password];
  // The API must never echo a secret, but a report line is the wrong place to find out.
  // Very short strings are skipped: they would blank out ordinary words.
  const redact = (text: string) => secrets.reduce((t, s) => (s.length >= 4 ? t.split(s).join('[redacted]') : t), text);

  const steps: StepResult[] = [];
  const began = performance.now();
  async function step(name: StepName, run: () => Promise<string>): Promise<boolean> {
    const start = performance.now();
    let ok = true;
    let detail: string;
    try {
      detail = await run();
    } catch (error) {
      ok = false;
      detail = error instanceof StepFailure ? error.message : `unexpected error: ${describeError(error)}`;
    }
    const result: StepResult = { name, ok, ms: performance.now() - start, detail: redact(detail) };
    steps.push(result);
    log(stepLine(result));
    return ok;
  }

  /** One HTTP request, bounded; an answer without a connection is a StepFailure. */
  async function request(method: 'GET' | 'POST', route: string, init: { headers?: Record<string, string>; body?: unknown } = {}) {
    const path = route.split('?')[0];
    try {
      // The signal bounds the body too, not only the headers.
      const response = await fetch(`${httpUrl}${route}`, {
        method,
        headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      return { status: response.status, text: await response.text(), line: `${method} ${path} → ${response.status}` };
    } catch (error) {
      const why = (error as Error).name === 'TimeoutError' ? `no answer within ${formatMs(requestTimeoutMs)}` : describeError(error);
      throw new StepFailure(`${method} ${httpUrl}${path}: ${why}`);
    }
  }
  /** An unexpected answer: its status and its JSON error body, on one line. */
  const refused = (answer: { line: string; text: string }, hint = '') => new StepFailure(`${answer.line} ${oneLine(answer.text)}${hint}`);

  let token = '';
  let socket: WebSocket | undefined;
  const pushed = new Map<string, Seen>();
  let recordFrames = 0;
  let pongs = 0;
  const notices: string[] = [];
  let onFrame = () => {};
  let onClose = () => {};
  let closeCode: number | undefined;
  const records = markedRecords(options.records ?? 3);
  let ids: string[] = [];

  try {
    const passed =
      (await step('health', async () => {
        const answer = await request('GET', '/health');
        if (answer.status !== 200) throw refused(answer);
        return answer.line;
      })) &&
      (await step('log in', async () => {
        const answer = await request('POST', '/auth/token', { body: { username: options.username, password: options.password } });
        const hint = answer.status === 401 ? ': check the username and password (--username, --password or SMOKE_PASSWORD)' : '';
        if (answer.status !== 200) throw refused(answer, hint);
        const issued = parseJson(answer.text) as { access_token?: unknown } | undefined;
        if (typeof issued?.access_token !== 'string' || issued.access_token === '') throw new StepFailure(`${answer.line} without an access_token`);
        token = issued.access_token;
        secrets.push(token);
        return `${answer.line}, a token for ${JSON.stringify(options.username)}`;
      })) &&
      (await step('connect', async () => {
        // The stage URL as output, plus ?token=: locally that is `ws://host:port/?token=…`.
        const url = new URL(options.wsUrl);
        url.searchParams.set('token', token);
        socket = new WebSocket(url, { handshakeTimeout: requestTimeoutMs });
        socket.on('error', () => undefined); // Reported through 'close' or the handshake below.
        socket.on('close', (code) => {
          closeCode = code;
          onClose();
        });
        socket.on('message', (data: RawData) => {
          const frame = parseJson(data.toString()) as Frame | undefined;
          if (frame?.type === 'pong') pongs++;
          else if (frame?.type === 'records') {
            recordFrames++;
            for (const r of frameRecords(frame)) pushed.set(r.id, r);
          } else if (frame?.type === 'status' || frame?.type === 'error') {
            notices.push(frame.type === 'status' ? `status ${frame.level} (${frame.stage}): ${frame.message}` : `error frame ${frame.code}: ${frame.message}`);
          }
          onFrame();
        });
        await opened(socket, options.wsUrl, requestTimeoutMs);
        // A pong proves the $default route answers, before any record depends on the socket.
        const answered = waitUntil(() => pongs > 0, requestTimeoutMs, (wake) => {
          onFrame = wake;
        });
        socket.send(JSON.stringify({ action: 'ping' }));
        if (!(await answered)) {
          const last = notices.length ? ` (last frame: ${notices.at(-1)})` : '';
          throw new StepFailure(`the WebSocket opened but did not answer {"action":"ping"} within ${formatMs(requestTimeoutMs)}${last}`);
        }
        return 'the WebSocket is open and answered a ping';
      })) &&
      (await step('upload', async () => {
        const key = `smoke-${randomUUID()}`;
        const answer = await request('POST', '/api/data/upload', {
          headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
          body: { records },
        });
        if (answer.status !== 202) throw refused(answer);
        const accepted = acceptedIds(answer.text, records.length);
        if (!accepted || new Set(accepted).size !== records.length) throw new StepFailure(`${answer.line}, but not with ${records.length} distinct ids: ${oneLine(answer.text)}`);
        ids = accepted;
        return `${answer.line}, ${ids.length} ids (Idempotency-Key ${key})`;
      })) &&
      (await step('pushed', async () => {
        const arrived = () => ids.every((id) => pushed.has(id));
        const closed = () => socket?.readyState !== WebSocket.OPEN;
        const done = await waitUntil(() => arrived() || closed(), options.timeoutMs, (wake) => {
          onFrame = wake;
          onClose = wake;
        });
        const missing = ids.filter((id) => !pushed.has(id)).length;
        if (!arrived()) {
          const why = done ? `the WebSocket closed (code ${closeCode ?? 'unknown'}) first` : `not within ${formatMs(options.timeoutMs)}`;
          const last = notices.length ? `; last notice from the stack: ${notices.at(-1)}` : '';
          throw new StepFailure(`${missing} of ${ids.length} uploaded records were not pushed back: ${why}${last}`);
        }
        compare('pushed', ids.map((id) => pushed.get(id)!));
        return `${ids.length}/${ids.length} records arrived in ${recordFrames} records ${recordFrames === 1 ? 'frame' : 'frames'}, data and dates as sent`;
      })) &&
      (await step('query back', async () => {
        const window = { start_time: records[0]!.date, end_time: records[records.length - 1]!.date };
        const deadline = performance.now() + options.timeoutMs;
        let found = new Map<string, Seen>();
        let rounds = 0;
        for (;;) {
          rounds++;
          found = await queryWindow(window);
          if (ids.every((id) => found.has(id)) || performance.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        const missing = ids.filter((id) => !found.has(id)).length;
        if (missing) {
          throw new StepFailure(`GET /api/data/records of ${window.start_time} .. ${window.end_time}: ${missing} of ${ids.length} records missing after ${formatMs(options.timeoutMs)} (${found.size} records in the window)`);
        }
        compare('queried', ids.map((id) => found.get(id)!));
        return `GET /api/data/records → 200, all ${ids.length} records, data and dates as sent${rounds > 1 ? ` (after ${rounds} tries)` : ''}`;
      }));

    if (passed) {
      await step('close', async () => {
        const open = socket!;
        if (open.readyState !== WebSocket.OPEN) return `already closed by the server (code ${closeCode ?? 'unknown'})`;
        const finished = waitUntil(() => open.readyState === WebSocket.CLOSED, 5_000, (wake) => {
          onClose = wake;
        });
        open.close(1000, 'smoke check done');
        if (!(await finished)) {
          open.terminate();
          return 'no close answer within 5 s; the connection was dropped';
        }
        return `the WebSocket closed (code ${closeCode})`;
      });
    }
  } finally {
    // Whatever happened, nothing may keep the process alive.
    if (socket && socket.readyState !== WebSocket.CLOSED) socket.terminate();
  }

  const report: SmokeReport = { ok: steps.length === STEP_NAMES.length && steps.every((s) => s.ok), steps, totalMs: performance.now() - began };
  log(summaryLine(report));
  return report;

  /** Every page of the window, bounded by the page count: a busy window must not keep the check going. */
  async function queryWindow(window: { start_time: string; end_time: string }): Promise<Map<string, Seen>> {
    const found = new Map<string, Seen>();
    let cursor: string | null = null;
    for (let page = 0; page < 20; page++) {
      const query = new URLSearchParams({ ...window, limit: '1000', ...(cursor ? { cursor } : {}) });
      const answer = await request('GET', `/api/data/records?${query}`, { headers: { authorization: `Bearer ${token}` } });
      if (answer.status !== 200) throw refused(answer);
      const body = parseJson(answer.text) as { records?: Seen[]; next_cursor?: string | null } | undefined;
      if (!Array.isArray(body?.records)) throw new StepFailure(`${answer.line} without a records array: ${oneLine(answer.text)}`);
      for (const r of body.records) found.set(r.id, r);
      cursor = body.next_cursor ?? null;
      if (!cursor || ids.every((id) => found.has(id))) break;
    }
    return found;
  }

  /** The records came back as they were sent: same data, same instant to the microsecond. */
  function compare(how: string, seen: readonly Seen[]): void {
    seen.forEach((got, i) => {
      const sent = records[i]!;
      if (got.data !== sent.data || got.date !== sent.date) {
        throw new StepFailure(`record ${got.id} was ${how} as ${JSON.stringify({ data: got.data, date: got.date })}, sent as ${JSON.stringify(sent)}`);
      }
    });
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
function opened(socket: WebSocket, wsUrl: string, timeoutMs: number): Promise<void> {
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
