/**
 * The wiring (lib/constructs/function-wiring.ts) as deployed: for every catalogued function, the
 * names of the variables its bindings and settings give it, and what its role may do on which
 * resource; the VPC for the functions the catalogue puts there, and the database's security
 * group admitting exactly the functions with a database binding. A binding that gains or loses
 * a variable or an action shows here by name. Resources are named by their logical IDs without
 * CDK's hash suffix.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { databaseRoleOf, FUNCTION_SPECS, functionSpec, type FunctionName } from '../../lambdas/functions';
import { FunctionWiring } from '../../lib/constructs/function-wiring';
import { FUNCTION_NAME_TAG } from '../../lib/constructs/handler-function';
import { CONNECTIONS_TABLE_ACTIONS } from '../../lib/constructs/monitoring-socket';
import { LocalStackStack } from '../../lib/localstack-stack';
import { synth, testApp } from './stack';

type Resource = { Type: string; Properties: Record<string, any> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** A resource of a statement, named by logical ID without CDK's hash suffix (`QueueRecords`). */
function label(value: unknown): string {
  if (typeof value === 'string') return value;
  const token = value as Record<string, any>;
  if ('Ref' in token) return String(token.Ref).replace(/[0-9A-F]{8}$/, '');
  if ('Fn::GetAtt' in token) return String(token['Fn::GetAtt'][0]).replace(/[0-9A-F]{8}$/, '');
  if ('Fn::Join' in token) return (token['Fn::Join'][1] as unknown[]).map(label).join(token['Fn::Join'][0]);
  throw new Error(`no label for ${JSON.stringify(value)}`);
}

/** What Powertools and source maps need, on every function alike (see HandlerFunction). */
const PLATFORM_VARIABLES = ['NODE_OPTIONS', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME'];
/** The network-interface actions Lambda needs to put a function in the VPC (resource `*`). */
const VPC_ACTIONS = [
  'ec2:AssignPrivateIpAddresses',
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSubnets',
  'ec2:DescribeVpcs',
  'ec2:UnassignPrivateIpAddresses',
];
const READ_SECRET = ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'];
const DATABASE = ['DATABASE_HOST', 'DATABASE_NAME', 'DATABASE_PORT', 'DATABASE_SECRET_ARN', 'DATABASE_SSL'];
const POST_TO_CONNECTIONS = 'arn:AWS::Partition:execute-api:eu-west-1:111111111111:MonitoringApi/live/*/@connections/*';
const reader = { variables: [...DATABASE, 'DATABASE_POOL_MAX'], grants: { DatabaseReaderSecretAttachment: READ_SECRET } };

/**
 * Each function's variables beyond the platform's, and its grants beyond its own log group and
 * the VPC's network interfaces: resource → actions.
 */
const EXPECTED: Record<FunctionName, { variables: string[]; grants: Record<string, string[]> }> = {
  ingest: {
    variables: ['IDEMPOTENCY_KEYS_TABLE', 'MAX_BODY_BYTES', 'QUEUE_URL'],
    grants: { IdempotencyKeysTable: ['dynamodb:GetItem', 'dynamodb:PutItem'], QueueRecords: ['sqs:SendMessage'] },
  },
  'records-query': reader,
  'records-series': reader,
  'swing-analyze': reader,
  'pipeline-status': {
    variables: ['DEAD_LETTER_QUEUE_URL', 'PIPELINE_STATE_TABLE', 'QUEUE_URL'],
    grants: {
      PipelineStateTable: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
      QueueDeadLetters: ['sqs:GetQueueAttributes'],
      QueueRecords: ['sqs:GetQueueAttributes'],
    },
  },
  openapi: { variables: [], grants: {} },
  'auth-token': {
    variables: ['COGNITO_CLIENT_ID', 'LOGIN_ATTEMPTS_TABLE'],
    grants: { LoginAttemptsTable: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] },
  },
  health: { variables: DATABASE, grants: { DatabaseReaderSecretAttachment: READ_SECRET } },
  'batch-writer': {
    variables: [...DATABASE, 'CONNECTIONS_ENDPOINT', 'CONNECTIONS_TABLE', 'DATABASE_POOL_MAX', 'PIPELINE_STATE_TABLE', 'PUSH_CONCURRENCY', 'QUEUE_MAX_RECEIVE_COUNT'],
    grants: {
      DatabaseWriterSecretAttachment: READ_SECRET,
      MonitoringConnections: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
      PipelineStateTable: ['dynamodb:PutItem'],
      // The event source's grant to consume, and the writer's own ChangeMessageVisibility.
      QueueRecords: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
      [POST_TO_CONNECTIONS]: ['execute-api:ManageConnections'],
    },
  },
  'ws-authorizer': { variables: ['JWT_AUDIENCE', 'JWT_ISSUER'], grants: {} },
  'ws-connect': { variables: ['CONNECTIONS_TABLE'], grants: { MonitoringConnections: ['dynamodb:PutItem'] } },
  'ws-disconnect': { variables: ['CONNECTIONS_TABLE'], grants: { MonitoringConnections: ['dynamodb:DeleteItem'] } },
  'ws-default': {
    variables: ['CONNECTIONS_ENDPOINT', 'CONNECTIONS_TABLE'],
    grants: { MonitoringConnections: ['dynamodb:UpdateItem'], [POST_TO_CONNECTIONS]: ['execute-api:ManageConnections'] },
  },
  migrate: {
    variables: [...DATABASE, 'DATABASE_READER_SECRET_ARN', 'DATABASE_WRITER_SECRET_ARN', 'MIGRATIONS_DIR'],
    grants: {
      DatabaseInstanceSecretAttachment: READ_SECRET,
      DatabaseReaderSecretAttachment: READ_SECRET,
      DatabaseWriterSecretAttachment: READ_SECRET,
    },
  },
  // The owner's secret only: it makes and drops partitions, and creates no role.
  maintain: {
    variables: [...DATABASE, 'PARTITIONS_AHEAD', 'PARTITION_SIZE'],
    grants: { DatabaseInstanceSecretAttachment: READ_SECRET },
  },
};

