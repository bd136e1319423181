/**
 * The template problems that would stop a first deploy (or break it later), one by one: each
 * test fails on the template as it was before they were fixed.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataHandlerStack } from '../../lib/data-handler-stack';
import { LAMBDA_AMAZON_CA_BUNDLE } from '../../lib/constructs/database';
import { synth, TEST_ENV, testApp } from './stack';

type Resources = Record<string, { Type: string; Properties: Record<string, any>; DependsOn?: string[]; DeletionPolicy?: string }>;
const resources = (template: Template, type: string) => template.findResources(type) as Resources;
const only = (template: Template, type: string) => {
  const found = Object.entries(resources(template, type));
  expect(found, type).toHaveLength(1);
  return found[0]!;
};
/** Logical ids inside a `Fn::Join` of Refs (a comma-separated list of subnets, say). */
const refsIn = (value: unknown): string[] => [...JSON.stringify(value).matchAll(/"Ref":"([^"]+)"/g)].map((m) => m[1]!);
const subnetsNamed = (template: Template, name: string) =>
  Object.entries(resources(template, 'AWS::EC2::Subnet')).filter(([, s]) => s.Properties.Tags.some((t: any) => t.Key === 'aws-cdk:subnet-name' && t.Value === name));

describe('the API Gateway account logging role', () => {
  let template: Template;
  beforeAll(() => ({ template } = synth()));

  it('is created by the stack, with the AWS policy for API Gateway logs, and kept when the stack goes', () => {
    const [, account] = only(template, 'AWS::ApiGateway::Account');
    const roleId = account.Properties.CloudWatchRoleArn['Fn::GetAtt'][0];
    const role = resources(template, 'AWS::IAM::Role')[roleId]!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'apigateway.amazonaws.com' });
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain('service-role/AmazonAPIGatewayPushToCloudWatchLogs');
    // The account setting outlives the stack; a deleted role would break every API's logging.
    expect(role.DeletionPolicy).toBe('Retain');
  });

  it('exists before the WebSocket stage with access logs is created', () => {
    const [accountId] = only(template, 'AWS::ApiGateway::Account');
    const [, wsApi] = Object.entries(resources(template, 'AWS::ApiGatewayV2::Api')).find(([, a]) => a.Properties.ProtocolType === 'WEBSOCKET')!;
    const stage = Object.values(resources(template, 'AWS::ApiGatewayV2::Stage')).find((s) => s.Properties.StageName === 'live')!;
    expect(wsApi).toBeDefined();
    expect(stage.Properties.AccessLogSettings).toBeDefined();
    expect(stage.DependsOn).toContain(accountId);
  });

  it('is left alone with apiGatewayAccountRole=false, for accounts that manage it already', () => {
    const { template: without } = synth({ apiGatewayAccountRole: false });
    without.resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});

describe('the RDS Proxy name', () => {
  it('is unique to each stack, so two stacks can share a region', () => {
    const app = testApp();
    const stacks = ['One', 'Two'].map((id) => new DataHandlerStack(app, id, { env: TEST_ENV }));
    const names = stacks.map((stack) => only(Template.fromStack(stack), 'AWS::RDS::DBProxy')[1].Properties.DBProxyName as string);
    expect(names[0]).not.toBe(names[1]);
    for (const name of names) {
      expect(name).not.toBe('Proxy');
      expect(name.length).toBeLessThanOrEqual(60);
    }
  });
});

describe('the availability zones', () => {
  it('in us-east-1 are pinned by zone ID, never to use1-az3 where RDS Proxy does not run', () => {
    const { template } = synth({ env: { ...TEST_ENV, region: 'us-east-1' } });
    const subnets = Object.values(resources(template, 'AWS::EC2::Subnet'));
    expect(subnets).toHaveLength(9);
    for (const s of subnets) {
      expect(s.Properties.AvailabilityZone).toBeUndefined();
      expect(['use1-az1', 'use1-az2', 'use1-az4']).toContain(s.Properties.AvailabilityZoneId);
    }
    const proxy = only(template, 'AWS::RDS::DBProxy')[1];
    expect(new Set(refsIn(proxy.Properties.VpcSubnetIds).map((id) => resources(template, 'AWS::EC2::Subnet')[id]!.Properties.AvailabilityZoneId)).size).toBe(3);
  });

  it('elsewhere are three, so a zone without RDS Proxy would still leave the proxy two', () => {
    const { template } = synth();
    const data = subnetsNamed(template, 'data');
    expect(new Set(data.map(([, s]) => s.Properties.AvailabilityZone)).size).toBe(3);
    expect(refsIn(only(template, 'AWS::RDS::DBProxy')[1].Properties.VpcSubnetIds).sort()).toEqual(data.map(([id]) => id).sort());
  });

  it('are pinned by a condition on the region when the region is known only at deploy time', () => {
    const stack = new DataHandlerStack(testApp(), 'Agnostic');
    const json = Template.fromStack(stack).toJSON();
    const conditions = JSON.stringify(json.Conditions);
    expect(conditions).toContain('"us-east-1"');
    for (const s of Object.values(json.Resources as Resources).filter((r) => r.Type === 'AWS::EC2::Subnet')) {
      expect(JSON.stringify(s.Properties.AvailabilityZoneId)).toMatch(/"Fn::If".*"use1-az[124]"/);
      expect(JSON.stringify(s.Properties.AvailabilityZone)).toMatch(/"Fn::If".*AWS::NoValue/);
    }
  });

  it('are the zone IDs given (availabilityZoneIds), in the order given', () => {
    const { template } = synth({ availabilityZoneIds: ['euw1-az3', 'euw1-az1'] });
    expect(subnetsNamed(template, 'functions').map(([, s]) => s.Properties.AvailabilityZoneId)).toEqual(['euw1-az3', 'euw1-az1']);
  });

  it('are the zone names given (availabilityZones)', () => {
    const app = testApp({ [`availability-zones:account=${TEST_ENV.account}:region=${TEST_ENV.region}`]: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] });
    const { template } = synth({ availabilityZones: ['eu-west-1c', 'eu-west-1b'] }, { app });
    expect(subnetsNamed(template, 'data').map(([, s]) => s.Properties.AvailabilityZone)).toEqual(['eu-west-1c', 'eu-west-1b']);
  });

  it('may not leave RDS Proxy fewer than two zones it runs in', () => {
    expect(() => synth({ env: { ...TEST_ENV, region: 'us-east-1' }, availabilityZoneIds: ['use1-az3', 'use1-az1'] })).toThrow(/RDS Proxy needs two zones/);
    expect(() => synth({ env: { ...TEST_ENV, region: 'us-east-1' }, availabilityZoneIds: ['use1-az3', 'use1-az1'], useRdsProxy: false })).not.toThrow();
  });
});

