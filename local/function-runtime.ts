/**
 * Lambda's execution model on one machine: each function runs its built bundle in execution
 * environments of its own (worker threads, each with its own environment variables and module
 * state), one invocation at a time per environment. A new environment starts (a cold start)
 * when every other is busy, up to a limit; further invocations wait for one to come free. An
 * invocation that runs past its deadline ends its environment, as Lambda ends it, and so does
 * an uncaught error; one left idle is reclaimed after a while. Each line a function writes is
 * printed with the function's name.
 */
import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { type MessagePort, Worker } from 'node:worker_threads';
import type { FunctionName } from '../lambdas/functions';
import { InvocationTimeoutError, type LambdaHandler } from './invoke';

const WORKER_SCRIPT = new URL('./function-worker.mjs', import.meta.url);

/** Lambda's limit on the init phase (importing the module). */
const INIT_TIMEOUT_MS = 10_000;

export interface FunctionRuntimeOptions {
  readonly name: FunctionName;
  /** The function's built bundle (`index.mjs`), which exports `handler`. */
  readonly bundle: string;
  /** The function's whole environment: nothing else from this process reaches it. */
  readonly env: Readonly<Record<string, string>>;
  /** The function's memory size; its environments' heap is limited to it. */
  readonly memoryMb: number;
  /** The function's own timeout; a caller's shorter deadline (a gateway's) wins. */
  readonly timeoutMs: number;
  /** Environments at most, so invocations at once. */
  readonly maxEnvironments: number;
  /**
   * An environment idle this long is ended, as Lambda reclaims idle environments; the next
   * invocation starts cold. It keeps the memory of a burst from staying. @default 120000
   */
  readonly idleTimeoutMs?: number;
  /** Where the function's log lines go, already prefixed with its name. @default stdout */
  readonly output?: (line: string) => void;
  /**
   * A channel to the embedded queue for each new environment, over which the function sends its
   * records (queue-channel.ts). @default - none: over SQS's API
   */
  readonly queueChannel?: () => MessagePort | undefined;
  /** A new channel to the WebSocket gateway for each environment, over which it posts frames (ws-management.ts). */
  readonly postChannel?: () => MessagePort | undefined;
}

