/**
 * `npm run demo`: uploads records to the local stack and checks, over the WebSocket, that every
 * accepted record is stored and pushed back exactly once. Replaces the old system's demo.py.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import type { Frame } from '../lambdas/core/frames';
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

// 3. Open the monitor before uploading, so no push can be missed.
const counts = { sent: 0, failedRecords: 0, failedRequests: 0, accepted: 0, stored: 0, pushed: 0, duplicates: 0 };
const accepted = new Set<string>();
const pushedOnce = new Set<string>();
// Pushes of ids not (yet) accepted: a push can overtake its own 202 answer.
const unclaimed = new Map<string, number>();
let uploading = true;
let closing = false;
let lastPushAt: number | undefined;
let onPong: (() => void) | undefined;
let onChange: () => void = () => {};

function countPush(id: string, times: number) {
  counts.pushed += times;
  if (!pushedOnce.has(id)) {
    pushedOnce.add(id);
    counts.stored++;
    lastPushAt = performance.now();
  }
  counts.duplicates = counts.pushed - counts.stored;
}

const wsUrl = new URL(options.wsUrl);
wsUrl.searchParams.set('token', token);
const socket = new WebSocket(wsUrl, { handshakeTimeout: 5_000 });
await new Promise<void>((resolve) => {
  const refused = (_req: unknown, res: { statusCode?: number; statusMessage?: string }) =>
    fail(`the WebSocket API at ${options.wsUrl} refused the connection: ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
  const failed = (error: Error) =>
    fail(`cannot open the WebSocket at ${options.wsUrl} (${describeError(error)}). ${START_HINT}`);
  socket.once('unexpected-response', refused);
  socket.once('error', failed);
  socket.once('open', () => {
    socket.off('unexpected-response', refused);
    socket.off('error', failed);
    resolve();
  });
});
socket.on('error', (error) => note(`WebSocket error: ${describeError(error)}`));
socket.on('close', (code) => {
  if (!closing) note(`the WebSocket closed unexpectedly (code ${code}); pushes after this are not seen`);
  onChange();
});
socket.on('message', (data: Buffer) => {
  let message: Frame;
  try {
    message = JSON.parse(data.toString('utf8')) as Frame;
  } catch {
    return note(`a frame that is not JSON: ${data.toString('utf8').slice(0, 200)}`);
  }
  if (message.type === 'pong') onPong?.();
  else if (message.type === 'status') note(`pipeline ${message.level} (${message.stage}): ${message.message} (${message.pending} pending)`);
  else if (message.type === 'error') note(`server error frame: ${message.code}: ${message.message}`);
  else if (message.type === 'records') {
    for (const record of message.records) {
      if (accepted.has(record.id)) countPush(record.id, 1);
      else if (uploading) unclaimed.set(record.id, (unclaimed.get(record.id) ?? 0) + 1);
    }
    onChange();
  }
});
// A pong proves the route works end to end before any record depends on it.
const pong = new Promise<boolean>((resolve) => {
  onPong = () => resolve(true);
  setTimeout(() => resolve(false), 5_000).unref();
});
socket.send(JSON.stringify({ action: 'ping' }));
if (!(await pong)) fail(`the WebSocket at ${options.wsUrl} opened but did not answer a ping within 5 s.`);

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
        const early = unclaimed.get(id);
        unclaimed.delete(id);
        if (early) countPush(id, early);
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
    if (counts.stored >= counts.accepted || interrupted || socket.readyState !== WebSocket.OPEN) {
      clearTimeout(timer);
      resolve();
    }
  };
  onChange();
});
onChange = () => {};
const socketLost = socket.readyState !== WebSocket.OPEN;
if (drawn) clearInterval(drawn);
const finalLine = renderProgress(progress());
if (tty) process.stderr.write(`\r${finalLine}\x1b[K\n`);
else if (finalLine !== lastLine) console.error(finalLine);

// 6. Summary; the socket closes meanwhile, so nothing is left holding the process open.
closing = true;
const closed = new Promise<void>((resolve) => {
  if (socket.readyState === WebSocket.CLOSED) return resolve();
  // A server that never answers the close handshake must not keep the demo alive.
  const force = setTimeout(() => socket.terminate(), 2_000);
  socket.once('close', () => resolve(clearTimeout(force)));
});
socket.close(1000, 'demo done');

if (failures.length) {
  console.log(`\nFirst failed uploads (${counts.failedRequests} in all):`);
  for (const failure of failures) console.log(`  ${failure}`);
}
const lastAnswerToLastPushMs = lastPushAt !== undefined && lastAnswerAt !== undefined ? lastPushAt - lastAnswerAt : undefined;
const report = { options, ...counts, uploadMs, latenciesMs: latencies, lastAnswerToLastPushMs, interrupted, socketLost };
console.log(`\n${interrupted ? 'Partial summary (interrupted)' : 'Summary'}\n${summaryTable(report)}`);
const missing = shortfalls(report);
for (const line of missing) console.log(`FAIL: ${line}`);
if (!missing.length) console.log(`OK: all ${options.count} records accepted, stored and pushed back exactly once.`);

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
