/**
 * The steps of `npm run smoke`: one pass through a stack's public APIs, as a client sees them.
 * Health, log in, open the monitoring WebSocket, upload a few marked records, see them pushed
 * back, query them back, close. Every wait is bounded; the first failure stops the run.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { acceptedIds, describeError, formatMs } from './demo-support';
import { Monitor, opened, StepFailure } from './smoke-monitor';
import { markedRecords, oneLine, parseJson, stepLine, summaryLine, STEP_NAMES, type Marked, type Seen, type SmokeReport, type StepName, type StepResult } from './smoke-support';

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

/** One HTTP request's answer, with the line that names it in the report. */
interface Answer {
  readonly status: number;
  readonly text: string;
  readonly line: string;
}

/** What the steps share: the options, the secrets to keep out of the report, the token, the monitor, the records. */
interface Session {
  readonly options: SmokeOptions;
  readonly httpUrl: string;
  readonly requestTimeoutMs: number;
  readonly secrets: string[];
  readonly records: readonly Marked[];
  token: string;
  monitor: Monitor | undefined;
  ids: string[];
}

/** Runs every step in order and stops at the first failure; never throws, always ends. */
export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  const log = options.log ?? (() => undefined);
  const s: Session = {
    options,
    httpUrl: options.httpUrl.replace(/\/+$/, ''),
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    secrets: [options.password],
    records: markedRecords(options.records ?? 3),
    token: '',
    monitor: undefined,
    ids: [],
  };
  const steps: StepResult[] = [];
  const began = performance.now();
  const step = async (name: StepName, run: (s: Session) => Promise<string>) => {
    const result = await runStep(name, () => run(s), s.secrets);
    steps.push(result);
    log(stepLine(result));
    return result.ok;
  };
  try {
    const passed =
      (await step('health', checkHealth)) &&
      (await step('log in', logIn)) &&
      (await step('connect', connect)) &&
      (await step('upload', upload)) &&
      (await step('pushed', awaitPushed)) &&
      (await step('query back', queryBack));
    if (passed) await step('close', closeMonitor);
  } finally {
    // Whatever happened, nothing may keep the process alive.
    s.monitor?.terminate();
  }
  const report: SmokeReport = { ok: steps.length === STEP_NAMES.length && steps.every((r) => r.ok), steps, totalMs: performance.now() - began };
  log(summaryLine(report));
  return report;
}

/** One step, timed; its failure becomes the reason shown, with every secret redacted. */
async function runStep(name: StepName, run: () => Promise<string>, secrets: readonly string[]): Promise<StepResult> {
  const start = performance.now();
  let ok = true;
  let detail: string;
  try {
    detail = await run();
  } catch (error) {
    ok = false;
    detail = error instanceof StepFailure ? error.message : `unexpected error: ${describeError(error)}`;
  }
  // The API must never echo a secret, but a report line is the wrong place to find out.
  // Very short strings are skipped: they would blank out ordinary words.
  const redacted = secrets.reduce((t, secret) => (secret.length >= 4 ? t.split(secret).join('[redacted]') : t), detail);
  return { name, ok, ms: performance.now() - start, detail: redacted };
}