/** A failure inside a function, carrying the type and message the function threw. */
export class FunctionError extends Error {
  constructor(
    readonly functionName: FunctionName,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
    this.name = errorType;
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * V8's heap limits as Lambda's Node.js runtime sets them for a memory size: its bootstrap starts
 * node with `--max-semi-space-size` at 5 % of the memory and `--max-old-space-size` at 90 %. A
 * worker's young generation is three semi-spaces in V8. A larger young generation matters to a
 * fan-out, whose posts make short-lived garbage fast (bench fanout: a third less CPU than Node's
 * defaults).
 */
export function lambdaHeapLimits(memoryMb: number): { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } {
  const newSpace = Math.floor(memoryMb / 10);
  return { maxOldGenerationSizeMb: memoryMb - newSpace, maxYoungGenerationSizeMb: 3 * Math.floor(newSpace / 2) };
}

class Environment {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  pending?: Pending;
  gone = false;
  idleTimer?: NodeJS.Timeout;
  /** The environment's CPU time as of its last answer, in ms. */
  cpuMs = 0;

  constructor(options: FunctionRuntimeOptions, onGone: (env: Environment) => void) {
    const queueChannel = options.queueChannel?.();
    const postChannel = options.postChannel?.();
    this.worker = new Worker(WORKER_SCRIPT, {
      workerData: { bundle: options.bundle, functionName: options.name, memoryMb: options.memoryMb, queueChannel, postChannel },
      transferList: [queueChannel, postChannel].filter((port) => port !== undefined),
      env: { ...options.env },
      // The environment's own variables and streams, as a Lambda environment has.
      stdout: true,
      stderr: true,
      execArgv: ['--enable-source-maps'],
      resourceLimits: lambdaHeapLimits(options.memoryMb),
    });
    const print = options.output ?? ((line: string) => process.stdout.write(`${line}\n`));
    for (const stream of [this.worker.stdout, this.worker.stderr] as Readable[]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => print(`[${options.name}] ${line}`));
    }
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new FunctionError(options.name, 'Runtime.InitTimeout', `${options.name}: init took longer than ${INIT_TIMEOUT_MS} ms`)), INIT_TIMEOUT_MS);
      this.worker.on('message', (message: { type: string; id?: string; result?: unknown; error?: { name: string; message: string; stack?: string }; cpuMs?: number }) => {
        if (message.cpuMs !== undefined) this.cpuMs = message.cpuMs;
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (message.type === 'init-error') {
          clearTimeout(timer);
          print(`[${options.name}] init failed: ${message.error?.stack ?? message.error?.message}`);
          reject(new FunctionError(options.name, message.error?.name ?? 'Runtime.ImportModuleError', message.error?.message ?? 'init failed'));
        } else if (message.type === 'result' || message.type === 'error') {
          const pending = this.pending;
          this.pending = undefined;
          if (!pending) return;
          clearTimeout(pending.timer);
          if (message.type === 'result') pending.resolve(message.result);
          else pending.reject(new FunctionError(options.name, message.error?.name ?? 'Error', message.error?.message ?? 'failed'));
        }
      });
      const end = (error: Error) => {
        clearTimeout(timer);
        reject(error);
        this.end(error);
        onGone(this);
      };
      this.worker.on('error', (error) => {
        print(`[${options.name}] the environment failed: ${error.stack ?? error.message}`);
        end(new FunctionError(options.name, 'Runtime.ExitError', `${options.name}: ${error.message}`));
      });
      this.worker.on('exit', (code) => end(new FunctionError(options.name, 'Runtime.ExitError', `${options.name}: the environment exited (code ${code})`)));
    });
    // A failed init is reported to the invocation that waits on it.
    this.ready.catch(() => undefined);
  }

  /** Runs one invocation; the environment must be ready and idle. */
  run(event: unknown, timeoutMs: number, name: FunctionName): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        // Lambda ends an environment whose invocation timed out; its state is not reused.
        this.gone = true;
        void this.worker.terminate();
        reject(new InvocationTimeoutError(`${name} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending = { resolve, reject, timer };
      this.worker.postMessage({ type: 'invoke', id: randomUUID(), requestId: randomUUID(), event, deadline: Date.now() + timeoutMs });
    });
  }

  end(error: Error): void {
    if (this.gone) return;
    this.gone = true;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}

/** The execution environments of one function. */
export class FunctionRuntime {
  private readonly idle: Environment[] = [];
  private readonly all = new Set<Environment>();
  private readonly waiting: ((env: Environment | Error) => void)[] = [];
  private stopped = false;
  /** Environments started so far (cold starts). */
  coldStarts = 0;
  /** CPU time of the environments that have ended, in ms. */
  private endedCpuMs = 0;

  constructor(private readonly options: FunctionRuntimeOptions) {}

  /** A handler that invokes the function, with the caller's deadline as its timeout. */
  readonly handler: LambdaHandler = (event, context: Context) => this.invoke(event, context.getRemainingTimeInMillis());

  /**
   * Invokes the function once; rejects with its error, or when it runs past its own timeout
   * or the caller's `deadlineMs`, whichever comes first. As on Lambda, a cold start's init
   * does not count against the function's timeout, but it does against the caller's deadline
   * (an API Gateway integration timeout, say).
   */
  async invoke(event: unknown, deadlineMs = Infinity): Promise<unknown> {
    const started = Date.now();
    const env = await this.acquire();
    try {
      await env.ready;
    } catch (error) {
      this.discard(env);
      throw error;
    }
    const timeoutMs = Math.max(1, Math.min(this.options.timeoutMs, deadlineMs - (Date.now() - started)));
    try {
      return await env.run(event, timeoutMs, this.options.name);
    } finally {
      if (env.gone || this.stopped) this.discard(env);
      else this.release(env);
    }
  }

  /**
   * Starts environments ahead of any invocation, until `count` exist (at most the function's
   * own limit). Each is idle at once and reaped like any idle one; an invocation that takes it
   * before its init is done waits for it, as for a cold start, only shorter. Resolves once
   * every one started is ready or gone.
   */
  async prewarm(count: number): Promise<void> {
    const started: Promise<void>[] = [];
    while (!this.stopped && this.all.size < Math.min(count, this.options.maxEnvironments)) {
      const env = this.startEnvironment();
      // An init that fails ends the environment; the next invocation starts another.
      started.push(env.ready.catch(() => this.discard(env)));
      this.release(env);
    }
    await Promise.all(started);
  }

  /** Environments that exist right now. */
  get environments(): number {
    return this.all.size;
  }

  /**
   * CPU time the function's environments have used, in ms, as of each one's last answer (its
   * own thread's time: init, invocations, its GC). NaN where Node cannot tell a thread's time.
   */
  get cpuMs(): number {
    let total = this.endedCpuMs;
    for (const env of this.all) total += env.cpuMs;
    return total;
  }

  /** Ends every environment; invocations still running fail. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of this.waiting.splice(0)) wake(new Error(`${this.options.name} is stopping`));
    await Promise.all([...this.all].map((env) => env.worker.terminate()));
    this.all.clear();
    this.idle.length = 0;
  }

  private async acquire(): Promise<Environment> {
    if (this.stopped) throw new Error(`${this.options.name} is stopped`);
    const idle = this.idle.pop();
    if (idle) {
      clearTimeout(idle.idleTimer);
      return idle;
    }
    if (this.all.size < this.options.maxEnvironments) return this.startEnvironment();
    const next = await new Promise<Environment | Error>((resolve) => this.waiting.push(resolve));
    if (next instanceof Error) throw next;
    return next;
  }

  /** A new environment (a cold start), counted among this function's. */
  private startEnvironment(): Environment {
    const env = new Environment(this.options, (gone) => this.discard(gone));
    this.all.add(env);
    this.coldStarts++;
    return env;
  }

  private release(env: Environment): void {
    const wake = this.waiting.shift();
    if (wake) return wake(env);
    this.idle.push(env);
    env.idleTimer = setTimeout(() => this.discard(env), this.options.idleTimeoutMs ?? 120_000);
    env.idleTimer.unref();
  }

  private discard(env: Environment): void {
    clearTimeout(env.idleTimer);
    if (!this.all.delete(env)) return;
    this.endedCpuMs += env.cpuMs;
    const at = this.idle.indexOf(env);
    if (at >= 0) this.idle.splice(at, 1);
    void env.worker.terminate();
    // Someone waits for an environment: a fresh one takes the place of the one that ended.
    const wake = this.waiting.shift();
    if (wake && !this.stopped) wake(this.startEnvironment());
  }
}
