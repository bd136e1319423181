/**
 * One synthesized stack for the infrastructure tests, without bundling (no esbuild, no Docker).
 * The app gets cdk.json's context (its feature flags), as `cdk synth` gives it to bin/app.ts.
 */
import { App, type Environment } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import { DataHandlerStack, type DataHandlerStackProps } from '../../lib/data-handler-stack';

/** cdk.json's context: the feature flags the real app synthesizes with. */
export const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;

/** The test account and region. */
export const TEST_ENV = { account: '111111111111', region: 'eu-west-1' } as const satisfies Environment;

/**
 * A test app: cdk.json's context, no bundling, plus `context`. Its cloud assembly goes to the
 * run's scratch directory (test/support/scratch-setup.ts), which is removed when the run ends.
 */
export function testApp(context: Record<string, unknown> = {}): App {
  const outdir = mkdtempSync(path.join(inject('scratchDir'), 'cdk.out-'));
  return new App({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });
}

type Synthesized = { app: App; stack: DataHandlerStack; template: Template };

/**
 * Stacks synthesized with plain props, by their JSON: the tests of a worker share them (the fast
 * tier runs its files in one module graph per worker), so the default stack is built once per
 * worker rather than once per file. Treat what `synth` returns as read-only.
 */
const synthesized = new Map<string, Synthesized>();

/** The props as a cache key, when they are plain data (no Duration, InstanceType or other object). */
function plainKey(props: DataHandlerStackProps): string | undefined {
  const plain = (value: unknown): boolean =>
    value === null || ['string', 'number', 'boolean', 'undefined'].includes(typeof value) ||
    (Array.isArray(value) && value.every(plain)) ||
    (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype && Object.values(value as object).every(plain));
  return plain(props) ? JSON.stringify(props) : undefined;
}

export function synth(props: DataHandlerStackProps = {}, options: { app?: App; id?: string } = {}): Synthesized {
  const key = options.app || options.id ? undefined : plainKey(props);
  const cached = key === undefined ? undefined : synthesized.get(key);
  if (cached) return cached;
  const app = options.app ?? testApp();
  const stack = new DataHandlerStack(app, options.id ?? 'Test', { env: TEST_ENV, ...props });
  const built = { app, stack, template: Template.fromStack(stack) };
  if (key !== undefined) synthesized.set(key, built);
  return built;
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** Every statement of every policy attached to the role of the function with this logical id prefix. */
export function statementsOf(template: Template, roleLogicalIdPrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const roles = template.findResources('AWS::IAM::Role');
  const roleIds = Object.keys(roles).filter((id) => id.startsWith(roleLogicalIdPrefix));
  if (roleIds.length !== 1) throw new Error(`expected one role starting ${roleLogicalIdPrefix}, found ${roleIds.join(', ') || 'none'}`);
  const roleId = roleIds[0]!;
  const inline = (roles[roleId]!.Properties.Policies ?? []).flatMap((p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement);
  const attached = Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  return [...inline, ...attached];
}

export const actions = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat()).sort();
