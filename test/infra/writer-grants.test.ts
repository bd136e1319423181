/**
 * The writer's grant to hand messages back with a delay: ChangeMessageVisibility on the record
 * queue and nothing else, given by the queue's intent method and kept by the deployed writer.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../lambdas/functions';
import { RecordQueue } from '../../lib/constructs/record-queue';
import { actions, statementsOf, synth, testApp } from './stack';

describe("the writer's delay grant", () => {
  it('allows ChangeMessageVisibility on the record queue only, not on its DLQ', () => {
    // Arrange
    const stack = new Stack(testApp(), 'Grants');
    const queue = new RecordQueue(stack, 'Queue', { consumerTimeout: Duration.seconds(30) });
    const role = new Role(stack, 'WriterRole', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });

    // Act
    queue.grantDelayRedelivery(role);

    // Assert
    const statements = statementsOf(Template.fromStack(stack), 'WriterRole');
    expect(actions(statements)).toEqual(['sqs:ChangeMessageVisibility']);
    expect(statements[0]!.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^QueueRecords/), 'Arn'] });
  });

  it('is in the catalogue as a binding of the writer, and the deployed writer has it', () => {
    const { template } = synth();

    const writer = statementsOf(template, 'WriterFunctionRole').filter((s) => [s.Action].flat().includes('sqs:ChangeMessageVisibility'));

    expect(FUNCTIONS['batch-writer'].bindings).toContain('delay-redelivery');
    expect(writer.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^QueueRecords/), 'Arn'] }]);
  });
});