describe('secret rotation', () => {
  let template: Template;
  beforeAll(() => ({ template } = synth()));
  // The master user's, and each application role's (writer, reader).
  const rotations = () => {
    const found = Object.entries(resources(template, 'AWS::Serverless::Application'));
    expect(found).toHaveLength(3);
    return found;
  };

  it('runs in the functions\' subnets, whose NAT route reaches Secrets Manager, not in the isolated ones', () => {
    for (const [, rotation] of rotations()) {
      const subnets = refsIn(rotation.Properties.Parameters.vpcSubnetIds);
      expect(subnets.sort()).toEqual(subnetsNamed(template, 'functions').map(([id]) => id).sort());
      const routes = Object.values(resources(template, 'AWS::EC2::Route'));
      const tables = Object.values(resources(template, 'AWS::EC2::SubnetRouteTableAssociation'))
        .filter((a) => subnets.includes(a.Properties.SubnetId.Ref))
        .map((a) => a.Properties.RouteTableId.Ref);
      expect(tables).toHaveLength(subnets.length);
      for (const table of tables) {
        expect(routes.some((r) => r.Properties.RouteTableId.Ref === table && r.Properties.DestinationCidrBlock === '0.0.0.0/0' && r.Properties.NatGatewayId)).toBe(true);
      }
    }
  });

  it('may connect to the database', () => {
    const [instanceId, instance] = only(template, 'AWS::RDS::DBInstance');
    const dbGroup = instance.Properties.VPCSecurityGroups[0]['Fn::GetAtt'][0];
    for (const [, rotation] of rotations()) {
      const rotationGroup = rotation.Properties.Parameters.vpcSecurityGroupIds['Fn::GetAtt'][0];
      const ingress = Object.values(resources(template, 'AWS::EC2::SecurityGroupIngress')).find(
        (i) => i.Properties.GroupId['Fn::GetAtt'][0] === dbGroup && i.Properties.SourceSecurityGroupId['Fn::GetAtt'][0] === rotationGroup,
      );
      expect(ingress?.Properties.ToPort).toEqual({ 'Fn::GetAtt': [instanceId, 'Endpoint.Port'] });
    }
  });
});

describe('TLS to the database without the proxy', () => {
  const databaseFunctions = (template: Template) =>
    Object.values(resources(template, 'AWS::Lambda::Function')).filter((f) => f.Properties.Environment?.Variables?.DATABASE_HOST);

  it('verifies the instance\'s certificate in full, with Lambda\'s Amazon CA bundle (RDS CAs) loaded in every function that connects', () => {
    const { template } = synth({ useRdsProxy: false });
    const functions = databaseFunctions(template);
    expect(functions).toHaveLength(7); // writer, three readers, health, migration, maintenance
    for (const f of functions) {
      expect(f.Properties.Environment.Variables).toMatchObject({ DATABASE_SSL: 'verify-full', NODE_EXTRA_CA_CERTS: LAMBDA_AMAZON_CA_BUNDLE });
      expect(JSON.stringify(f.Properties.Environment.Variables.DATABASE_HOST)).toContain('Endpoint.Address');
    }
  });

  it('is not loaded behind the proxy, whose certificate Node\'s own roots verify (a shorter cold start)', () => {
    const { template } = synth();
    for (const f of databaseFunctions(template)) {
      expect(f.Properties.Environment.Variables.DATABASE_SSL).toBe('verify-full');
      expect(f.Properties.Environment.Variables.NODE_EXTRA_CA_CERTS).toBeUndefined();
    }
  });
});
