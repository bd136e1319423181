/**
 * The partition maintenance on AWS: its function on an hourly EventBridge schedule that starts
 * after the migration, its alarm, and the retention props, checked at synth.
 */
import { describe, expect, it } from 'vitest';
import { FUNCTION_NAME_TAG } from '../../lib/constructs/handler-function';
import { DataHandlerStack } from '../../lib/data-handler-stack';
import { synth, testApp, TEST_ENV } from './stack';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };

function maintainFunction(resources: Record<string, Resource>): [string, Resource] {
  return Object.entries(resources).find(([, r]) => r.Type === 'AWS::Lambda::Function' && (r.Properties.Tags ?? []).some((t: { Key: string; Value: string }) => t.Key === FUNCTION_NAME_TAG && t.Value === 'maintain'))!;
}

describe('the partition maintenance on AWS', () => {
  it('runs the maintain function every hour, once the migration has run, and retries a failed pass twice', () => {
    // Arrange
    const resources = synth().template.toJSON().Resources as Record<string, Resource>;
    const [fnId] = maintainFunction(resources);

    // Act
    const rules = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Events::Rule');

    // Assert
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0]!;
    expect(rule.Properties.ScheduleExpression).toBe('rate(1 hour)');
    expect(rule.Properties.Targets).toEqual([expect.objectContaining({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 1800 } })]);
    const schema = Object.keys(resources).find((id) => resources[id]!.Type === 'Custom::DataHandlerSchema')!;
    expect(rule.DependsOn).toContain(schema);
    const permission = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Permission' && r.Properties.FunctionName?.['Fn::GetAtt']?.[0] === fnId);
    expect(permission?.Properties).toMatchObject({ Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com' });
  });

  it('alarms on a failed pass', () => {
    // Arrange
    const resources = synth().template.toJSON().Resources as Record<string, Resource>;
    const [fnId] = maintainFunction(resources);

    // Act
    const alarm = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::CloudWatch::Alarm' && id.startsWith('ObservabilityMaintenanceErrors'));

    // Assert
    expect(alarm?.[1].Properties).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }], Threshold: 0 });
  });

  it('gives the function the retention props as its settings', () => {
    // Arrange / Act
    const resources = synth({ retentionDays: 30, rollupRetentionDays: 400, partitionSize: '6h' }).template.toJSON().Resources as Record<string, Resource>;
    const [, fn] = maintainFunction(resources);

    // Assert
    expect(fn.Properties.Environment.Variables).toMatchObject({ RETENTION_DAYS: '30', ROLLUP_RETENTION_DAYS: '400', PARTITION_SIZE: '6h', PARTITIONS_AHEAD: '3' });
  });

  it.each([
    [{ retentionDays: -1 }, /retentionDays is invalid \(must be at least 1 day/],
    [{ retentionDays: 1.5 }, /retentionDays is invalid \(must be a whole number of days\)/],
    [{ retentionDays: 30, rollupRetentionDays: 7 }, /rollupRetentionDays is invalid \(7 days is shorter than retentionDays, 30 days\)/],
    [{ rollupRetentionDays: 7 }, /rollupRetentionDays is invalid \(7 days is shorter than retentionDays, unset/],
    [{ partitionSize: 'weekly' }, /partitionSize is invalid/],
  ])('refuses %o at synth, naming the prop', (props, message) => {
    // Act / Assert
    expect(() => new DataHandlerStack(testApp(), 'Bad', { env: TEST_ENV, ...props })).toThrow(message);
  });
});
