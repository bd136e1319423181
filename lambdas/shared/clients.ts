/**
 * AWS SDK clients, one of each per execution environment. Endpoints come from the SDK's
 * standard variables (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB), so the local runtime
 * and LocalStack redirect them without code changes.
 */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { once } from './env';

// Always send to the resolved endpoint: on AWS it is the queue's own; locally the queue URL's host
// is only a label, and the endpoint variable is what points at the embedded queue.
export const sqsClient = once(() => new SQSClient({ useQueueUrlAsEndpoint: false }));

export const documentClient = once(() =>
  DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
);

const managementClients = new Map<string, ApiGatewayManagementApiClient>();

/** The management API client for one WebSocket stage endpoint. */
export function managementClient(endpoint: string): ApiGatewayManagementApiClient {
  let client = managementClients.get(endpoint);
  if (!client) managementClients.set(endpoint, (client = new ApiGatewayManagementApiClient({ endpoint })));
  return client;
}
