import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { PIPELINE_STATE_TABLE } from '../../lambdas/core/pipeline';

export interface PipelineStateProps {
  /** Point-in-time recovery of the notes. @default true */
  readonly pointInTimeRecovery?: boolean;
}

/**
 * The batch writer's notes for GET /api/pipeline/status: a DynamoDB table (on demand) of two
 * items, its last batch and its last failure, each overwritten by the next. Nothing in it
 * outlives its use, so it goes with the stack.
 */
export class PipelineState extends Construct {
  public readonly table: Table;

  constructor(scope: Construct, id: string, props: PipelineStateProps = {}) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: PIPELINE_STATE_TABLE.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? true },
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /** The table's variable, of the `note-pipeline-state` and `read-pipeline-status` bindings. */
  environment(): Record<string, string> {
    return { PIPELINE_STATE_TABLE: this.table.tableName };
  }

  /** The writer: overwrite its notes, and nothing else. */
  grantNote(grantee: IGrantable) {
    return this.table.grant(grantee, 'dynamodb:PutItem');
  }

  /** The status function: read the notes, and nothing else. */
  grantRead(grantee: IGrantable) {
    return this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:BatchGetItem');
  }
}
