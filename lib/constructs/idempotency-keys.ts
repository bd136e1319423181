import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { expiringTable } from './expiring-table';
import { IDEMPOTENCY_KEYS_TABLE } from '../../lambdas/core/idempotency';

export interface IdempotencyKeysProps {
  /** Point-in-time recovery of the claims. @default true */
  readonly pointInTimeRecovery?: boolean;
}

/**
 * The Idempotency-Keys claimed by uploads, shared by every execution environment of the
 * ingest function: a DynamoDB table (on demand, one item per hashed user and key, holding the
 * hash of the records that claimed it), whose TTL attribute deletes a claim after a day.
 */
export class IdempotencyKeys extends Construct {
  public readonly table: Table;

  constructor(scope: Construct, id: string, props: IdempotencyKeysProps = {}) {
    super(scope, id);
    this.table = expiringTable(this, IDEMPOTENCY_KEYS_TABLE, props.pointInTimeRecovery ?? true);
  }

  /** The variables of the `claim-idempotency-keys` binding. */
  environment(): Record<string, string> {
    return { IDEMPOTENCY_KEYS_TABLE: this.table.tableName };
  }

  /** The ingest function: claim a key, and read the claim that holds it. */
  grantClaimKeys(grantee: IGrantable) {
    return this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem');
  }
}
