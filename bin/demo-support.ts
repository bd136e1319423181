/**
 * The pure parts of `npm run demo` (bin/demo.ts): argument parsing, the records it sends,
 * statistics and rendering. Nothing here does I/O, so all of it can be unit-tested.
 */
import { parseArgs } from 'node:util';
import { MAX_RECORDS_PER_REQUEST } from '../lambdas/core/record';

/** The demo's settings, validated. */
export interface DemoOptions {
  readonly count: number;
  readonly concurrency: number;
  readonly batchSize: number;
  /** The HTTP API's base URL, without a trailing slash. */
  readonly url: string;
  readonly wsUrl: string;
  readonly username: string;
  readonly password: string;
  readonly timeoutS: number;
}

/** What the command line asks for: a run, the help text, or a usage error (exit 2). */
export type ParsedArgs =
  | { readonly kind: 'run'; readonly options: DemoOptions }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'error'; readonly message: string };

/** Most records one run may send: a ceiling against typos such as `--count 10000000000`. */
export const MAX_COUNT = 1_000_000;
/** Most concurrent upload workers. */
export const MAX_WORKERS = 256;

const OPTIONS = {
  count: { type: 'string' },
  concurrency: { type: 'string' },
  'batch-size': { type: 'string' },
  url: { type: 'string' },
  'ws-url': { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  'timeout-s': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The defaults, which depend on the same environment variables as `npm start`. */
export function demoDefaults(env: NodeJS.ProcessEnv): DemoOptions {
  return {
    count: 1000,
    concurrency: 2,
    batchSize: 1,
    url: `http://127.0.0.1:${env.PORT || 3000}`,
    wsUrl: `ws://127.0.0.1:${env.WS_PORT || 3001}`,
    username: env.LOCAL_USERNAME || 'parsa',
    password: env.LOCAL_PASSWORD || 'admin',
    timeoutS: 60,
  };
}

/** The `--help` text, showing the defaults this environment gives. */
export function usage(env: NodeJS.ProcessEnv): string {
  const d = demoDefaults(env);
  return `Usage: npm run demo -- [options]

Uploads records to the local stack (start it first with \`npm start\`) and checks that every
accepted record comes back over the WebSocket exactly once. Exit code 0 only if it does.

Options:
  --count N          records to send, 1..${MAX_COUNT} (default ${d.count})
  --concurrency N    concurrent upload workers, 1..${MAX_WORKERS} (default ${d.concurrency})
  --batch-size N     records per upload request, 1..${MAX_RECORDS_PER_REQUEST} (default ${d.batchSize}: one record per request)
  --url URL          HTTP API (default ${d.url}; env PORT)
  --ws-url URL       WebSocket API (default ${d.wsUrl}; env WS_PORT)
  --username NAME    (default ${d.username}; env LOCAL_USERNAME)
  --password PASS    (default from env LOCAL_PASSWORD, else "admin")
  --timeout-s S      seconds to wait for pushes after the last upload (default ${d.timeoutS})
  -h, --help         show this help`;
}

/**
 * Parses and validates the demo's arguments (without the node and script paths). Every bad
 * value is reported at once, so one run shows everything to fix.
 */
export function parseDemoArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedArgs {
  let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    return { kind: 'error', message: `${(error as Error).message}\nRun \`npm run demo -- --help\` to see the options.` };
  }
  if (values.help) return { kind: 'help', text: usage(env) };
  const d = demoDefaults(env);
  const problems: string[] = [];
  const int = (flag: string, raw: string | undefined, fallback: number, max: number) => {
    if (raw === undefined) return fallback;
    // Number() would take "1e3", "0x10" and " 5 "; only plain digits are a count.
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (Number.isSafeInteger(value) && value >= 1 && value <= max) return value;
    problems.push(`--${flag} must be a whole number from 1 to ${max} (got ${JSON.stringify(raw)})`);
    return fallback;
  };
  const url = (flag: string, raw: string | undefined, fallback: string, protocols: readonly string[]) => {
    const text = raw ?? fallback;
    try {
      const parsed = new URL(text);
      if (protocols.includes(parsed.protocol)) return text.replace(/\/+$/, '');
    } catch {
      // Reported below, with the expected form.
    }
    problems.push(`--${flag} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL (got ${JSON.stringify(text)})`);
    return fallback;
  };
  const text = (flag: string, raw: string | undefined, fallback: string) => {
    if (raw !== '') return raw ?? fallback;
    problems.push(`--${flag} must not be empty`);
    return fallback;
  };
  const seconds = (flag: string, raw: string | undefined, fallback: number, max: number) => {
    if (raw === undefined) return fallback;
    const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
    if (value > 0 && value <= max) return value;
    problems.push(`--${flag} must be a number of seconds above 0, at most ${max} (got ${JSON.stringify(raw)})`);
    return fallback;
  };
  const options: DemoOptions = {
    count: int('count', values.count, d.count, MAX_COUNT),
    concurrency: int('concurrency', values.concurrency, d.concurrency, MAX_WORKERS),
    batchSize: int('batch-size', values['batch-size'], d.batchSize, MAX_RECORDS_PER_REQUEST),
    url: url('url', values.url, d.url, ['http:', 'https:']),
    wsUrl: url('ws-url', values['ws-url'], d.wsUrl, ['ws:', 'wss:']),
    username: text('username', values.username, d.username),
    password: text('password', values.password, d.password),
    timeoutS: seconds('timeout-s', values['timeout-s'], d.timeoutS, 3600),
  };
  if (problems.length) return { kind: 'error', message: problems.join('\n') };
  return { kind: 'run', options };
}

/** One record as the upload API takes it. */
export interface DemoRecord {
  readonly data: number;
  readonly date: string;
}

/** The start of the minute `epochMs` falls in: record i is dated i minutes after it. */
export function startOfMinute(epochMs: number): number {
  return Math.floor(epochMs / 60_000) * 60_000;
}

/** Records `from` (inclusive) to `to` (exclusive) of a run: consecutive minutes, data 1..100. */
export function demoRecords(startMs: number, from: number, to: number, random: () => number = Math.random): DemoRecord[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, k) => ({
    data: 1 + Math.floor(random() * 100),
    date: new Date(startMs + (from + k) * 60_000).toISOString(),
  }));
}

