/**
 * One synthesized stack for the infrastructure tests, without bundling (no esbuild, no Docker).
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DataHandlerStack, type DataHandlerStackProps } from '../../lib/data-handler-stack';

export function synth(props: DataHandlerStackProps = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new DataHandlerStack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' }, ...props });
  return { app, stack, template: Template.fromStack(stack) };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** Every statement of every policy attached to the role of the function with this logical id prefix. */
export function statementsOf(template: Template, roleLogicalIdPrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const roles = template.findResources('AWS::IAM::Role');
  const roleIds = Object.keys(roles).filter((id) => id.startsWith(roleLogicalIdPrefix));
  if (roleIds.length !== 1) throw new Error(`expected one role starting ${roleLogicalIdPrefix}, found ${roleIds.join(', ') || 'none'}`);
  const roleId = roleIds[0]!;
  const inline = (roles[roleId]!.Properties.Policies ?? []).flatMap((p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement);
  const attached = Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  return [...inline, ...attached];
}

export const actions = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat()).sort();
