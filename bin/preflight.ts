/**
 * The deploy's pre-flight: does the account's Lambda concurrency quota admit the reserved
 * concurrency the synthesized templates ask for? Lambda refuses any reservation that would leave
 * fewer than 100 executions unreserved, and CloudFormation finds out only halfway through the
 * deploy, then rolls it back. A new account's quota is often 10, so there any reservation fails.
 * `npm run deploy` (bin/deploy.ts) runs this between `cdk synth` and `cdk deploy`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describeError } from './demo-support';
import { readAccountConcurrency, readHeldReservations, type AccountConcurrency, type PreflightClients } from './preflight-aws';

export { preflightClients, readAccountConcurrency, readHeldReservations, type AccountConcurrency, type PreflightClientOptions, type PreflightClients } from './preflight-aws';

/** Lambda keeps this many of an account's concurrent executions unreserved, in every region. */
export const UNRESERVED_MINIMUM = 100;

/** One stack of a cloud assembly, its template parsed. */
export interface AssemblyStack {
  readonly stackName: string;
  /** Where it deploys; undefined for an environment-agnostic stack (the SDK's default region). */
  readonly region: string | undefined;
  readonly template: unknown;
}

interface ManifestArtifact {
  readonly type?: string;
  readonly environment?: string;
  readonly properties?: { readonly templateFile?: string; readonly stackName?: string };
}

/** The stacks of the cloud assembly in `dir` (as `cdk synth` wrote it), read by its manifest. */
export function readCloudAssembly(dir: string): AssemblyStack[] {
  const manifest: unknown = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  return stacksOfManifest(manifest).map(({ templateFile, ...stack }) => ({
    ...stack,
    template: JSON.parse(readFileSync(path.join(dir, templateFile), 'utf8')),
  }));
}

/** The CloudFormation stacks a cloud assembly manifest lists: name, region and template file. */
export function stacksOfManifest(manifest: unknown): { stackName: string; region: string | undefined; templateFile: string }[] {
  const artifacts = (manifest as { artifacts?: Record<string, ManifestArtifact> } | null)?.artifacts ?? {};
  return Object.entries(artifacts)
    .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack')
    .map(([id, artifact]) => {
      const templateFile = artifact.properties?.templateFile;
      if (!templateFile) throw new Error(`manifest.json: stack ${id} names no templateFile`);
      // The artifact id is the stack's name unless the manifest says otherwise.
      const region = /^aws:\/\/[^/]+\/(.+)$/.exec(artifact.environment ?? '')?.[1];
      return { stackName: artifact.properties?.stackName ?? id, region: region === 'unknown-region' ? undefined : region, templateFile };
    });
}

/** A function's reserved concurrency, as a template asks for it. */
export interface Reservation {
  readonly stackName: string;
  readonly logicalId: string;
  readonly reserved: number;
}

/** An event source mapping's ScalingConfig.MaximumConcurrency. */
export interface EventSourceCeiling {
  readonly stackName: string;
  readonly logicalId: string;
  readonly maximumConcurrency: number;
}

/** What templates ask of the account's concurrency. */
export interface TemplateDemand {
  readonly reservations: Reservation[];
  readonly ceilings: EventSourceCeiling[];
  /** `Stack/LogicalId` of reservations that are no literal number (an intrinsic): not counted. */
  readonly uncounted: string[];
}

type Resources = Record<string, { Type?: string; Properties?: Record<string, unknown> }>;

