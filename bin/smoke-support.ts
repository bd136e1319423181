/**
 * The pure parts of `npm run smoke` (bin/smoke.ts): the arguments, the stack outputs file that
 * `cdk deploy --outputs-file` (or the running local stack) writes, who logs in, the records it
 * sends and the lines it prints. Nothing here does I/O, so all of it can be unit-tested.
 */
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatMs } from './demo-support';

/** The stack name the local stack writes into `<DATA_DIR>/outputs.json`. */
export const LOCAL_STACK_NAME = 'DataHandlerLocal';
/** How long to wait for the push and the query, against AWS (batch window, cold starts). */
export const AWS_TIMEOUT_S = 60;
/** The same against a stack on this machine, where a batch takes well under a second. */
export const LOCAL_TIMEOUT_S = 20;

/** What the command line asked for, before the outputs file is read. */
export interface SmokeArgs {
  /** The outputs file given with --outputs; undefined means "the local stack's, if it exists". */
  readonly outputs: string | undefined;
  readonly stack: string | undefined;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly timeoutS: number | undefined;
}

export type ParsedSmokeArgs =
  | { readonly kind: 'run'; readonly args: SmokeArgs }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'error'; readonly message: string };

const OPTIONS = {
  outputs: { type: 'string' },
  stack: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The local stack's outputs file: `<DATA_DIR>/outputs.json`, written while `npm start` runs. */
export function localOutputsFile(env: NodeJS.ProcessEnv): string {
  return path.join(env.DATA_DIR || '.data', 'outputs.json');
}

export function smokeUsage(env: NodeJS.ProcessEnv): string {
  return `Usage: npm run smoke -- [--outputs FILE] [--stack NAME] [--username U] [--password P] [--timeout S]

Checks a deployed (or the local) stack end to end through its public APIs: health, log in,
WebSocket connect, upload, the records pushed back over the socket, and queried back over HTTP.
Each step prints ✓ or ✗ with its duration; the first failure stops the run. Exit code 0 only
when every step passed.

Options:
  --outputs FILE   the file of \`cdk deploy --outputs-file FILE\` (default ${localOutputsFile(env)},
                   which the local stack writes while \`npm start\` runs)
  --stack NAME     the stack in FILE (default: the only one)
  --username U     required against AWS; locally defaults to the local user (env LOCAL_USERNAME, else parsa)
  --password P     prefer env SMOKE_PASSWORD (a flag shows in the process list); on a terminal
                   you are asked for it, without echo; locally defaults to the local password
  --timeout S      seconds to wait for the push and for the query (default ${AWS_TIMEOUT_S}, ${LOCAL_TIMEOUT_S} locally)
  -h, --help       show this help`;
}

/** Parses the arguments (without the node and script paths); every bad value is reported at once. */
export function parseSmokeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedSmokeArgs {
  let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    return { kind: 'error', message: `${(error as Error).message}\nRun \`npm run smoke -- --help\` to see the options.` };
  }
  if (values.help) return { kind: 'help', text: smokeUsage(env) };
  const problems: string[] = [];
  for (const flag of ['outputs', 'stack', 'username', 'password'] as const) {
    if (values[flag] === '') problems.push(`--${flag} must not be empty`);
  }
  let timeoutS: number | undefined;
  if (values.timeout !== undefined) {
    timeoutS = /^\d+(\.\d+)?$/.test(values.timeout) ? Number(values.timeout) : NaN;
    if (!(timeoutS > 0 && timeoutS <= 3600)) problems.push(`--timeout must be a number of seconds above 0, at most 3600 (got ${JSON.stringify(values.timeout)})`);
  }
  if (problems.length) return { kind: 'error', message: problems.join('\n') };
  return {
    kind: 'run',
    args: { outputs: values.outputs, stack: values.stack, username: values.username, password: values.password, timeoutS },
  };
}

/** The endpoints of one stack, taken from an outputs file. */
export interface SmokeTarget {
  readonly stack: string;
  /** The HTTP API's base URL, without a trailing slash (CDK's ends with one). */
  readonly httpUrl: string;
  /** The WebSocket API's URL as output (with its stage path on AWS). */
  readonly wsUrl: string;
  /** The API runs on this machine: the local user's defaults apply. */
  readonly local: boolean;
}

