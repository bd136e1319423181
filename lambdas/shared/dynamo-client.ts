/**
 * The DynamoDB document client of this execution environment, built once at module scope;
 * AWS_ENDPOINT_URL_DYNAMODB redirects it locally.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SERVICE_REQUEST_HANDLER } from './request-deadlines';

export const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ requestHandler: SERVICE_REQUEST_HANDLER }), {
  marshallOptions: { removeUndefinedValues: true },
});
