/**
 * Broadcaster on the API Gateway management API (`POST @connections/{id}`).
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { RetryablePostError, ThrottledError } from '../core/errors';
import type { Broadcaster, PostOutcome } from '../core/ports';

export class ApiGatewayBroadcaster implements Broadcaster {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async post(connectionId: string, data: string): Promise<PostOutcome> {
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
      return 'delivered';
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = (error as { name?: string }).name;
      if (status === 410 || name === 'GoneException') return 'gone';
      if (status === 429 || name === 'LimitExceededException' || name === 'TooManyRequestsException') {
        throw new ThrottledError(`throttled posting to ${connectionId}`, { cause: error });
      }
      // No status: the request never got an answer (refused, reset, timed out).
      if (status === undefined || status >= 500) {
        throw new RetryablePostError(`posting to ${connectionId} failed${status ? ` with ${status}` : ''}`, { cause: error });
      }
      throw error;
    }
  }
}
