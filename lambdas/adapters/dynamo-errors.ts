/**
 * DynamoDB failures the adapters tell apart.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';

/** Whether a conditional write was refused because its condition did not hold. */
export const isConditionFailure = (error: unknown): boolean =>
  error instanceof ConditionalCheckFailedException || (error as { name?: unknown })?.name === 'ConditionalCheckFailedException';
