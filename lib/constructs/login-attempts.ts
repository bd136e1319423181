import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { expiringTable } from './expiring-table';
import { LOGIN_ATTEMPTS_TABLE } from '../../lambdas/core/login-limit';

export interface LoginAttemptsProps {
  /** Point-in-time recovery of the counters. @default true */
  readonly pointInTimeRecovery?: boolean;
}

/**
 * The failed-login counters of POST /auth/token, shared by every execution environment of the
 * login function: a DynamoDB table (on demand, one item per hashed username or address), whose
 * TTL attribute deletes a counter once its window has closed.
 */
export class LoginAttempts extends Construct {
  public readonly table: Table;

  constructor(scope: Construct, id: string, props: LoginAttemptsProps = {}) {
    super(scope, id);
    this.table = expiringTable(this, LOGIN_ATTEMPTS_TABLE, props.pointInTimeRecovery ?? true);
  }

  /** The variables of the `count-failed-logins` binding. */
  environment(): Record<string, string> {
    return { LOGIN_ATTEMPTS_TABLE: this.table.tableName };
  }

  /** The login function: read, open, count, give back and forget counters. */
  grantCountAttempts(grantee: IGrantable) {
    return this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
  }
}