/**
 * The request body: a bare record when the batch size is 1 (the seed system's form), else
 * `{ "records": [...] }`, even for a last, shorter batch of one.
 */
export function uploadBody(records: readonly DemoRecord[], batchSize: number): unknown {
  return batchSize === 1 && records.length === 1 ? records[0] : { records };
}

/** The ids of a 202 answer, or undefined when the body is not `{ ids: [...] }` with `expected` ids. */
export function acceptedIds(body: string, expected: number): string[] | undefined {
  try {
    const ids = (JSON.parse(body) as { ids?: unknown })?.ids;
    if (Array.isArray(ids) && ids.length === expected && ids.every((id) => typeof id === 'string')) return ids as string[];
  } catch {
    // Not JSON: the caller reports the body as it came.
  }
  return undefined;
}

/** The p-th percentile (0..100) by nearest rank: always a measured value; undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)];
}

/** Counts the progress line shows. */
export interface Progress {
  readonly total: number;
  /** Records whose upload request has been answered, accepted or not. */
  readonly sent: number;
  readonly failed: number;
  /** Accepted records seen on the WebSocket. */
  readonly pushed: number;
}

/**
 * The progress line: `#` for pushed records, `=` for sent ones not pushed yet, `.` for the rest,
 * e.g. `[#####==.....] 700/1000 sent · 650 pushed`.
 */
export function renderProgress(p: Progress, width = 30): string {
  // Floor, so the bar is full only when everything is done.
  const cells = (n: number) => (p.total > 0 ? Math.floor((Math.min(n, p.total) / p.total) * width) : width);
  const pushed = cells(p.pushed);
  const sent = Math.max(pushed, cells(p.sent));
  const bar = '#'.repeat(pushed) + '='.repeat(sent - pushed) + '.'.repeat(width - sent);
  return `[${bar}] ${p.sent}/${p.total} sent · ${p.pushed} pushed${p.failed ? ` · ${p.failed} failed` : ''}`;
}

/** Which tenth (0..10) of the work is done, sending and pushing weighing the same; logs print one line per step. */
export function progressStep(p: Progress): number {
  if (p.total <= 0) return 10;
  return Math.min(10, Math.floor((10 * (Math.min(p.sent, p.total) + Math.min(p.pushed, p.total))) / (2 * p.total)));
}

/** A duration for people: tenths below 100 ms, whole milliseconds above; "n/a" when unknown. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return 'n/a';
  return Math.abs(ms) < 100 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** Two columns, labels padded to the longest, inside a rule. */
export function formatTable(rows: readonly (readonly [string, string])[]): string {
  const labelWidth = Math.max(0, ...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `  ${label.padEnd(labelWidth)}  ${value}`);
  const rule = '─'.repeat(Math.max(0, ...lines.map((l) => l.length)) + 2);
  return [rule, ...lines, rule].join('\n');
}