/** The reservations and event-source ceilings of the stacks' templates. */
export function templateDemand(stacks: readonly Pick<AssemblyStack, 'stackName' | 'template'>[]): TemplateDemand {
  const demand: TemplateDemand = { reservations: [], ceilings: [], uncounted: [] };
  for (const { stackName, template } of stacks) {
    const resources = ((template as { Resources?: Resources } | null)?.Resources ?? {}) as Resources;
    for (const [logicalId, resource] of Object.entries(resources)) {
      const properties = resource.Properties ?? {};
      if (resource.Type === 'AWS::Lambda::Function' && properties.ReservedConcurrentExecutions !== undefined) {
        const reserved = literalNumber(properties.ReservedConcurrentExecutions);
        if (reserved === undefined) demand.uncounted.push(`${stackName}/${logicalId}`);
        // A reservation of 0 switches a function off and takes nothing from the account.
        else if (reserved > 0) demand.reservations.push({ stackName, logicalId, reserved });
      }
      const maximum = literalNumber((properties.ScalingConfig as { MaximumConcurrency?: unknown } | undefined)?.MaximumConcurrency);
      if (resource.Type === 'AWS::Lambda::EventSourceMapping' && maximum !== undefined) {
        demand.ceilings.push({ stackName, logicalId, maximumConcurrency: maximum });
      }
    }
  }
  return demand;
}

function literalNumber(value: unknown): number | undefined {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}

/** Whether the reservations fit, and the smallest quota they would fit in. */
export interface ConcurrencyVerdict {
  readonly ok: boolean;
  readonly account: AccountConcurrency;
  /** Reserved by the templates. */
  readonly requested: number;
  /** Reserved by these stacks' functions now: the deploy gives it back before it takes anew. */
  readonly held: number;
  /** Reserved by functions outside these stacks. */
  readonly others: number;
  readonly neededQuota: number;
}

/**
 * The reservations fit when what stays unreserved after the deploy is at least 100:
 * `unreserved + held - requested >= 100`. A template reserving nothing always fits (a quota
 * of 10 leaves only 10 unreserved, and that is no reason to refuse it).
 */
export function concurrencyVerdict(account: AccountConcurrency, requested: number, held = 0): ConcurrencyVerdict {
  const free = account.unreserved + held - UNRESERVED_MINIMUM;
  return {
    ok: requested === 0 || requested <= free,
    account,
    requested,
    held,
    others: Math.max(0, account.quota - account.unreserved - held),
    neededQuota: account.quota + Math.max(0, requested - free),
  };
}

/** Why the deploy is refused, and the two ways out. */
export function refusalMessage(region: string, verdict: ConcurrencyVerdict, reservations: readonly Reservation[]): string {
  const several = new Set(reservations.map((r) => r.stackName)).size > 1;
  const names = reservations.map((r) => (several ? `${r.stackName}/${r.logicalId}` : r.logicalId));
  const width = Math.max(...names.map((n) => n.length));
  const { account, neededQuota } = verdict;
  return [
    `Lambda concurrency pre-flight: this deploy would fail in ${region}, so nothing was deployed.`,
    `  The account's quota is ${account.quota} concurrent executions, and Lambda keeps ${UNRESERVED_MINIMUM} of them unreserved.`,
    `  The template reserves ${verdict.requested}:`,
    ...reservations.map((r, i) => `    ${names[i]!.padEnd(width)}  ${r.reserved}`),
    ...(verdict.held > 0 ? [`  (its stack holds ${verdict.held} of them already)`] : []),
    ...(verdict.others > 0 ? [`  Other functions of the account reserve ${verdict.others}.`] : []),
    `  The quota must be at least ${neededQuota}. Either:`,
    `    - ask for an increase in Service Quotas: "Lambda → Concurrent executions" (${region}), to at least ${neededQuota}; or`,
    '    - deploy without `-c readerConcurrency` (or with `-c readerConcurrency=0`): the stack then reserves nothing.',
  ].join('\n');
}

/** Event sources whose MaximumConcurrency the account's quota can never let them reach. */
export function ceilingWarnings(region: string, account: AccountConcurrency, ceilings: readonly EventSourceCeiling[]): string[] {
  return ceilings
    .filter((c) => c.maximumConcurrency > account.quota)
    .map(
      (c) =>
        `warning: ${c.logicalId} (${c.stackName}) may run ${c.maximumConcurrency} invocations at once (ScalingConfig.MaximumConcurrency), ` +
        `but the account's quota in ${region} is ${account.quota} concurrent executions, so it can never reach that. ` +
        `Lower it with \`-c maxConcurrency=${Math.max(2, account.quota)}\`, or ask for a higher quota.`,
    );
}

