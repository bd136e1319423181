import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';

/** A table's key and TTL attribute, as the function that uses it names them. */
export interface ExpiringTableKeys {
  readonly partitionKey: string;
  readonly timeToLiveAttribute: string;
}

/**
 * A DynamoDB table of short-lived items that a function shares across its execution
 * environments: on demand, one string key, a TTL attribute, encrypted, point-in-time recovery
 * unless turned off. Its items expire on their own, so nothing is kept when the stack goes.
 */
export function expiringTable(scope: Construct, keys: ExpiringTableKeys, pointInTimeRecovery = true): Table {
  return new Table(scope, 'Table', {
    partitionKey: { name: keys.partitionKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: keys.timeToLiveAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: pointInTimeRecovery },
    encryption: TableEncryption.AWS_MANAGED,
    removalPolicy: RemovalPolicy.DESTROY,
  });
}