/** An error in one line; fetch hides the useful part (ECONNREFUSED, ...) in `cause`. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const detail = [cause?.code, cause?.message].find((t): t is string => typeof t === 'string' && t !== '');
  return detail && detail !== message ? `${message}: ${detail}` : message || 'unknown error';
}

/** What one run measured. */
export interface RunReport {
  readonly options: Pick<DemoOptions, 'count' | 'concurrency' | 'batchSize' | 'timeoutS'>;
  readonly accepted: number;
  /** Accepted records back at least once: a record is pushed (or fetchable) only once stored. */
  readonly stored: number;
  /** Accepted records back, each counted once (pushed live, or fetched after a gap). */
  readonly pushed: number;
  /** Of those, records fetched because a missed frame or a reconnect said to. */
  readonly recovered: number;
  /** Pushes that repeated a record already back: allowed (at least once), deduplicated by id. */
  readonly duplicates: number;
  readonly failedRequests: number;
  readonly failedRecords: number;
  readonly uploadMs: number;
  /** One per accepted request. */
  readonly latenciesMs: readonly number[];
  readonly lastAnswerToLastPushMs: number | undefined;
  readonly interrupted: boolean;
  /** The socket closed before the pushes were all in. */
  readonly socketLost: boolean;
}

/** The summary table. */
export function summaryTable(r: RunReport): string {
  const requests = r.latenciesMs.length + r.failedRequests;
  const rate = r.uploadMs > 0 ? `${((r.accepted / r.uploadMs) * 1000).toFixed(1)} records/s` : 'n/a';
  return formatTable([
    ['requested', `${r.options.count} records, ${r.options.concurrency} workers, batch size ${r.options.batchSize}`],
    ['accepted', String(r.accepted)],
    ['stored', `${r.stored}  (accepted records back over the monitoring protocol: a record comes back once stored)`],
    ['pushed live', String(r.pushed - r.recovered)],
    ['fetched after a gap', `${r.recovered}  (a missed frame or a reconnect named them)`],
    ['repeats deduplicated', `${r.duplicates}  (pushes are at least once; the client keeps each id once)`],
    ['failed uploads', `${r.failedRequests} requests, ${r.failedRecords} records`],
    ['upload phase', `${formatMs(r.uploadMs)}, ${requests} requests`],
    ['accept rate', rate],
    ['accept latency p50', formatMs(percentile(r.latenciesMs, 50))],
    ['accept latency p99', formatMs(percentile(r.latenciesMs, 99))],
    // Until every record is back, the last push seen says nothing about the pipeline's lag.
    ['last answer → last push', r.stored < r.accepted ? 'n/a (not every record came back)' : formatMs(r.lastAnswerToLastPushMs)],
  ]);
}

/** What keeps the run from passing; empty when every record was accepted and came back. */
export function shortfalls(r: RunReport): string[] {
  const out: string[] = [];
  if (r.accepted < r.options.count) {
    out.push(`${r.options.count - r.accepted} of ${r.options.count} records were not accepted${r.interrupted ? ' (interrupted)' : ''}`);
  }
  if (r.stored < r.accepted) {
    const missing = `${r.accepted - r.stored} accepted records were not pushed back`;
    if (r.interrupted) out.push(`${missing} before the interrupt`);
    else if (r.socketLost) out.push(`${missing} before the WebSocket closed`);
    else out.push(`${missing} within ${r.options.timeoutS} s; look for batch-writer errors in the stack's log`);
  }
  return out;
}

/** The analysis answer of `GET /api/data/swing-analyze`. */
export interface SwingAnswer {
  readonly start_time: string;
  readonly end_time: string;
  readonly signals: readonly { time: string; signal: 'positive' | 'negative'; average: number }[];
  readonly message: string | null;
}

/** The window the demo's records cover: its first minute to its last, both included. */
export function analysisWindow(startMs: number, count: number): { start_time: string; end_time: string } {
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  return { start_time: iso(startMs), end_time: iso(startMs + Math.max(0, count - 1) * 60_000) };
}

/** The analysis for people: counts, then the first signals. */
export function formatAnalysis(answer: SwingAnswer, shown = 10): string {
  const head = `Swing analysis of ${answer.start_time} .. ${answer.end_time} (an admin sees every user's records in it)`;
  if (answer.message) return `${head}\n  ${answer.message}`;
  const positive = answer.signals.filter((s) => s.signal === 'positive').length;
  const lines = answer.signals.slice(0, shown).map((s) => `  ${s.time}  ${s.signal.padEnd(8)}  average ${s.average.toFixed(2)}`);
  const more = answer.signals.length > shown ? [`  … and ${answer.signals.length - shown} more`] : [];
  return [`${head}\n  ${answer.signals.length} signals: ${positive} positive, ${answer.signals.length - positive} negative`, ...lines, ...more].join('\n');
}