/** One line of the pre-flight's report. */
export interface PreflightLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly text: string;
}

/** The report: `ok` false means "do not deploy". */
export interface PreflightOutcome {
  readonly ok: boolean;
  readonly lines: PreflightLine[];
}

/** A read that failed, with what it was to read. */
class PreflightReadError extends Error {
  override readonly name = 'PreflightReadError';
  constructor(readonly what: string, cause: unknown) {
    super(`could not read ${what}: ${describeError(cause)}`, { cause });
  }
}

async function read<T>(what: string, deadlineMs: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // The clients' own deadlines cover each request; this one covers finding credentials too.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${deadlineMs / 1000} s`)), deadlineMs);
  });
  try {
    return await Promise.race([work(), deadline]);
  } catch (error) {
    throw new PreflightReadError(what, error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks each region's reservations against its quota. The stack's own reservations are read
 * only when the quota alone does not admit the template. A read that fails is one warning and
 * no verdict: `cdk deploy` then reports missing credentials itself.
 */
export async function runPreflight(
  stacks: readonly AssemblyStack[],
  clientsFor: (region: string | undefined) => PreflightClients,
  deadlineMs = 15_000,
): Promise<PreflightOutcome> {
  const lines: PreflightLine[] = [];
  let ok = true;
  for (const region of new Set(stacks.map((s) => s.region))) {
    const inRegion = stacks.filter((s) => s.region === region);
    const label = region ?? 'the default region';
    const demand = templateDemand(inRegion);
    for (const id of demand.uncounted) lines.push({ level: 'warn', text: `warning: ${id}'s ReservedConcurrentExecutions is no literal number; the pre-flight did not count it` });
    if (demand.reservations.length === 0 && demand.ceilings.length === 0) continue;
    const requested = demand.reservations.reduce((sum, r) => sum + r.reserved, 0);
    const clients = clientsFor(region);
    try {
      const account = await read(`the Lambda concurrency quota in ${label} (GetAccountSettings)`, deadlineMs, () => readAccountConcurrency(clients.lambda));
      let verdict = concurrencyVerdict(account, requested);
      if (!verdict.ok) {
        const names = inRegion.map((s) => s.stackName).join(', ');
        const held = await read(`the reservations held now by ${names} (ListStackResources, GetFunctionConcurrency)`, deadlineMs, () =>
          Promise.all(inRegion.map((s) => readHeldReservations(clients, s.stackName))),
        );
        verdict = concurrencyVerdict(account, requested, held.reduce((sum, n) => sum + n, 0));
      }
      lines.push(...ceilingWarnings(label, account, demand.ceilings).map((text) => ({ level: 'warn' as const, text })));
      if (verdict.ok) {
        lines.push({ level: 'info', text: `pre-flight: Lambda concurrency in ${label} fits (quota ${account.quota}, ${account.unreserved} unreserved, the template reserves ${requested})` });
      } else {
        ok = false;
        lines.push({ level: 'error', text: refusalMessage(label, verdict, demand.reservations) });
      }
    } catch (error) {
      if (!(error instanceof PreflightReadError)) throw error;
      const unchecked = [
        ...(requested > 0 ? [`the template's ${requested} reserved concurrent executions`] : []),
        ...(demand.ceilings.length > 0 ? ["the event sources' MaximumConcurrency"] : []),
      ].join(' and ');
      lines.push({ level: 'warn', text: `warning: the pre-flight ${error.message}, so ${unchecked} went unchecked against the quota. Deploying anyway.` });
    } finally {
      clients.lambda.destroy();
      clients.cloudFormation.destroy();
    }
  }
  return { ok, lines };
}