/** A problem with the setup (arguments, outputs file, credentials): exit code 2, no step ran. */
export class SmokeSetupError extends Error {
  override readonly name = 'SmokeSetupError';
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const listed = (names: readonly string[]) => (names.length ? names.join(', ') : 'none');

/**
 * The endpoints of `stack` (or of the only stack) in an outputs file's text, CDK's format:
 * `{ "<StackName>": { "HttpApiUrl": "https://…/", "WebSocketUrl": "wss://…/live", … } }`.
 * Throws a SmokeSetupError that names the file and what is missing.
 */
export function readSmokeTarget(text: string, file: string, stack?: string): SmokeTarget {
  let outputs: unknown;
  try {
    outputs = JSON.parse(text);
  } catch (error) {
    throw new SmokeSetupError(`${file} is not JSON (${(error as Error).message}); pass the file of \`cdk deploy --outputs-file\``);
  }
  if (!isRecord(outputs) || !Object.values(outputs).every(isRecord)) {
    throw new SmokeSetupError(`${file} is not a CDK outputs file: expected { "<StackName>": { "HttpApiUrl": "…", "WebSocketUrl": "…" } }`);
  }
  const stacks = Object.keys(outputs);
  let name: string;
  if (stack !== undefined) {
    if (!stacks.includes(stack)) throw new SmokeSetupError(`${file} has no stack ${JSON.stringify(stack)}; its stacks: ${listed(stacks)}`);
    name = stack;
  } else if (stacks.length === 1) {
    name = stacks[0]!;
  } else if (stacks.length === 0) {
    throw new SmokeSetupError(`${file} holds no stack outputs; deploy first with \`cdk deploy --outputs-file ${file}\``);
  } else {
    throw new SmokeSetupError(`${file} holds ${stacks.length} stacks (${listed(stacks)}): choose one with --stack NAME`);
  }
  const values = outputs[name] as Record<string, unknown>;
  const missing = (['HttpApiUrl', 'WebSocketUrl'] as const).filter((key) => typeof values[key] !== 'string' || values[key] === '');
  if (missing.length) {
    throw new SmokeSetupError(`stack ${JSON.stringify(name)} in ${file} has no ${missing.join(' or ')} output (it has: ${listed(Object.keys(values))}); is it a data-handler stack?`);
  }
  const httpUrl = checkedUrl(name, 'HttpApiUrl', values.HttpApiUrl as string, ['http:', 'https:']);
  const wsUrl = checkedUrl(name, 'WebSocketUrl', values.WebSocketUrl as string, ['ws:', 'wss:']);
  return { stack: name, httpUrl: httpUrl.replace(/\/+$/, ''), wsUrl, local: isLoopback(httpUrl) };
}

function checkedUrl(stack: string, key: string, value: string, protocols: readonly string[]): string {
  try {
    if (protocols.includes(new URL(value).protocol)) return value;
  } catch {
    // Reported below.
  }
  throw new SmokeSetupError(`the ${key} output of stack ${JSON.stringify(stack)} is not a ${protocols.map((p) => `${p}//`).join(' or ')} URL (got ${JSON.stringify(value)})`);
}

/** Whether a URL points at this machine. */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Who logs in. The local stack's user is the default only for a stack on this machine: on AWS
 * there is no default user, so --username is required. The password comes from --password,
 * then SMOKE_PASSWORD, then (locally) the local password; `undefined` means "ask on a terminal".
 */
export function smokeCredentials(target: SmokeTarget, args: SmokeArgs, env: NodeJS.ProcessEnv): { username: string; password: string | undefined } {
  const username = args.username ?? (target.local ? env.LOCAL_USERNAME || 'parsa' : undefined);
  if (username === undefined) {
    throw new SmokeSetupError(`--username is required for stack ${JSON.stringify(target.stack)}: a deployed stack has no default user (create one in its Cognito user pool)`);
  }
  const password = args.password ?? (env.SMOKE_PASSWORD || undefined) ?? (target.local ? env.LOCAL_PASSWORD || 'admin' : undefined);
  return { username, password };
}

/** The bound on the push and the query, in milliseconds. */
export function smokeTimeoutMs(target: SmokeTarget, args: SmokeArgs): number {
  return Math.round((args.timeoutS ?? (target.local ? LOCAL_TIMEOUT_S : AWS_TIMEOUT_S)) * 1000);
}

export const STEP_NAMES = ['health', 'log in', 'connect', 'upload', 'pushed', 'query back', 'close'] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface StepResult {
  readonly name: StepName;
  readonly ok: boolean;
  readonly ms: number;
  /** What was seen, or why the step failed. Never holds the password or the token. */
  readonly detail: string;
}

export interface SmokeReport {
  /** Every step ran and passed. */
  readonly ok: boolean;
  /** The steps that ran, in order; on failure the last one is the failed one. */
  readonly steps: readonly StepResult[];
  readonly totalMs: number;
}

/** One record as the upload API takes it (and as it comes back). */
export interface Marked {
  readonly data: number;
  readonly date: string;
}

/** A record of the read API or a records frame; only what the check compares. */
export interface Seen extends Marked {
  readonly id: string;
}

/** One step's line: `✓ health      12.3 ms  GET /health → 200`. */
export function stepLine(step: StepResult): string {
  const width = Math.max(...STEP_NAMES.map((n) => n.length));
  return `${step.ok ? '✓' : '✗'} ${step.name.padEnd(width)}  ${formatMs(step.ms).padStart(9)}  ${step.detail}`;
}

/** The last line: all passed, or where it stopped. */
export function summaryLine(report: SmokeReport): string {
  if (report.ok) return `✓ smoke check passed: all ${report.steps.length} steps in ${formatMs(report.totalMs)}`;
  const failed = report.steps[report.steps.length - 1];
  return `✗ smoke check failed at step ${report.steps.length} of ${STEP_NAMES.length} (${failed?.name}) after ${formatMs(report.totalMs)}`;
}

/**
 * Marked records: dates of now with distinct microseconds (never a zero fraction, so the API
 * writes them back exactly as sent) and random int32 data, so this run's records are its own.
 */
export function markedRecords(count: number, nowMs = Date.now()): Marked[] {
  return Array.from({ length: count }, (_, i) => {
    const micros = String(randomInt(1, 1000)).padStart(3, '0');
    return { data: randomInt(-(2 ** 31), 2 ** 31), date: new Date(nowMs + i).toISOString().replace(/Z$/, `${micros}Z`) };
  });
}

/** The JSON value of `text`, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A body on one line: JSON compacted, anything else trimmed; long bodies cut. */
export function oneLine(text: string): string {
  const json = parseJson(text);
  const flat = json === undefined ? text.replace(/\s+/g, ' ').trim() : JSON.stringify(json);
  return flat.length > 500 ? `${flat.slice(0, 500)}…` : flat;
}
