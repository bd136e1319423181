/**
 * The first `cdk deploy` into a fresh account: nothing that a quota of 10 refuses, nothing that
 * turns a failed create into ROLLBACK_FAILED, alarms that CloudWatch may publish, and a pinned
 * engine version. Each test fails on the template as it was before.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_VERSION, instanceIdentifierFor } from '../../lib/constructs/database';
import { synth, TEST_ENV } from './stack';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[]; DeletionPolicy?: string; UpdateReplacePolicy?: string };
const resourcesOf = (template: Template) => template.toJSON().Resources as Record<string, Resource>;
const ofType = (template: Template, type: string) => Object.entries(resourcesOf(template)).filter(([, r]) => r.Type === type);
/** The parsed SDK call of an AwsCustomResource property (a Fn::Join of JSON text and refs). */
const sdkCall = (value: any) => JSON.parse((value['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : `<${JSON.stringify(p).replace(/"/g, "'")}>`)).join(''));

describe('the database on a first create', () => {
  let template: Template;
  beforeAll(() => ({ template } = synth()));

  it('is created without deletion protection, so a failed first create can delete it and roll back', () => {
    const [[, instance]] = ofType(template, 'AWS::RDS::DBInstance') as [[string, Resource]];
    expect(instance.Properties.DeletionProtection).toBe(false);
  });

  it('is protected by a resource created after every other one, which nothing waits for', () => {
    const resources = resourcesOf(template);
    const [[switchId, protection]] = ofType(template, 'Custom::DatabaseDeletionProtection') as [[string, Resource]];
    const [instanceId] = ofType(template, 'AWS::RDS::DBInstance')[0]!;
    for (const phase of ['Create', 'Update']) {
      const call = sdkCall(protection.Properties[phase]);
      expect(call).toMatchObject({ service: 'RDS', action: 'modifyDBInstance', parameters: { DeletionProtection: true } });
      expect(call.parameters.DBInstanceIdentifier).toBe(`<{'Ref':'${instanceId}'}>`);
      // ApplyImmediately would also apply modifications pending for the maintenance window.
      expect(call.parameters.ApplyImmediately).toBeUndefined();
    }
    // No Delete call: deleting the stack never lifts protection.
    expect(protection.Properties.Delete).toBeUndefined();
    // It waits for everything, its own log group and policy aside (it needs them anyway)...
    const others = Object.keys(resources).filter((id) => id !== switchId);
    const waitsFor = new Set(protection.DependsOn);
    const notWaitedFor = others.filter((id) => !waitsFor.has(id) && !JSON.stringify(protection.Properties).includes(`"${id}"`));
    expect(notWaitedFor.filter((id) => !id.startsWith('DatabaseProtection'))).toEqual([]);
    // ...and nothing waits for it or refers to it.
    for (const [id, r] of Object.entries(resources)) {
      expect(r.DependsOn ?? [], id).not.toContain(switchId);
      if (id !== switchId) expect(JSON.stringify(r.Properties ?? {}), id).not.toContain(`"${switchId}"`);
    }
  });

  it('may change the protection of this instance only', () => {
    const [[, protection]] = ofType(template, 'Custom::DatabaseDeletionProtection') as [[string, Resource]];
    const [instanceId] = ofType(template, 'AWS::RDS::DBInstance')[0]!;
    const policies = ofType(template, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('DatabaseProtection'));
    const statements = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([
      expect.objectContaining({ Action: 'rds:ModifyDBInstance', Effect: 'Allow', Resource: expect.objectContaining({ 'Fn::Join': expect.anything() }) }),
    ]);
    expect(JSON.stringify(statements)).toContain(instanceId);
    expect(protection.Properties.ServiceToken['Fn::GetAtt'][0]).toMatch(/^AWS679f53fac002430cb0da5b7982bd2287/);
  });

  it('is switched again after any change to the instance, whatever CloudFormation sends with it', () => {
    const digest = (t: Template) => ofType(t, 'Custom::DatabaseDeletionProtection')[0]![1].Properties.InstanceDigest as string;
    expect(digest(synth().template)).toBe(digest(template));
    expect(digest(synth({ dbInstanceType: undefined, dbMultiAz: true }).template)).not.toBe(digest(template));
  });

  it('turns protection off with deletionProtection=false, for teardown', () => {
    const { template: off } = synth({ deletionProtection: false });
    const [[, protection]] = ofType(off, 'Custom::DatabaseDeletionProtection') as [[string, Resource]];
    expect(sdkCall(protection.Properties.Update).parameters.DeletionProtection).toBe(false);
  });

  it('keeps a final snapshot when the stack is deleted or the instance replaced', () => {
    const [[, instance]] = ofType(template, 'AWS::RDS::DBInstance') as [[string, Resource]];
    expect(instance.DeletionPolicy).toBe('Snapshot');
    expect(instance.UpdateReplacePolicy).toBe('Snapshot');
  });

  it('raises a failed migration on the first create too: the rollback is clean now', () => {
    const [[, schema]] = ofType(template, 'Custom::DataHandlerSchema') as [[string, Resource]];
    expect(schema.Properties.OnCreateFailure).toBeUndefined();
  });
});

describe('the engine version', () => {
  it('is pinned to a minor version, upgraded only by the setting', () => {
    const { template } = synth();
    const [[, instance]] = ofType(template, 'AWS::RDS::DBInstance') as [[string, Resource]];
    expect(instance.Properties.EngineVersion).toBe(DEFAULT_ENGINE_VERSION);
    expect(DEFAULT_ENGINE_VERSION).toMatch(/^17\.\d+$/);
    expect(instance.Properties.AutoMinorVersionUpgrade).toBe(false);
    const { template: upgraded } = synth({ dbEngineVersion: '17.10' });
    expect(ofType(upgraded, 'AWS::RDS::DBInstance')[0]![1].Properties.EngineVersion).toBe('17.10');
    // The parameter group stays that of the major version.
    expect(ofType(upgraded, 'AWS::RDS::DBParameterGroup')[0]![1].Properties.Family).toBe('postgres17');
  });

  it('refuses another major version or a bare major, which the parameter group could not follow', () => {
    for (const version of ['16.4', '17', 'latest']) expect(() => synth({ dbEngineVersion: version }), version).toThrow(/dbEngineVersion must be a PostgreSQL 17 minor version/);
  });
});

describe('the instance identifier', () => {
  it('comes from the stack name, so two stacks of a region differ and the log group name is known', () => {
    expect(instanceIdentifierFor('DataHandler')).toBe('datahandler-postgres');
    expect(instanceIdentifierFor('data-handler-staging')).toBe('data-handler-staging-postgres');
    const long = instanceIdentifierFor(`A${'b'.repeat(120)}`);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).not.toBe(instanceIdentifierFor(`A${'b'.repeat(119)}`));
    for (const id of [long, instanceIdentifierFor('X--y-'), instanceIdentifierFor('Stack_1')]) expect(id).toMatch(/^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/);
  });
});

describe('the alarms', () => {
  let template: Template;
  beforeAll(() => ({ template } = synth({ alarmEmail: 'ops@example.org' })));

  it('each reach a topic that CloudWatch may publish to, for that alarm of this account, over TLS only', () => {
    const alarms = ofType(template, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(0);
    const policies = ofType(template, 'AWS::SNS::TopicPolicy');
    for (const [alarmId, alarm] of alarms) {
      const actions = [...(alarm.Properties.AlarmActions ?? []), ...(alarm.Properties.OKActions ?? [])];
      expect(actions.length, alarmId).toBeGreaterThan(0);
      for (const action of actions) {
        const topicId = action.Ref as string;
        const topic = resourcesOf(template)[topicId]!;
        expect(topic.Type, alarmId).toBe('AWS::SNS::Topic');
        const statements = policies
          .filter(([, p]) => p.Properties.Topics.some((t: any) => t.Ref === topicId))
          .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);
        const allows = statements.filter((s) =>
          s.Effect === 'Allow' && s.Principal?.Service === 'cloudwatch.amazonaws.com' && [s.Action].flat().includes('sns:Publish'));
        expect(allows, `${alarmId} → ${topicId}`).toHaveLength(1);
        const [allow] = allows;
        expect(allow.Resource).toEqual({ Ref: topicId });
        expect(allow.Condition.StringEquals['aws:SourceAccount']).toBe(TEST_ENV.account);
        expect(allow.Condition.ArnLike['aws:SourceArn']).toContainEqual({ 'Fn::GetAtt': [alarmId, 'Arn'] });
        // The TLS-only Deny stays.
        expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
        // An encrypted topic would need its key to allow CloudWatch too; this one is not.
        expect(topic.Properties.KmsMasterKeyId, topicId).toBeUndefined();
      }
    }
  });
});

describe('reserved concurrency', () => {
  it('is asked for by no function by default: Lambda keeps 100 unreserved, and a new account may have 10', () => {
    const { template } = synth();
    expect(ofType(template, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.ReservedConcurrentExecutions !== undefined)).toEqual([]);
  });
});
