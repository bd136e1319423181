import { RemovalPolicy } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeFinding } from '../nag';

export interface ApiGatewayAccountProps {
  /**
   * What happens to the role when the stack is deleted. The account setting outlives the stack
   * (CloudFormation never clears it), so deleting the role would leave every REST and WebSocket
   * API of the account and region pointing at a role that is gone, and their logging would fail.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The account-level API Gateway setting that lets API Gateway write to CloudWatch Logs
 * (`AWS::ApiGateway::Account` with its role). WebSocket (and REST) stages with access or
 * execution logs cannot be created without it: a fresh account has none, and stage creation
 * fails with "CloudWatch Logs role ARN must be set in account settings". HTTP APIs do not need it.
 *
 * The setting is one per account and region, shared by every API there. The role therefore
 * carries AWS's managed policy for it (AmazonAPIGatewayPushToCloudWatchLogs), which can write
 * any API's logs: narrowing it to this stack's log groups would break the other APIs that use the
 * same setting. Accounts that already manage the setting elsewhere turn this off
 * (`-c apiGatewayAccountRole=false`): a second stack that sets it only replaces the role with an
 * equivalent one.
 */
export class ApiGatewayAccount extends Construct {
  public readonly role: Role;
  public readonly account: CfnAccount;

  constructor(scope: Construct, id: string, props: ApiGatewayAccountProps = {}) {
    super(scope, id);
    this.role = new Role(this, 'CloudWatchRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway (account setting): writes the access and execution logs of REST and WebSocket APIs',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    this.role.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.account = new CfnAccount(this, 'Account', { cloudWatchRoleArn: this.role.roleArn });
    acknowledgeFinding(this.role, 'AwsSolutions-IAM4',
      'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs',
      'The account-wide API Gateway logging role must write the logs of every REST and WebSocket API in the account and region, not only this stack\'s; this AWS policy is the one API Gateway documents for it.');
  }
}
