/**
 * The Idempotency-Keys table on AWS: keyed and expired as the adapter expects, bound to the
 * ingest function alone, with only the item actions it needs.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_KEYS_TABLE } from '../../lambdas/core/idempotency';
import { actions, statementsOf, synth } from './stack';

describe('the idempotency-keys table', () => {
  let built: ReturnType<typeof synth>;
  beforeAll(() => {
    built = synth();
  });

  it('is keyed and expired as the adapter expects, on demand, encrypted and recoverable', () => {
    built.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: IDEMPOTENCY_KEYS_TABLE.partitionKey, KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: IDEMPOTENCY_KEYS_TABLE.timeToLiveAttribute, Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('is named to the ingest function in IDEMPOTENCY_KEYS_TABLE, and to no other function', () => {
    // Arrange
    const tableId = built.stack.getLogicalId(built.stack.idempotencyKeys.table.node.defaultChild as never);
    // Act
    const named = Object.values(built.template.findResources('AWS::Lambda::Function'))
      .filter((fn) => JSON.stringify(fn.Properties?.Environment ?? {}).includes('IDEMPOTENCY_KEYS_TABLE'))
      .map((fn) => (fn.Properties.Tags as { Key: string; Value: string }[]).find((t) => t.Key === 'data-handler:function')?.Value);
    // Assert
    expect(named).toEqual(['ingest']);
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Tags: Match.arrayWith([{ Key: 'data-handler:function', Value: 'ingest' }]),
      Environment: { Variables: Match.objectLike({ IDEMPOTENCY_KEYS_TABLE: { Ref: tableId } }) },
    });
  });

  it('grants the ingest function get, put and update on its items, and nothing more of DynamoDB', () => {
    // Act
    const dynamo = actions(statementsOf(built.template, 'IngestFunctionRole')).filter((a) => a.startsWith('dynamodb:'));
    // Assert
    expect(dynamo).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
  });
});
