/**
 * The catalogue (lambdas/functions.ts) against the synthesized template: every catalogued
 * function is deployed exactly once, and the environment it is deployed with passes the very
 * schema its module reads at cold start. CloudFormation references in the template are replaced
 * by values of the shape they take at deploy time (a queue's Ref is its URL, an RDS endpoint a
 * host name, …), so a variable that would be missing or malformed on AWS fails here.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FUNCTION_SPECS, functionSpec, type FunctionName } from '../../lambdas/functions';
import { ObservabilityEnv } from '../../lambdas/shared/env';
import { FUNCTION_NAME_TAG } from '../../lib/constructs/handler-function';
import { synth, TEST_ENV } from './stack';

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

const PSEUDO: Record<string, string> = {
  'AWS::Region': TEST_ENV.region,
  'AWS::AccountId': TEST_ENV.account,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'Test',
};

/** What a `Ref` to a resource of this type evaluates to on AWS. */
function refValue(id: string, type: string): string {
  const name = id.toLowerCase();
  switch (type) {
    case 'AWS::SQS::Queue':
      return `https://sqs.${TEST_ENV.region}.amazonaws.com/${TEST_ENV.account}/${name}`;
    case 'AWS::SecretsManager::Secret':
      return `arn:aws:secretsmanager:${TEST_ENV.region}:${TEST_ENV.account}:secret:${name}-AbCdEf`;
    case 'AWS::Cognito::UserPool':
      return `${TEST_ENV.region}_${name.slice(0, 9)}`;
    case 'AWS::ApiGatewayV2::Api':
      return name.slice(0, 10);
    default:
      return name; // names and ids: tables, app clients, functions
  }
}

/** A plausible deploy-time value for a template value, or a failure naming what is not understood. */
function plausible(value: unknown, resources: Resources): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  const token = value as Record<string, any>;
  if ('Ref' in token) {
    const id = token.Ref as string;
    if (id in PSEUDO) return PSEUDO[id]!;
    const resource = resources[id];
    if (!resource) throw new Error(`Ref to unknown ${id}`);
    return refValue(id, resource.Type);
  }
  if ('Fn::GetAtt' in token) {
    const [id, attribute] = token['Fn::GetAtt'] as [string, string];
    if (/^Endpoint(\.Address)?$/.test(attribute)) return `${id.toLowerCase()}.abc123.${TEST_ENV.region}.rds.amazonaws.com`;
    if (attribute === 'Endpoint.Port') return '5432';
    if (attribute === 'Arn') return `arn:aws:${resources[id]?.Type.split('::')[1]?.toLowerCase()}:${TEST_ENV.region}:${TEST_ENV.account}:${id}`;
    throw new Error(`no plausible value for Fn::GetAtt ${id}.${attribute}`);
  }
  if ('Fn::Join' in token) {
    const [separator, parts] = token['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => plausible(p, resources)).join(separator);
  }
  throw new Error(`no plausible value for ${JSON.stringify(value)}`);
}

/** Every function of the catalogue in the template, by the tag HandlerFunction gives it. */
function deployedFunctions(template: Template) {
  const resources = template.toJSON().Resources as Resources;
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([id, r]) => ({
      id,
      name: (r.Properties.Tags ?? []).find((t: { Key: string }) => t.Key === FUNCTION_NAME_TAG)?.Value as FunctionName | undefined,
      variables: Object.fromEntries(
        Object.entries((r.Properties.Environment?.Variables ?? {}) as Record<string, unknown>).map(([k, v]) => [k, plausible(v, resources)]),
      ) as Record<string, string>,
    }))
    .filter((f) => f.name !== undefined);
}

/** Variables a function may carry beyond its schema: the runtime's and Powertools'. */
const PLATFORM_VARIABLES = new Set([...Object.keys(ObservabilityEnv.shape), 'NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS']);

describe.each([
  ['behind the proxy', {}],
  ['without the proxy', { useRdsProxy: false }],
])('the deployed functions (%s)', (_label, props) => {
  const deployed = deployedFunctions(synth(props).template);

  it('include every catalogued function exactly once, and nothing else under a catalogue name', () => {
    const names = deployed.map((f) => f.name!).sort();
    expect(names).toEqual(FUNCTION_SPECS.map((s) => s.name).sort());
  });

  it.each(FUNCTION_SPECS.map((s) => [s.name]))('give %s an environment that passes its catalogue schema', (name) => {
    const fn = deployed.find((f) => f.name === name)!;
    const result = functionSpec(name).env.safeParse(fn.variables);
    expect(result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
  });

  it.each(FUNCTION_SPECS.map((s) => [s.name]))('give %s its catalogue settings and no variable its schema does not read', (name) => {
    const spec = functionSpec(name);
    const { variables } = deployed.find((f) => f.name === name)!;
    expect(variables).toMatchObject(spec.settings);
    const unread = Object.keys(variables).filter((k) => !(k in spec.env.shape) && !PLATFORM_VARIABLES.has(k));
    expect(unread).toEqual([]);
  });
});