interface Deployed {
  readonly logicalId: string;
  readonly variables: string[];
  /** Resource → actions, every statement of the function's role. */
  readonly grants: Record<string, string[]>;
  readonly securityGroup?: string;
}

function deployed(resources: Record<string, Resource>): Map<FunctionName, Deployed> {
  const byName = new Map<FunctionName, Deployed>();
  for (const [logicalId, fn] of Object.entries(resources)) {
    const name = (fn.Properties.Tags ?? []).find((t: { Key: string }) => t.Key === FUNCTION_NAME_TAG)?.Value as FunctionName | undefined;
    if (fn.Type !== 'AWS::Lambda::Function' || !name) continue;
    const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
    const statements: Statement[] = [
      ...(resources[roleId]!.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement),
      ...Object.values(resources)
        .filter((p) => p.Type === 'AWS::IAM::Policy' && p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement),
    ];
    const grants: Record<string, Set<string>> = {};
    for (const s of statements) {
      expect(s.Effect).toBe('Allow');
      for (const resource of [s.Resource].flat()) for (const action of [s.Action].flat()) (grants[label(resource)] ??= new Set()).add(action);
    }
    byName.set(name, {
      logicalId,
      variables: Object.keys(fn.Properties.Environment?.Variables ?? {}).sort(),
      grants: Object.fromEntries(Object.entries(grants).map(([resource, actions]) => [resource, [...actions].sort()])),
      securityGroup: fn.Properties.VpcConfig?.SecurityGroupIds?.[0]?.['Fn::GetAtt']?.[0],
    });
  }
  return byName;
}

