/**
 * What running the system needs beyond a successful deploy: a connection budget that holds,
 * alarms that reach someone, logs that can be queried and expire, and the login surface kept
 * small.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_POOL_SIZE, READER_POOL_SIZE } from '../../lambdas/functions';
import { maxConcurrencyFor } from '../../lib/constructs/batch-writer';
import { FUNCTION_NAME_TAG } from '../../lib/constructs/handler-function';
import { synth } from './stack';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };
const all = (template: Template, type: string) => Object.entries(template.findResources(type)) as [string, Resource][];
const fn = (template: Template, name: string) =>
  all(template, 'AWS::Lambda::Function').find(([, f]) => (f.Properties.Tags ?? []).some((t: any) => t.Key === FUNCTION_NAME_TAG && t.Value === name))![1];

describe('operations', () => {
  let template: Template;
  beforeAll(() => ({ template } = synth({ alarmEmail: 'ops@example.org' })));

  it('reserves concurrency for the readers and leaves the writer only the connections they cannot take', () => {
    const names = ['records-query', 'records-series', 'swing-analyze'];
    const readers = names.map((name) => fn(template, name).Properties.ReservedConcurrentExecutions as number);
    expect(readers).toEqual([5, 5, 5]);
    // Each reader environment holds one connection (it runs one statement at a time), a writer two.
    for (const name of names) expect(fn(template, name).Properties.Environment.Variables.DATABASE_POOL_MAX).toBe(String(READER_POOL_SIZE));
    expect(fn(template, 'batch-writer').Properties.Environment.Variables.DATABASE_POOL_MAX).toBe(String(FUNCTION_POOL_SIZE));
    // 80 connections − 10 kept free − 3 readers × 5 × 1 = 55, i.e. 27 writers of 2 connections.
    const writers = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))[0]!.Properties.ScalingConfig.MaximumConcurrency as number;
    expect(writers).toBe(27);
    expect(writers * FUNCTION_POOL_SIZE + readers.reduce((a, b) => a + b, 0) * READER_POOL_SIZE + 10).toBeLessThanOrEqual(80);
    // The health function connects as the reader role too, but holds no pool and reserves
    // nothing: its probes (one short connection per environment a second) come out of the 10 kept free.
    expect(fn(template, 'health').Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(fn(template, 'health').Properties.Environment.Variables.DATABASE_POOL_MAX).toBeUndefined();
    const { template: bigger } = synth({ dbMaxConnections: 200, readerConcurrency: 10 });
    expect(fn(bigger, 'records-query').Properties.ReservedConcurrentExecutions).toBe(10);
    expect(Object.values(bigger.findResources('AWS::Lambda::EventSourceMapping'))[0]!.Properties.ScalingConfig.MaximumConcurrency).toBe(maxConcurrencyFor(200, 30));
    expect(maxConcurrencyFor(200, 30)).toBe(80);
  });

  it('reserves nothing with readerConcurrency=0, for accounts too small to reserve, and then budgets no connections for readers', () => {
    const { template: unreserved } = synth({ readerConcurrency: 0 });
    expect(fn(unreserved, 'records-query').Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(Object.values(unreserved.findResources('AWS::Lambda::EventSourceMapping'))[0]!.Properties.ScalingConfig.MaximumConcurrency).toBe(35);
  });

  it('sends every alarm, and its return to OK, to one SNS topic that the context\'s email is subscribed to', () => {
    const [topicId] = all(template, 'AWS::SNS::Topic')[0]!;
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.org', TopicArn: { Ref: topicId } });
    const alarms = all(template, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(9);
    for (const [, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
    expect(template.findOutputs('AlarmTopicArn')).toBeDefined();
  });

  it('subscribes nobody when no alarm email is given', () => {
    synth().template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('alarms on HTTP API 5xx, SQS refusing sends, a failed migration, and the database\'s CPU, storage and connections', () => {
    const metrics = all(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const find = (namespace: string, name: string) => metrics.find((m) => m.Namespace === namespace && m.MetricName === name);
    expect(find('AWS/ApiGateway', '5xx')?.Dimensions).toEqual([{ Name: 'ApiId', Value: { Ref: expect.stringMatching(/^IngestApi/) } }]);
    for (const name of ['QueueUnavailable', 'MigrationFailed']) {
      expect(find('DataHandler', name)).toMatchObject({ Statistic: 'Sum', Threshold: 0, Dimensions: [{ Name: 'service', Value: 'data-handler' }] });
    }
    expect(find('AWS/RDS', 'CPUUtilization')?.Threshold).toBe(80);
    expect(find('AWS/RDS', 'FreeStorageSpace')).toMatchObject({ ComparisonOperator: 'LessThanThreshold', Threshold: 2 * 1024 ** 3 });
    expect(find('AWS/RDS', 'DatabaseConnections')?.Threshold).toBe(72);
  });

  it('writes JSON access logs on both APIs', () => {
    const stages = all(template, 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(2);
    for (const [, stage] of stages) {
      const line = JSON.parse(stage.Properties.AccessLogSettings.Format) as Record<string, string>;
      expect(line).toMatchObject({ requestId: '$context.requestId', status: '$context.status', routeKey: '$context.routeKey' });
    }
  });

  it('stores the database on gp3', () => {
    template.hasResourceProperties('AWS::RDS::DBInstance', { StorageType: 'gp3' });
  });

  it('expires every log: functions, APIs, flow logs, the provider framework, the rotation function and PostgreSQL', () => {
    const groups = all(template, 'AWS::Logs::LogGroup');
    for (const [, group] of groups) expect(group.Properties.RetentionInDays).toBe(30);
    // Every function of ours and the provider framework's logs to a group of the stack.
    for (const [, f] of all(template, 'AWS::Lambda::Function').filter(([id]) => !id.startsWith('LogRetention'))) {
      expect(f.Properties.LoggingConfig?.LogGroup).toEqual({ Ref: expect.any(String) });
    }
    // The PostgreSQL log group is created by RDS: CDK's log-retention resource sets its retention.
    template.hasResourceProperties('Custom::LogRetention', {
      LogGroupName: { 'Fn::Join': ['', ['/aws/rds/instance/', { Ref: Match.stringLikeRegexp('^DatabaseInstance') }, '/postgresql']] },
      RetentionInDays: 30,
    });
    // The rotation function's group exists before AWS's nested stack creates the function.
    const [appId, app] = all(template, 'AWS::Serverless::Application')[0]!;
    const rotationGroup = groups.find(([, g]) => g.Properties.LogGroupName === `/aws/lambda/${app.Properties.Parameters.functionName}`);
    expect(rotationGroup, appId).toBeDefined();
    expect(app.DependsOn).toContain(rotationGroup![0]);
  });

  it('turns OAuth off on the app client: no implicit or code grant, no example.com callback', () => {
    const [, client] = all(template, 'AWS::Cognito::UserPoolClient')[0]!;
    expect(client.Properties.AllowedOAuthFlows).toBeUndefined();
    expect(client.Properties.CallbackURLs).toBeUndefined();
    expect(client.Properties.AllowedOAuthFlowsUserPoolClient).toBe(false);
    expect(client.Properties.ExplicitAuthFlows).toEqual(['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']);
  });

  it('throttles POST /auth/token to 10 requests a second (burst 20) and GET /health to 20 (burst 40), once those routes exist', () => {
    const [, stage] = all(template, 'AWS::ApiGatewayV2::Stage').find(([, s]) => s.Properties.StageName === '$default')!;
    expect(stage.Properties.RouteSettings).toEqual({
      'POST /auth/token': { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
      'GET /health': { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
    for (const key of ['POST /auth/token', 'GET /health']) {
      const [routeId] = all(template, 'AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties.RouteKey === key)!;
      expect(stage.DependsOn).toContain(routeId);
    }
  });
});
