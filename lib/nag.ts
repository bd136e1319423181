import { CfnElement, Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * How cdk-nag spells a resource's reference inside a finding: `<LogicalId>`, or
 * `<LogicalId.Attribute>` for an attribute. Finding ids must match exactly to be acknowledged.
 */
export function nagRef(resource: IConstruct, attribute?: string): string {
  const element = (CfnElement.isCfnElement(resource) ? resource : resource.node.defaultChild) as CfnElement;
  const stack = Stack.of(element);
  const logicalId = stack.resolve(stack.getLogicalId(element)) as string;
  return `<${logicalId}${attribute ? `.${attribute}` : ''}>`;
}

/** The stack's region and account as cdk-nag prints them: literal values, or `<AWS::Region>` and `<AWS::AccountId>`. */
export function nagEnv(scope: IConstruct): { region: string; account: string } {
  const { region, account } = Stack.of(scope);
  return {
    region: Token.isUnresolved(region) ? '<AWS::Region>' : region,
    account: Token.isUnresolved(account) ? '<AWS::AccountId>' : account,
  };
}

/** Acknowledges one finding of a rule (`AwsSolutions-IAM5[Resource::…]`) with its reason. */
export function acknowledgeFinding(scope: IConstruct, rule: string, finding: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${rule}[${finding}]`, reason });
}

/** AWS's basic Lambda execution policy as cdk-nag names it. */
export const BASIC_EXECUTION_POLICY = 'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';
