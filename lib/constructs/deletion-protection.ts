import { Lazy, RemovalPolicy, Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { CfnDBInstance, DatabaseInstance } from 'aws-cdk-lib/aws-rds';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId, type AwsSdkCall } from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import { createHash } from 'node:crypto';
import { acknowledgeFinding, BASIC_EXECUTION_POLICY } from '../nag';

export interface DeletionProtectionProps {
  readonly instance: DatabaseInstance;
  /** Whether the instance refuses to be deleted once the stack exists. */
  readonly enabled: boolean;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * RDS deletion protection, switched on (or off) by an SDK call (`rds:ModifyDBInstance`) once
 * everything else in the stack exists, never at the instance's creation: a first deploy that
 * fails after the database was created (a refused concurrency reservation, CloudFront's account
 * verification, a failed migration) then rolls back cleanly, where a protected database would
 * leave the stack in ROLLBACK_FAILED.
 *
 * - `afterEverythingIn(stack)` makes the resource depend on every other resource, so it is the
 *   last one created, and the first one deleted.
 * - It has no delete call: deleting the stack (or rolling it back after the first create) never
 *   lifts protection. To tear the stack down, deploy with protection off first.
 * - Its properties carry a digest of the instance's template, so any change to the instance runs
 *   it again afterwards: whatever CloudFormation's update of the instance sends, protection ends
 *   as the setting says.
 * - The instance's template keeps `DeletionProtection: false`; CloudFormation only sends what
 *   changed between templates, so that value is never sent again after the first create.
 */
export class DeletionProtection extends Construct {
  public readonly resource: AwsCustomResource;

  constructor(scope: Construct, id: string, props: DeletionProtectionProps) {
    super(scope, id);
    const call: AwsSdkCall = {
      service: 'RDS',
      action: 'modifyDBInstance',
      // DeletionProtection takes effect at once whatever ApplyImmediately says; leaving that out
      // keeps any modification pending for the maintenance window where it was.
      parameters: { DBInstanceIdentifier: props.instance.instanceIdentifier, DeletionProtection: props.enabled },
      physicalResourceId: PhysicalResourceId.of(`${props.instance.instanceIdentifier}-deletion-protection`),
    };
    this.resource = new AwsCustomResource(this, 'Switch', {
      resourceType: 'Custom::DatabaseDeletionProtection',
      onCreate: call,
      onUpdate: call,
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({ actions: ['rds:ModifyDBInstance'], resources: [props.instance.instanceArn] }),
      ]),
      // The SDK in the Lambda runtime has the call; fetching the latest would add a minute and a
      // dependency on npm at deploy time.
      installLatestAwsSdk: false,
      logGroup: new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
    });
    const cfn = this.resource.node.findChild('Resource').node.defaultChild as CfnResource;
    const instance = props.instance.node.defaultChild as CfnDBInstance;
    // Resolved at synthesis, when the instance's properties are final.
    cfn.addPropertyOverride('InstanceDigest', Lazy.string({ produce: () => instanceDigest(instance) }));
    this.acknowledgeFindings();
    Validations.of(props.instance).acknowledge({
      id: 'AwsSolutions-RDS10',
      reason: props.enabled
        ? 'Deletion protection is switched on by the DatabaseProtection resource once the rest of the stack exists, so that a failed first create can still roll back.'
        : 'Deletion protection is off by the deletionProtection setting, to tear the stack down.',
    });
  }

  /** Makes the switch wait for every other resource of `stack`, so it runs last. */
  afterEverythingIn(stack: Stack): void {
    for (const child of stack.node.children) {
      if (child === this || isAncestorOf(child, this)) continue;
      this.resource.node.addDependency(child);
    }
  }

  private acknowledgeFindings(): void {
    const provider = Stack.of(this).node.tryFindChild(`AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`);
    if (provider) {
      acknowledgeFinding(provider, 'AwsSolutions-IAM4', BASIC_EXECUTION_POLICY,
        'CDK\'s SDK-call function (it switches the database\'s deletion protection) logs with the AWS Lambda basic execution policy.');
      Validations.of(provider).acknowledge({ id: 'AwsSolutions-L1', reason: 'CDK\'s SDK-call function\'s runtime is chosen by the CDK version in use.' });
    }
  }
}

/** A digest of the instance's properties as synthesized (tokens stay as their references). */
function instanceDigest(instance: CfnDBInstance): string {
  const resolved = Stack.of(instance).resolve((instance as unknown as { _toCloudFormation(): unknown })._toCloudFormation());
  return createHash('sha256').update(JSON.stringify(resolved)).digest('hex').slice(0, 16);
}

function isAncestorOf(candidate: IConstruct, node: IConstruct): boolean {
  return node.node.scopes.includes(candidate);
}
