/**
 * Every catalogued function on this machine: its bundle, its environment from the local
 * bindings, and its execution environments (function-runtime.ts). The gateways, the event
 * source and the custom-resource step invoke functions only through here.
 */
import { FUNCTION_SPECS, functionSpec, type FunctionName } from '../lambdas/functions';
import { localEnvironment, type LocalResources } from './bindings';
import type { FunctionBundles } from './bundles';
import { FunctionRuntime } from './function-runtime';
import type { LambdaHandler } from './invoke';

export interface LocalFunctionsOptions {
  readonly bundles: FunctionBundles;
  readonly resources: LocalResources;
  /** Environments per function at most (so concurrent invocations of one function). */
  readonly maxEnvironments: number;
  /** How long an idle environment is kept. @default 120000 */
  readonly idleTimeoutMs?: number;
  /** Per-function overrides: the writer's concurrency and timeout follow the event source's settings. */
  readonly overrides?: Partial<Record<FunctionName, { maxEnvironments?: number; timeoutMs?: number }>>;
  /** Where the functions' log lines go (each prefixed with the function's name). @default stdout */
  readonly output?: (line: string) => void;
}

export class LocalFunctions {
  private readonly runtimes = new Map<FunctionName, FunctionRuntime>();

  constructor(options: LocalFunctionsOptions) {
    for (const spec of FUNCTION_SPECS) {
      const override = options.overrides?.[spec.name] ?? {};
      this.runtimes.set(
        spec.name,
        new FunctionRuntime({
          name: spec.name,
          bundle: options.bundles.files[spec.name],
          env: localEnvironment(spec, options.resources),
          // A function that sends records to the queue sends them over a channel to the embedded one.
          ...(spec.bindings.includes('enqueue-records') && options.resources.sqsChannel ? { queueChannel: options.resources.sqsChannel } : {}),
          // A function that pushes frames to monitors posts them over a channel to the WebSocket gateway.
          ...(spec.bindings.includes('push-to-connections') && options.resources.postChannel ? { postChannel: options.resources.postChannel } : {}),
          memoryMb: spec.memoryMb,
          timeoutMs: override.timeoutMs ?? spec.timeoutSeconds * 1000,
          maxEnvironments: override.maxEnvironments ?? options.maxEnvironments,
          ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
          ...(options.output ? { output: options.output } : {}),
        }),
      );
    }
  }

  /** One function's runtime. */
  runtime(name: FunctionName): FunctionRuntime {
    return this.runtimes.get(name)!;
  }

  /** Starts environments of the named functions ahead of their first invocations (FunctionRuntime.prewarm). */
  async prewarm(counts: Partial<Record<FunctionName, number>>): Promise<void> {
    await Promise.all((Object.entries(counts) as [FunctionName, number][]).map(([name, count]) => this.runtime(name).prewarm(count)));
  }

  /** CPU time each function's environments have used, in ms (function-runtime.ts). */
  cpuMs(): Record<FunctionName, number> {
    return Object.fromEntries([...this.runtimes].map(([name, runtime]) => [name, runtime.cpuMs])) as Record<FunctionName, number>;
  }

  /** The handlers of the functions a trigger kind serves, by name (for the gateways). */
  handlers(kinds: readonly string[]): Partial<Record<FunctionName, LambdaHandler>> {
    return Object.fromEntries(
      FUNCTION_SPECS.filter((s) => kinds.includes(s.trigger.kind)).map((s) => [s.name, this.runtime(s.name).handler]),
    );
  }

  /** Ends every environment of every function. */
  async stop(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((r) => r.stop()));
  }
}

/** How to run one custom-resource function on its own. */
export interface CustomResourceOptions {
  readonly bundles: FunctionBundles;
  /** What its bindings point at. */
  readonly resources: LocalResources;
  /** Where its log lines go (prefixed with its name). @default stdout */
  readonly output?: (line: string) => void;
}

/**
 * Runs a custom-resource function (the migration) as CloudFormation would on a stack create, in
 * an environment of its own that ends with it. It runs before the other functions exist: what
 * it does (the database roles) decides how they are wired.
 */
export async function runCustomResource(name: FunctionName, options: CustomResourceOptions): Promise<Record<string, string>> {
  const spec = functionSpec(name);
  if (spec.trigger.kind !== 'custom-resource') throw new Error(`${name} is not a custom resource`);
  const runtime = new FunctionRuntime({
    name,
    bundle: options.bundles.files[name],
    env: localEnvironment(spec, options.resources),
    memoryMb: spec.memoryMb,
    timeoutMs: spec.timeoutSeconds * 1000,
    maxEnvironments: 1,
    ...(options.output ? { output: options.output } : {}),
  });
  try {
    const result = (await runtime.invoke({
      RequestType: 'Create',
      ServiceToken: 'local',
      ResponseURL: 'http://127.0.0.1:1/',
      StackId: 'local',
      RequestId: 'local',
      LogicalResourceId: name,
      ResourceType: 'Custom::Local',
      ResourceProperties: { ServiceToken: 'local' },
    })) as { Data?: Record<string, string> } | null;
    return result?.Data ?? {};
  } finally {
    await runtime.stop();
  }
}