describe('the wiring of each catalogued function, as deployed', () => {
  let resources: Record<string, Resource>;
  let functions: Map<FunctionName, Deployed>;
  beforeAll(() => {
    resources = synth().template.toJSON().Resources;
    functions = deployed(resources);
  });

  it('deploys every function of the catalogue, and the table above covers each', () => {
    expect([...functions.keys()].sort()).toEqual(FUNCTION_SPECS.map((s) => s.name).sort());
    expect(Object.keys(EXPECTED).sort()).toEqual(FUNCTION_SPECS.map((s) => s.name).sort());
  });

  it.each(FUNCTION_SPECS.map((s) => [s.name]))('gives %s the variables of its bindings and settings, and no others', (name) => {
    const { variables } = functions.get(name)!;

    expect(variables).toEqual([...PLATFORM_VARIABLES, ...EXPECTED[name].variables].sort());
  });

  it.each(FUNCTION_SPECS.map((s) => [s.name]))('allows %s the actions of its bindings on their resources, its own log group, and nothing else', (name) => {
    const { grants, logicalId } = functions.get(name)!;
    const inVpc = functionSpec(name).inVpc;

    const { '*': anywhere, ...onResources } = grants;
    const logs = Object.keys(onResources).filter((r) => r.endsWith('FunctionLogs'));
    const rest = Object.fromEntries(Object.entries(onResources).filter(([r]) => !logs.includes(r)));

    expect(logs).toEqual([logicalId.replace(/[0-9A-F]{8}$/, 'Logs')]);
    expect(onResources[logs[0]!]).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(anywhere).toEqual(inVpc ? VPC_ACTIONS : undefined);
    expect(rest).toEqual(EXPECTED[name].grants);
  });

  it('lets the database (through its proxy) admit on 5432 exactly the functions with a database binding', () => {
    const admitted = Object.values(resources)
      .filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress' && label(r.Properties.GroupId) === 'DatabaseProxySecurityGroup')
      .filter((r) => r.Properties.FromPort === 5432 && r.Properties.ToPort === 5432)
      .map((r) => label(r.Properties.SourceSecurityGroupId))
      .sort();
    const withDatabase = FUNCTION_SPECS.filter((s) => databaseRoleOf(s)).map((s) => functions.get(s.name)!.securityGroup!.replace(/[0-9A-F]{8}$/, ''));

    expect(admitted).toEqual(withDatabase.sort());
    expect(FUNCTION_SPECS.filter((s) => functions.get(s.name)!.securityGroup).map((s) => s.name)).toEqual(FUNCTION_SPECS.filter((s) => s.inVpc).map((s) => s.name));
  });
});

describe("the LocalStack stack's writer", () => {
  it('is built through the same wiring as on AWS: the same variables bar the database URL, the same table and queue actions, no VPC', () => {
    // Arrange
    const localStack = new LocalStackStack(testApp(), 'Local', { env: { account: '000000000000', region: 'us-east-1' } });
    const local = deployed(Template.fromStack(localStack).toJSON().Resources).get('batch-writer')!;
    const aws = deployed(synth().template.toJSON().Resources).get('batch-writer')!;
    const database = (variable: string) => variable.startsWith('DATABASE_') || variable === 'NODE_EXTRA_CA_CERTS';
    const dataActions = (fn: Deployed) => Object.values(fn.grants).flat().filter((a) => /^(dynamodb|sqs):/.test(a)).sort();

    // Assert
    expect(local.variables.filter((v) => !database(v))).toEqual(aws.variables.filter((v) => !database(v)));
    expect(local.variables.filter(database)).toEqual(['DATABASE_POOL_MAX', 'DATABASE_URL']);
    expect(dataActions(local)).toEqual(dataActions(aws));
    expect(dataActions(local)).toEqual(expect.arrayContaining([...CONNECTIONS_TABLE_ACTIONS.manage]));
    expect(local.securityGroup).toBeUndefined();
  });
});

describe('a wiring without the resource a binding needs', () => {
  it('refuses to build the function, naming the function, the resource and the binding', () => {
    // Arrange
    const stack = new Stack(testApp(), 'Bare');
    const wiring = new FunctionWiring({});

    // Act
    const build = () => wiring.function(stack, 'ingest');

    // Assert
    expect(build).toThrow('FunctionWiring: ingest needs the queue for its enqueue-records binding, and this wiring has none');
  });
});
