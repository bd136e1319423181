/**
 * Event factories the artifact tests need besides test/fixtures/events.ts (which they cannot
 * change today): the WebSocket REQUEST authorizer's event and CloudFormation's custom-resource
 * Create event, in the shapes API Gateway and the CDK provider framework deliver.
 */
import type { APIGatewayRequestAuthorizerEvent, CloudFormationCustomResourceCreateEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';

/** The $connect authorizer's event for a connect carrying `token` in its query string. */
export function wsAuthorizerEvent(token: string, region: string, account: string): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:${region}:${account}:abcdef1234/live/$connect`,
    headers: { Host: 'abcdef1234.execute-api.amazonaws.com' },
    queryStringParameters: { token },
    requestContext: {
      routeKey: '$connect',
      eventType: 'CONNECT',
      connectionId: randomUUID(),
      identity: { sourceIp: '127.0.0.1' },
    },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

/** CloudFormation's Create of a custom resource with `properties`, as the provider framework passes it on. */
export function customResourceCreateEvent(
  resourceType: string,
  properties: Record<string, string>,
  region: string,
  account: string,
): CloudFormationCustomResourceCreateEvent {
  const serviceToken = `arn:aws:lambda:${region}:${account}:function:provider-onEvent`;
  return {
    RequestType: 'Create',
    ServiceToken: serviceToken,
    ResponseURL: 'http://127.0.0.1:1/unused-by-the-provider-framework',
    StackId: `arn:aws:cloudformation:${region}:${account}:stack/Artifacts/${randomUUID()}`,
    RequestId: randomUUID(),
    LogicalResourceId: 'MigrationSchema',
    ResourceType: resourceType,
    ResourceProperties: { ServiceToken: serviceToken, ...properties },
  };
}
