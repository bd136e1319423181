/**
 * The DynamoDB document client of this execution environment, built once at module scope;
 * AWS_ENDPOINT_URL_DYNAMODB redirects it locally.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
