/**
 * The failed-login counters on AWS: a table with the key and TTL attribute the adapter uses,
 * bound to the login function alone, with only the item actions it needs.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_ATTEMPTS_TABLE } from '../../lambdas/core/login-limit';
import { actions, statementsOf, synth } from './stack';

describe('the login-attempts table', () => {
  let built: ReturnType<typeof synth>;
  beforeAll(() => {
    built = synth();
  });

  it('is keyed and expired as the adapter expects, on demand, encrypted and recoverable', () => {
    built.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: LOGIN_ATTEMPTS_TABLE.partitionKey, KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: LOGIN_ATTEMPTS_TABLE.timeToLiveAttribute, Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('is named to the login function in LOGIN_ATTEMPTS_TABLE', () => {
    const tableId = built.stack.getLogicalId(built.stack.loginAttempts.table.node.defaultChild as never);
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Tags: Match.arrayWith([{ Key: 'data-handler:function', Value: 'auth-token' }]),
      Environment: { Variables: Match.objectLike({ LOGIN_ATTEMPTS_TABLE: { Ref: tableId } }) },
    });
  });

  it('grants the login function get, put, update and delete on its items, and nothing more of DynamoDB', () => {
    // Act
    const dynamo = actions(statementsOf(built.template, 'AuthTokenFunctionRole')).filter((a) => a.startsWith('dynamodb:'));
    // Assert
    expect(dynamo).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
  });
});