/** One HTTP request, bounded; an answer without a connection is a StepFailure. */
async function request(s: Session, method: 'GET' | 'POST', route: string, init: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const path = route.split('?')[0];
  try {
    // The signal bounds the body too, not only the headers.
    const response = await fetch(`${s.httpUrl}${route}`, {
      method,
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(s.requestTimeoutMs),
    });
    return { status: response.status, text: await response.text(), line: `${method} ${path} → ${response.status}` };
  } catch (error) {
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${formatMs(s.requestTimeoutMs)}` : describeError(error);
    throw new StepFailure(`${method} ${s.httpUrl}${path}: ${why}`);
  }
}

/** An unexpected answer: its status and its JSON error body, on one line. */
function refused(answer: Answer, hint = ''): StepFailure {
  return new StepFailure(`${answer.line} ${oneLine(answer.text)}${hint}`);
}

async function checkHealth(s: Session): Promise<string> {
  const answer = await request(s, 'GET', '/health');
  if (answer.status !== 200) throw refused(answer);
  return answer.line;
}

async function logIn(s: Session): Promise<string> {
  const { username, password } = s.options;
  const answer = await request(s, 'POST', '/auth/token', { body: { username, password } });
  const hint = answer.status === 401 ? ': check the username and password (--username, --password or SMOKE_PASSWORD)' : '';
  if (answer.status !== 200) throw refused(answer, hint);
  const issued = parseJson(answer.text) as { access_token?: unknown } | undefined;
  if (typeof issued?.access_token !== 'string' || issued.access_token === '') throw new StepFailure(`${answer.line} without an access_token`);
  s.token = issued.access_token;
  s.secrets.push(s.token);
  return `${answer.line}, a token for ${JSON.stringify(username)}`;
}

async function connect(s: Session): Promise<string> {
  // The stage URL as output, plus ?token=: locally that is `ws://host:port/?token=…`.
  const url = new URL(s.options.wsUrl);
  url.searchParams.set('token', s.token);
  const monitor = (s.monitor = new Monitor(url, s.requestTimeoutMs));
  await opened(monitor.socket, s.options.wsUrl, s.requestTimeoutMs);
  // A pong proves the $default route answers, before any record depends on the socket.
  const answered = monitor.waitFor(() => monitor.pongs > 0, s.requestTimeoutMs, { frames: true });
  monitor.socket.send(JSON.stringify({ action: 'ping' }));
  if (!(await answered)) {
    throw new StepFailure(`the WebSocket opened but did not answer {"action":"ping"} within ${formatMs(s.requestTimeoutMs)}${monitor.lastNotice(' (last frame: ', ')')}`);
  }
  return 'the WebSocket is open and answered a ping';
}

async function upload(s: Session): Promise<string> {
  const key = `smoke-${randomUUID()}`;
  const answer = await request(s, 'POST', '/api/data/upload', {
    headers: { authorization: `Bearer ${s.token}`, 'idempotency-key': key },
    body: { records: s.records },
  });
  if (answer.status !== 202) throw refused(answer);
  const accepted = acceptedIds(answer.text, s.records.length);
  if (!accepted || new Set(accepted).size !== s.records.length) throw new StepFailure(`${answer.line}, but not with ${s.records.length} distinct ids: ${oneLine(answer.text)}`);
  s.ids = accepted;
  return `${answer.line}, ${s.ids.length} ids (Idempotency-Key ${key})`;
}

async function awaitPushed(s: Session): Promise<string> {
  const { ids } = s;
  const monitor = s.monitor!;
  const arrived = () => ids.every((id) => monitor.pushed.has(id));
  const closed = () => monitor.socket.readyState !== WebSocket.OPEN;
  const done = await monitor.waitFor(() => arrived() || closed(), s.options.timeoutMs, { frames: true, close: true });
  const missing = ids.filter((id) => !monitor.pushed.has(id)).length;
  if (!arrived()) {
    const why = done ? `the WebSocket closed (code ${monitor.closeCode ?? 'unknown'}) first` : `not within ${formatMs(s.options.timeoutMs)}`;
    throw new StepFailure(`${missing} of ${ids.length} uploaded records were not pushed back: ${why}${monitor.lastNotice('; last notice from the stack: ')}`);
  }
  compare(s, 'pushed', ids.map((id) => monitor.pushed.get(id)!));
  const frames = monitor.recordFrames;
  return `${ids.length}/${ids.length} records arrived in ${frames} records ${frames === 1 ? 'frame' : 'frames'}, data and dates as sent`;
}

async function queryBack(s: Session): Promise<string> {
  const { ids, records } = s;
  const window = { start_time: records[0]!.date, end_time: records[records.length - 1]!.date };
  const deadline = performance.now() + s.options.timeoutMs;
  let found = new Map<string, Seen>();
  let rounds = 0;
  for (;;) {
    rounds++;
    found = await queryWindow(s, window);
    if (ids.every((id) => found.has(id)) || performance.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const missing = ids.filter((id) => !found.has(id)).length;
  if (missing) {
    throw new StepFailure(`GET /api/data/records of ${window.start_time} .. ${window.end_time}: ${missing} of ${ids.length} records missing after ${formatMs(s.options.timeoutMs)} (${found.size} records in the window)`);
  }
  compare(s, 'queried', ids.map((id) => found.get(id)!));
  return `GET /api/data/records → 200, all ${ids.length} records, data and dates as sent${rounds > 1 ? ` (after ${rounds} tries)` : ''}`;
}

async function closeMonitor(s: Session): Promise<string> {
  const monitor = s.monitor!;
  const open = monitor.socket;
  if (open.readyState !== WebSocket.OPEN) return `already closed by the server (code ${monitor.closeCode ?? 'unknown'})`;
  const finished = monitor.waitFor(() => open.readyState === WebSocket.CLOSED, 5_000, { close: true });
  open.close(1000, 'smoke check done');
  if (!(await finished)) {
    open.terminate();
    return 'no close answer within 5 s; the connection was dropped';
  }
  return `the WebSocket closed (code ${monitor.closeCode})`;
}

/** Every page of the window, bounded by the page count: a busy window must not keep the check going. */
async function queryWindow(s: Session, window: { start_time: string; end_time: string }): Promise<Map<string, Seen>> {
  const found = new Map<string, Seen>();
  let cursor: string | null = null;
  for (let page = 0; page < 20; page++) {
    const query = new URLSearchParams({ ...window, limit: '1000', ...(cursor ? { cursor } : {}) });
    const answer = await request(s, 'GET', `/api/data/records?${query}`, { headers: { authorization: `Bearer ${s.token}` } });
    if (answer.status !== 200) throw refused(answer);
    const body = parseJson(answer.text) as { records?: Seen[]; next_cursor?: string | null } | undefined;
    if (!Array.isArray(body?.records)) throw new StepFailure(`${answer.line} without a records array: ${oneLine(answer.text)}`);
    for (const r of body.records) found.set(r.id, r);
    cursor = body.next_cursor ?? null;
    if (!cursor || s.ids.every((id) => found.has(id))) break;
  }
  return found;
}

/** The records came back as they were sent: same data, same instant to the microsecond. */
function compare(s: Session, how: string, seen: readonly Seen[]): void {
  seen.forEach((got, i) => {
    const sent = s.records[i]!;
    if (got.data !== sent.data || got.date !== sent.date) {
      throw new StepFailure(`record ${got.id} was ${how} as ${JSON.stringify({ data: got.data, date: got.date })}, sent as ${JSON.stringify(sent)}`);
    }
  });
}
