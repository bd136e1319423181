/**
 * `npm run demo`: uploads records to the local stack and checks, over the monitoring protocol,
 * that every accepted record is stored and comes back (pushed, or fetched after a missed frame
 * or a reconnect), each counted once. Replaces the old system's demo.py.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import type { Frame } from '../lambdas/core/frames';
import { Monitor, type Delivery } from '../web/monitor-client.js';
import {
  acceptedIds,
  demoRecords,
  describeError,
  parseDemoArgs,
  progressStep,
  renderProgress,
  shortfalls,
  startOfMinute,
  summaryTable,
  uploadBody,
  analysisWindow,
  formatAnalysis,
  type SwingAnswer,
  type Progress,
} from './demo-support';

const parsed = parseDemoArgs(process.argv.slice(2), process.env);
if (parsed.kind === 'help') console.log(parsed.text);
if (parsed.kind === 'error') console.error(`demo: ${parsed.message}`);
if (parsed.kind !== 'run') process.exit(parsed.kind === 'help' ? 0 : 2);
const options = parsed.options;
const START_HINT = 'Start the local stack in another terminal with `npm start`, wait for "data-handler is running", then run the demo again.';

function fail(message: string): never {
  console.error(`demo: ${message}`);
  process.exit(1);
}

// 1. Is the stack up? Checked first: a login against a stopped stack fails less clearly.
try {
  const health = await fetch(`${options.url}/health`, { signal: AbortSignal.timeout(5_000) });
  await health.text();
  if (health.status !== 200) fail(`${options.url}/health answered ${health.status}: the stack is not ready. ${START_HINT}`);
} catch (error) {
  fail(`cannot reach the HTTP API at ${options.url} (${describeError(error)}). ${START_HINT}`);
}

// 2. Log in.
const login = await fetch(`${options.url}/auth/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: options.username, password: options.password }),
}).catch((error) => fail(`login request failed (${describeError(error)}). ${START_HINT}`));
const loginBody = await login.text();
if (login.status !== 200) {
  const hint = login.status === 401 ? ' Check --username/--password (or LOCAL_USERNAME/LOCAL_PASSWORD): they must match the stack\'s.' : '';
  fail(`login as ${JSON.stringify(options.username)} failed: ${login.status} ${loginBody}${hint}`);
}
const token = (JSON.parse(loginBody) as { access_token: string }).access_token;

// 3. Open the monitor before uploading, through the monitoring protocol's own client (the one
// the dashboard runs): it dedupes by id, fetches what a missed frame names, and catches up after
// a reconnect, so a record counts as back however it came.
const counts = { sent: 0, failedRecords: 0, failedRequests: 0, accepted: 0, stored: 0, pushed: 0, duplicates: 0, recovered: 0 };
const accepted = new Set<string>();
const back = new Set<string>();
// Records back before their own 202 answer arrived (a push can overtake it).
const unclaimed = new Set<string>();
let uploading = true;
let lastPushAt: number | undefined;
let onChange: () => void = () => {};
let refusal: string | undefined;
let closing = false;

function countBack(id: string, how: Delivery) {
  if (back.has(id)) return;
  back.add(id);
  counts.stored++;
  counts.pushed++;
  if (how !== 'live') counts.recovered++;
  lastPushAt = performance.now();
}

/** ws, with the handshake's refusal kept: a browser's WebSocket cannot tell it, this one can. */
class DemoSocket extends WebSocket {
  constructor(url: string) {
    super(url, { handshakeTimeout: 5_000 });
    this.once('unexpected-response', (_req, res) => {
      refusal = `${res.statusCode} ${res.statusMessage ?? ''}`.trim();
      this.terminate();
    });
  }
}

let opened = false;
let gaveUp = false;
let onPong: (() => void) | undefined;
const monitor = new Monitor({
  httpUrl: options.url,
  wsUrl: options.wsUrl,
  token: () => token,
  WebSocket: DemoSocket,
  maxRetries: 5,
  onRecords: (records, how) => {
    for (const record of records) {
      if (accepted.has(record.id)) countBack(record.id, how);
      else if (uploading) unclaimed.add(record.id);
    }
    onChange();
  },
  onFrame: (frame: Frame) => {
    if (frame.type === 'pong') onPong?.();
    else if (frame.type === 'status') note(`pipeline ${frame.level} (${frame.stage}): ${frame.message} (${frame.pending} pending)`);
    else if (frame.type === 'error') note(`server error frame: ${frame.code}: ${frame.message}`);
    else if (frame.type === 'missed') note(`told of ${frame.count} records missed on this connection; fetching them`);
  },
  onState: (state, detail) => {
    if (state === 'live') opened = true;
    if (state === 'closed' && opened && !closing) note(`the WebSocket closed (code ${String(detail?.code)}); reconnecting, then catching up`);
    if (state === 'caught-up') note(`caught up after the reconnect (${String(detail?.fetched)} records fetched)`);
    if (state === 'fetch-failed') note(`fetching missed records failed: ${String(detail?.error)}`);
    if (state === 'gave-up') gaveUp = true;
    onChange();
  },
}).start();
// A pong proves the route works end to end before any record depends on it.
const answered = await new Promise<boolean>((resolve) => {
  onPong = () => resolve(true);
  onChange = () => {
    if (refusal) fail(`the WebSocket API at ${options.wsUrl} refused the connection: ${refusal}`);
    if (gaveUp) fail(`cannot open the WebSocket at ${options.wsUrl}. ${START_HINT}`);
  };
  setTimeout(() => resolve(false), 10_000).unref();
});
onChange = () => {};
if (!answered) fail(`the WebSocket at ${options.wsUrl} did not open and answer a ping within 10 s. ${START_HINT}`);

