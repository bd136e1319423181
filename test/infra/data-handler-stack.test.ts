import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxConcurrencyFor } from '../../lib/constructs/batch-writer';
import { DEFAULT_ENGINE_VERSION } from '../../lib/constructs/database';
import { FUNCTION_NAME_TAG } from '../../lib/constructs/handler-function';
import { HTTP_ROUTES } from '../../lambdas/routes';
import { actions, statementsOf, synth } from './stack';

describe('the DataHandler stack', () => {
  let built: ReturnType<typeof synth>;
  beforeAll(() => {
    built = synth();
  });

  it('feeds the batch writer from SQS with batch size, window, partial failures and a concurrency cap', () => {
    built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      // 80 connections, 10 kept free, 15 for the reader role (its connection limit): 27 writers of 2.
      ScalingConfig: { MaximumConcurrency: maxConcurrencyFor(80, 15) },
    });
    expect(maxConcurrencyFor(80, 15)).toBe(27);
  });

  it('derives the writer concurrency from the database connection budget', () => {
    expect(maxConcurrencyFor(80)).toBe(35); // no readers
    expect(maxConcurrencyFor(5000)).toBe(1000); // the event source's ceiling
    expect(maxConcurrencyFor(12)).toBe(2); // its floor
    const { template } = synth({ dbMaxConnections: 410, batchSize: 200 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 200, ScalingConfig: { MaximumConcurrency: 192 } });
  });

  it('sends failed messages to a DLQ after 5 receives, with a visibility timeout of six writer timeouts', () => {
    const queues = built.template.findResources('AWS::SQS::Queue');
    const main = Object.values(queues).find((q) => q.Properties.RedrivePolicy)!;
    const [dlqId] = Object.entries(queues).find(([, q]) => !q.Properties.RedrivePolicy)!;
    expect(main.Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 });
    expect(main.Properties.VisibilityTimeout).toBe(6 * 30);
    expect(queues[dlqId]!.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    for (const q of Object.values(queues)) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
  });

  it('refuses non-TLS access to both queues', () => {
    const policies = built.template.findResources('AWS::SQS::QueuePolicy');
    expect(Object.keys(policies)).toHaveLength(2);
    for (const p of Object.values(policies)) {
      expect(p.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('guards every data route with the Cognito JWT authorizer, as the shared route table says', () => {
    built.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Audience: [{ Ref: Match.stringLikeRegexp('IdentityUsersClient') }], Issuer: Match.anyValue() },
    });
    const routes = Object.values(built.template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    for (const route of HTTP_ROUTES) {
      const found = routes.find((r) => r.RouteKey === `${route.method} ${route.path}`);
      expect(found, `${route.method} ${route.path}`).toBeDefined();
      expect(found!.AuthorizationType).toBe(route.auth === 'jwt' ? 'JWT' : 'NONE');
    }
  });

  it('authorizes WebSocket connects with a Lambda REQUEST authorizer reading the token query parameter', () => {
    built.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.token'],
    });
    built.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$connect', AuthorizationType: 'CUSTOM' });
    built.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default', RouteResponseSelectionExpression: '$default' });
    built.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' });
  });

  it('keeps connections in an on-demand table with TTL on expiresAt and point-in-time recovery', () => {
    built.template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('runs PostgreSQL 17 encrypted, private, with TLS forced, rotated credentials and a TLS-only proxy', () => {
    built.template.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: DEFAULT_ENGINE_VERSION,
      AutoMinorVersionUpgrade: false,
      StorageEncrypted: true,
      PubliclyAccessible: false,
      BackupRetentionPeriod: 7,
      // Switched on after the first create (see deploy-blockers.test.ts).
      DeletionProtection: false,
    });
    built.template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Parameters: Match.objectLike({ 'rds.force_ssl': '1' }) });
    built.template.hasResourceProperties('AWS::RDS::DBProxy', { EngineFamily: 'POSTGRESQL', RequireTLS: true });
    // The master user's, and each application role's (see database-roles.test.ts).
    built.template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 3);
  });

  it('can run without the proxy, connecting functions to the instance', () => {
    const { template } = synth({ useRdsProxy: false });
    template.resourceCountIs('AWS::RDS::DBProxy', 0);
  });

  it('migrates the schema through a custom resource that reaches the database with verified TLS', () => {
    built.template.resourceCountIs('Custom::DataHandlerSchema', 1);
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MIGRATIONS_DIR: '/var/task/migrations', DATABASE_SSL: 'verify-full' }) },
    });
  });

  it('lets the ingest function send to the queue and claim idempotency keys, and do nothing else', () => {
    const statements = statementsOf(built.template, 'IngestFunctionRole');
    expect(actions(statements)).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage']);
    const send = statements.find((s) => s.Action === 'sqs:SendMessage')!;
    expect(send.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^QueueRecords/), 'Arn'] });
    const claim = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
    for (const s of claim) expect([s.Resource].flat()).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^IdempotencyKeysTable/), 'Arn'] }]);
  });

  it('lets the writer receive and delete on its own queue only, and manage connections on its stage only', () => {
    const statements = statementsOf(built.template, 'WriterFunctionRole');
    const sqs = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:')));
    expect(actions(sqs)).toEqual(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage']);
    for (const s of sqs) expect(s.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^QueueRecords/), 'Arn'] });
    const manage = statements.find((s) => s.Action === 'execute-api:ManageConnections')!;
    expect(JSON.stringify(manage.Resource)).toMatch(/\/live\/\*\/@connections\/\*/);
    const ddb = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
    // Scan to list, Get/Update to note and take missed frames, Delete for connections gone;
    // Put on the pipeline-state table only, to note its last batch and failure.
    const onConnections = ddb.filter((s) => !JSON.stringify(s.Resource).includes('PipelineState'));
    expect(actions(onConnections)).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem']);
    const onPipeline = ddb.filter((s) => JSON.stringify(s.Resource).includes('PipelineState'));
    expect(actions(onPipeline)).toEqual(['dynamodb:PutItem']);
    expect(statements.some((s) => s.Resource === '*' && [s.Action].flat().some((a) => !a.startsWith('ec2:')))).toBe(false);
  });

  it('gives the connect, disconnect and default functions one table action each', () => {
    expect(actions(statementsOf(built.template, 'MonitoringConnectFunctionRole')).filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:PutItem']);
    expect(actions(statementsOf(built.template, 'MonitoringDisconnectFunctionRole')).filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:DeleteItem']);
    // $default takes what a connection is owed (one update) and posts it on its own stage.
    const defaults = statementsOf(built.template, 'MonitoringDefaultFunctionRole');
    expect(actions(defaults).filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:UpdateItem']);
    expect(JSON.stringify(defaults.find((s) => s.Action === 'execute-api:ManageConnections')!.Resource)).toMatch(/\/live\/\*\/@connections\/\*/);
  });

  it("lets the pipeline status read both queues' counts and the writer's notes, and nothing else", () => {
    const statements = statementsOf(built.template, 'PipelineStatusFunctionRole');
    const sqs = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:')));
    expect(actions(sqs)).toEqual(['sqs:GetQueueAttributes']);
    const queues = sqs.flatMap((s) => [s.Resource].flat().map((r) => (r as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]));
    expect(queues.sort()).toEqual([expect.stringMatching(/^QueueDeadLetters/), expect.stringMatching(/^QueueRecords/)]);
    const ddb = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
    expect(actions(ddb)).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem']);
    for (const s of ddb) expect(JSON.stringify(s.Resource)).toMatch(/PipelineState/);
    expect(statements.some((s) => s.Resource === '*' && [s.Action].flat().some((a) => !a.startsWith('ec2:') && !a.startsWith('xray:')))).toBe(false);
  });

  it('runs the health function in the VPC as the reader role: its secret only, the database port, no reserved concurrency', () => {
    const resources = built.template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
    const [, health] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::Lambda::Function' && (r.Properties.Tags ?? []).some((t: { Key: string; Value: string }) => t.Key === FUNCTION_NAME_TAG && t.Value === 'health'))!;
    const statements = statementsOf(built.template, 'HealthFunctionRole');

    expect(health.Properties.VpcConfig?.SubnetIds).toBeDefined();
    expect(health.Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(health.Properties.MemorySize).toBe(256);
    expect(Object.keys(health.Properties.Environment.Variables)).toEqual(expect.arrayContaining(['DATABASE_HOST', 'DATABASE_SECRET_ARN', 'DATABASE_SSL']));
    expect(actions(statements).filter((a) => !a.startsWith('ec2:'))).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    const secrets = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('secretsmanager:'))).flatMap((s) => [s.Resource].flat());
    expect(secrets).toEqual([{ Ref: expect.stringMatching(/^DatabaseReaderSecret/) }]);
    // Its security group may reach the proxy on the database port, as the readers' do.
    const group = health.Properties.VpcConfig.SecurityGroupIds[0]['Fn::GetAtt'][0] as string;
    const egress = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress' && r.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === group);
    expect(egress.map((r) => r.Properties.GroupId['Fn::GetAtt'][0])).toEqual([expect.stringMatching(/^DatabaseProxySecurityGroup/)]);
  });

  it('runs every function on Node.js 22, arm64, with a log group that has a retention', () => {
    const functions = Object.values(built.template.findResources('AWS::Lambda::Function')).filter((f) =>
      (f.Properties.Tags ?? []).some((t: { Key: string }) => t.Key === FUNCTION_NAME_TAG),
    );
    expect(functions.length).toBe(15);
    for (const f of functions) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
      expect(f.Properties.Architectures).toEqual(['arm64']);
      expect(f.Properties.LoggingConfig?.LogGroup).toBeDefined();
    }
    built.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: Match.anyValue() });
  });

  it('alarms on the DLQ, the age of the oldest message and writer errors', () => {
    const alarms = Object.values(built.template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties.MetricName);
    expect(alarms).toEqual(expect.arrayContaining(['ApproximateAgeOfOldestMessage', 'ApproximateNumberOfMessagesVisible', 'Errors']));
    built.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('outputs the endpoints, the user pool, the CloudWatch dashboard and the hosted dashboard', () => {
    const outputs = Object.keys(built.template.findOutputs('*'));
    for (const name of ['HttpApiUrl', 'WebSocketUrl', 'UserPoolId', 'UserPoolClientId', 'DashboardName', 'DashboardUrl']) expect(outputs).toContain(name);
  });

  it('passes the AWS Solutions checks with every exception acknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(built.app);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });
});
