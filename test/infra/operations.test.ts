/**
 * What running the system needs beyond a successful deploy: a connection budget that holds,
 * alarms that reach someone, logs that can be queried and expire, and the login surface kept
 * small.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_POOL_SIZE, READER_POOL_SIZE } from '../../lambdas/functions';
import { DATABASE_RESERVED_CONNECTIONS, maxConcurrencyFor, proxyMaxConnectionsPercent } from '../../lib/constructs/batch-writer';
import { FUNCTION_NAME_TAG } from '../../lib/constructs/handler-function';
import { synth } from './stack';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };
const all = (template: Template, type: string) => Object.entries(template.findResources(type)) as [string, Resource][];
const fn = (template: Template, name: string) =>
  all(template, 'AWS::Lambda::Function').find(([, f]) => (f.Properties.Tags ?? []).some((t: any) => t.Key === FUNCTION_NAME_TAG && t.Value === name))![1];

describe('operations', () => {
  let template: Template;
  beforeAll(() => ({ template } = synth({ alarmEmail: 'ops@example.org' })));

  it('reserves no concurrency by default, so a fresh account with a quota of 10 can deploy', () => {
    const reserved = all(template, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.ReservedConcurrentExecutions !== undefined);
    expect(reserved.map(([id]) => id)).toEqual([]);
  });

  it('keeps the connection budget with the reader role\'s connection limit, the proxy\'s cap and the writer\'s concurrency', () => {
    const names = ['records-query', 'records-series', 'swing-analyze'];
    // Each reader environment holds one connection (it runs one statement at a time), a writer two.
    for (const name of names) expect(fn(template, name).Properties.Environment.Variables.DATABASE_POOL_MAX).toBe(String(READER_POOL_SIZE));
    expect(fn(template, 'batch-writer').Properties.Environment.Variables.DATABASE_POOL_MAX).toBe(String(FUNCTION_POOL_SIZE));
    // PostgreSQL refuses the reader role's 16th connection, however many reader environments run:
    // the migrate resource sets the limit (test/integration/pg-connection-limits.test.ts).
    const [, schema] = all(template, 'Custom::DataHandlerSchema')[0]!;
    const limits = JSON.parse(schema.Properties.ConnectionLimits) as Record<string, number>;
    expect(limits).toEqual({ data_handler_reader: 15 });
    // 80 connections − 10 kept free − 15 for the reader role = 55, i.e. 27 writers of 2 connections.
    const writers = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))[0]!.Properties.ScalingConfig.MaximumConcurrency as number;
    expect(writers).toBe(27);
    expect(writers * FUNCTION_POOL_SIZE + limits.data_handler_reader! + DATABASE_RESERVED_CONNECTIONS).toBeLessThanOrEqual(80);
    // The proxy opens at most 87 % of max_connections (70 of 80) and makes a client wait 10 s at
    // most for one, so a burst through it leaves the kept-free connections alone.
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', { ConnectionPoolConfigurationInfo: { MaxConnectionsPercent: 87, ConnectionBorrowTimeout: 10 } });
    expect(proxyMaxConnectionsPercent(80)).toBe(87);
    // The health function connects as the reader role too, but holds no pool: its probes count
    // against the reader role's limit.
    expect(fn(template, 'health').Properties.Environment.Variables.DATABASE_POOL_MAX).toBeUndefined();

    const { template: bigger } = synth({ dbMaxConnections: 200, readerConnections: 30 });
    expect(JSON.parse(all(bigger, 'Custom::DataHandlerSchema')[0]![1].Properties.ConnectionLimits)).toEqual({ data_handler_reader: 30 });
    expect(Object.values(bigger.findResources('AWS::Lambda::EventSourceMapping'))[0]!.Properties.ScalingConfig.MaximumConcurrency).toBe(maxConcurrencyFor(200, 30));
    expect(maxConcurrencyFor(200, 30)).toBe(80);
    bigger.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', { ConnectionPoolConfigurationInfo: { MaxConnectionsPercent: 95 } });
  });

  it('reserves concurrency for each reader only when asked (readerConcurrency), leaving the budget as it is', () => {
    const { template: reserving } = synth({ readerConcurrency: 5 });
    for (const name of ['records-query', 'records-series', 'swing-analyze']) expect(fn(reserving, name).Properties.ReservedConcurrentExecutions).toBe(5);
    expect(fn(reserving, 'health').Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(Object.values(reserving.findResources('AWS::Lambda::EventSourceMapping'))[0]!.Properties.ScalingConfig.MaximumConcurrency).toBe(27);
  });

  it('expires every log and deletes it with the stack: functions, APIs, flow logs, the provider framework, the rotation functions and PostgreSQL', () => {
    const groups = all(template, 'AWS::Logs::LogGroup');
    for (const [, group] of groups) expect(group.Properties.RetentionInDays).toBe(30);
    for (const [id] of groups) expect(template.toJSON().Resources[id].DeletionPolicy, id).toBe('Delete');
    // Every function, CDK's own included, logs to a group of the stack: none to a group that
    // Lambda would create on first use, with no expiry, and leave behind.
    for (const [id, f] of all(template, 'AWS::Lambda::Function')) expect(f.Properties.LoggingConfig?.LogGroup, id).toEqual({ Ref: expect.any(String) });
    template.resourceCountIs('Custom::LogRetention', 0);
    // RDS exports to /aws/rds/instance/<identifier>/postgresql: the stack makes that group before
    // the instance (named, so the group's name is known), and deletes it after the instance.
    const [instanceId, instance] = all(template, 'AWS::RDS::DBInstance')[0]!;
    const postgres = groups.find(([, g]) => g.Properties.LogGroupName === `/aws/rds/instance/${instance.Properties.DBInstanceIdentifier}/postgresql`);
    expect(postgres, instanceId).toBeDefined();
    expect(instance.DependsOn).toContain(postgres![0]);
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
