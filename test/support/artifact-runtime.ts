/**
 * Runs synthesized bundles in local/function-runtime.ts (what `npm start` runs them in: worker
 * threads, each with its own environment), keeps each function's log lines, and measures cold
 * starts.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FunctionName } from '../../lambdas/functions';
import { FunctionRuntime } from '../../local/function-runtime';

export interface ArtifactInvocation {
  readonly name: FunctionName;
  /** The function's environment variables, whole. */
  readonly env: Readonly<Record<string, string>>;
  readonly bundle: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
}

export class ArtifactRunner {
  private readonly runtimes = new Map<string, FunctionRuntime>();
  /** Every line each function wrote, by runtime key. */
  readonly logs = new Map<string, string[]>();
  /** The first invocation of each runtime (a cold start: thread, import, run), in ms. */
  readonly coldStartMs = new Map<string, number>();


  /**
   * Invokes the function described by `fn` (one runtime per `key`, kept warm across calls);
   * rejects with its FunctionError as the runtime reports it.
   */
  async invoke(key: string, fn: ArtifactInvocation, event: unknown): Promise<unknown> {
    let runtime = this.runtimes.get(key);
    const cold = !runtime;
    if (!runtime) {
      const lines: string[] = [];
      this.logs.set(key, lines);
      runtime = new FunctionRuntime({
        name: fn.name,
        bundle: fn.bundle,
        env: fn.env,
        memoryMb: fn.memoryMb,
        timeoutMs: fn.timeoutSeconds * 1000,
        maxEnvironments: 1,
        output: (line) => lines.push(line),
      });
      this.runtimes.set(key, runtime);
    }
    const started = performance.now();
    try {
      return await runtime.invoke(event);
    } finally {
      if (cold) this.coldStartMs.set(key, performance.now() - started);
    }
  }

  /** The log lines of runtime `key`, as one text. */
  logText(key: string): string {
    return (this.logs.get(key) ?? []).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((r) => r.stop()));
    this.runtimes.clear();
  }
}

/**
 * Copies `bundle` to `dir` with its `handler` export renamed, as a broken build or a renamed
 * export would ship it; fails if the bundle has no `… as handler` export to break.
 */
export async function withoutHandlerExport(bundle: string, dir: string): Promise<string> {
  const code = await readFile(bundle, 'utf8');
  const broken = code.replace(/(export\s*\{[^}]*?)\bas handler\b/, '$1as notTheHandler');
  if (broken === code) throw new Error(`${bundle} has no "export { … as handler }" to break`);
  await mkdir(dir, { recursive: true });
  // Beside the original's folder level, so its imports (the SDK) still resolve from node_modules.
  const file = path.join(dir, 'index.mjs');
  await writeFile(file, broken);
  return file;
}