// Progress: redrawn in place on a terminal, one line per tenth in logs and CI.
const tty = Boolean(process.stderr.isTTY);
const progress = (): Progress => ({ total: options.count, sent: counts.sent, failed: counts.failedRecords, pushed: counts.stored });
let lastStep = 0;
let lastLine = '';
let dirty = true;
const drawn = tty
  ? setInterval(() => {
      if (dirty) process.stderr.write(`\r${renderProgress(progress())}\x1b[K`);
      dirty = false;
    }, 100)
  : undefined;
function update() {
  dirty = true;
  const step = progressStep(progress());
  if (!tty && step > lastStep) console.error((lastLine = renderProgress(progress())));
  lastStep = Math.max(lastStep, step);
}
function note(line: string) {
  process.stderr.write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
  dirty = true;
}

// 4. Upload from concurrent workers; Ctrl-C stops them and still prints what happened.
let interrupted = false;
// One controller per request: fetch keeps its abort listener until the response is collected,
// so a single shared signal would pile up thousands of listeners.
const inFlight = new Set<AbortController>();
process.once('SIGINT', () => {
  interrupted = true;
  note('interrupted: stopping (Ctrl-C again to quit at once)');
  for (const request of inFlight) request.abort();
  onChange();
});
const startMs = startOfMinute(Date.now());
const latencies: number[] = [];
const failures: string[] = [];
let next = 0;
let lastAnswerAt: number | undefined;

async function worker() {
  while (!interrupted && next < options.count) {
    const from = next;
    next = Math.min(options.count, from + options.batchSize);
    const records = demoRecords(startMs, from, next);
    const began = performance.now();
    let status = 0;
    let body: string;
    const request = new AbortController();
    inFlight.add(request);
    try {
      const res = await fetch(`${options.url}/api/data/upload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(uploadBody(records, options.batchSize)),
        signal: request.signal,
      });
      status = res.status;
      body = await res.text();
    } catch (error) {
      if (interrupted) return;
      body = describeError(error);
    } finally {
      inFlight.delete(request);
    }
    lastAnswerAt = performance.now();
    const ids = status === 202 ? acceptedIds(body, records.length) : undefined;
    if (ids) {
      latencies.push(lastAnswerAt - began);
      counts.accepted += ids.length;
      for (const id of ids) {
        accepted.add(id);
        if (unclaimed.delete(id)) countBack(id, 'live');
      }
    } else {
      counts.failedRecords += records.length;
      // Only the first few are shown; a stopped stack would fail every request alike.
      if (++counts.failedRequests <= 5) failures.push(`${status || 'no answer'}: ${body.slice(0, 300)}`);
    }
    counts.sent += records.length;
    update();
  }
}

const uploadStart = performance.now();
await Promise.all(Array.from({ length: Math.min(options.concurrency, Math.ceil(options.count / options.batchSize)) }, worker));
const uploadMs = performance.now() - uploadStart;
uploading = false;
unclaimed.clear();

// 5. Wait for the pushes: until all are back, the timeout, Ctrl-C or a closed socket.
await new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, options.timeoutS * 1000);
  onChange = () => {
    update();
    if (counts.stored >= counts.accepted || interrupted || gaveUp) {
      clearTimeout(timer);
      resolve();
    }
  };
  onChange();
});
onChange = () => {};
const socketLost = gaveUp;
counts.duplicates = monitor.stats.repeated;
if (drawn) clearInterval(drawn);
const finalLine = renderProgress(progress());
if (tty) process.stderr.write(`\r${finalLine}\x1b[K\n`);
else if (finalLine !== lastLine) console.error(finalLine);

// 6. Summary; the socket closes meanwhile, so nothing is left holding the process open.
closing = true;
const closed = monitor.stop();

if (failures.length) {
  console.log(`\nFirst failed uploads (${counts.failedRequests} in all):`);
  for (const failure of failures) console.log(`  ${failure}`);
}
const lastAnswerToLastPushMs = lastPushAt !== undefined && lastAnswerAt !== undefined ? lastPushAt - lastAnswerAt : undefined;
const report = { options, ...counts, uploadMs, latenciesMs: latencies, lastAnswerToLastPushMs, interrupted, socketLost };
console.log(`\n${interrupted ? 'Partial summary (interrupted)' : 'Summary'}\n${summaryTable(report)}`);
const missing = shortfalls(report);
for (const line of missing) console.log(`FAIL: ${line}`);
if (!missing.length) console.log(`OK: all ${options.count} records accepted, stored and back over the monitoring protocol (each counted once).`);

// 7. The swing analysis of the window just sent, as the seed's demo ended.
if (!interrupted && counts.accepted > 0) {
  const window = analysisWindow(startMs, options.count);
  try {
    const response = await fetch(`${options.url}/api/data/swing-analyze?${new URLSearchParams(window)}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (response.status !== 200) console.log(`\nSwing analysis failed: ${response.status} ${text}`);
    else console.log(`\n${formatAnalysis(JSON.parse(text) as SwingAnswer)}`);
  } catch (error) {
    console.log(`\nSwing analysis failed: ${describeError(error)}`);
  }
}

await closed;
process.exitCode = interrupted ? 130 : missing.length ? 1 : 0;
