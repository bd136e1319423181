/**
 * Synthesizes the real CDK app (bin/app.ts, with cdk.json's context and its cdk-nag checks) the
 * way `cdk synth` runs it: as a child process told where to write by CDK_OUTDIR, with the
 * account and region in CDK_DEFAULT_ACCOUNT/REGION. NodejsFunction bundles each function with
 * the local esbuild, so the cloud assembly holds the very files that would be uploaded.
 *
 * The assembly goes inside the project (node_modules/.cache): the bundles leave the AWS SDK
 * outside, as Lambda provides it, and must resolve it from the project's node_modules.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { FUNCTION_SPECS, type FunctionName, type FunctionSpec } from '../../lambdas/functions';
import { PROJECT_ROOT } from '../../lib/bundling';
import { FUNCTION_NAME_TAG } from '../../lib/constructs/handler-function';

/** A CloudFormation resource as the template holds it. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
  readonly Metadata?: Record<string, any>;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
}

/** One catalogued function as the assembly holds it. */
export interface FunctionArtifact {
  readonly spec: FunctionSpec;
  readonly logicalId: string;
  /** The asset folder: what Lambda unpacks into /var/task. */
  readonly assetDir: string;
  /** `<assetDir>/index.mjs`, which must export `handler`. */
  readonly bundle: string;
  /** Environment.Variables as the template says, references unresolved. */
  readonly variables: Readonly<Record<string, unknown>>;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
}

export interface SynthesizedApp {
  readonly outdir: string;
  readonly template: CfnTemplate;
  readonly account: string;
  readonly region: string;
  readonly functions: Readonly<Record<FunctionName, FunctionArtifact>>;
  /** How long the synth took, bundling included. */
  readonly synthMs: number;
  cleanup(): Promise<void>;
}

export const ARTIFACT_ACCOUNT = '111111111111';
export const ARTIFACT_REGION = 'eu-west-1';
const STACK_NAME = 'Artifacts';

function runApp(outdir: string): Promise<void> {
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const context = {
    ...cdkJson.context,
    // The CLI sets this too: each function's asset folder is named in its resource's Metadata.
    'aws:cdk:enable-asset-metadata': true,
    stackName: STACK_NAME,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'bin', 'app.ts')], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify(context),
        CDK_DEFAULT_ACCOUNT: ARTIFACT_ACCOUNT,
        CDK_DEFAULT_REGION: ARTIFACT_REGION,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`cdk synth (bin/app.ts) failed with code ${code}:\n${output.slice(-4000)}`))));
  });
}

/** Every Lambda function of the template that names `spec`: by its catalogue tag or its description. */
function candidates(template: CfnTemplate, spec: FunctionSpec): string[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .filter(([, r]) => {
      const tags = (r.Properties?.Tags ?? []) as { Key: string; Value: string }[];
      return tags.some((t) => t.Key === FUNCTION_NAME_TAG && t.Value === spec.name) || r.Properties?.Description === spec.description;
    })
    .map(([id]) => id);
}

/** The artifact of each catalogued function; fails naming any function missing or found twice. */
export function findFunctions(template: CfnTemplate, outdir: string): Record<FunctionName, FunctionArtifact> {
  const problems: string[] = [];
  const found: Partial<Record<FunctionName, FunctionArtifact>> = {};
  for (const spec of FUNCTION_SPECS) {
    const ids = candidates(template, spec);
    if (ids.length !== 1) {
      problems.push(`${spec.name}: ${ids.length === 0 ? 'no AWS::Lambda::Function' : `${ids.length} functions (${ids.join(', ')})`} tagged ${FUNCTION_NAME_TAG}=${spec.name} or described "${spec.description}"`);
      continue;
    }
    const logicalId = ids[0]!;
    const resource = template.Resources[logicalId]!;
    const assetPath = resource.Metadata?.['aws:asset:path'] as string | undefined;
    const assetDir = assetPath ? path.resolve(outdir, assetPath) : '';
    if (!assetPath || !existsSync(path.join(assetDir, 'index.mjs'))) {
      problems.push(`${spec.name} (${logicalId}): no bundled index.mjs at its asset path ${JSON.stringify(assetPath)}`);
      continue;
    }
    found[spec.name] = {
      spec,
      logicalId,
      assetDir,
      bundle: path.join(assetDir, 'index.mjs'),
      variables: (resource.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>,
      memoryMb: Number(resource.Properties?.MemorySize ?? 128),
      timeoutSeconds: Number(resource.Properties?.Timeout ?? 3),
    };
  }
  if (problems.length) throw new Error(`The synthesized template does not hold each catalogued function once:\n- ${problems.join('\n- ')}`);
  return found as Record<FunctionName, FunctionArtifact>;
}

/** Synthesizes the app into a fresh folder of the project's cache; `cleanup` removes it. */
export async function synthesizeApp(): Promise<SynthesizedApp> {
  const outdir = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'data-handler', `artifacts-${randomBytes(4).toString('hex')}`);
  await mkdir(outdir, { recursive: true });
  const cleanup = () => rm(outdir, { recursive: true, force: true });
  try {
    const started = performance.now();
    await runApp(outdir);
    const synthMs = performance.now() - started;
    const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
    };
    const stack = manifest.artifacts[STACK_NAME];
    if (stack?.type !== 'aws:cloudformation:stack' || !stack.properties?.templateFile) throw new Error(`the assembly has no stack ${STACK_NAME}`);
    const template = JSON.parse(readFileSync(path.join(outdir, stack.properties.templateFile), 'utf8')) as CfnTemplate;
    return { outdir, template, account: ARTIFACT_ACCOUNT, region: ARTIFACT_REGION, functions: findFunctions(template, outdir), synthMs, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
