/**
 * The API Gateway management API client that posts frames to monitors.
 *
 * The fan-out (core/fanout.ts) owns the one retry policy for posts, with back-off inside the
 * function's deadline; the SDK's own retries would multiply its attempts (3 × 4) and outlive
 * that deadline, so they are off here, and each post has a short timeout of its own.
 */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';

/**
 * SDK settings of the management client: a single attempt, bounded in time. A fan-out sends
 * thousands of the same command: `cacheMiddleware` resolves its middleware stack once rather
 * than per post (a third of the SDK's time per post in bench fanout).
 *
 * `throwOnRequestTimeout`: without it this SDK only logs a warning when `requestTimeout` passes
 * and goes on waiting, so a post that never got an answer held the writer until Lambda ended
 * it. The fan-out also gives each post an abort signal within the function's deadline.
 */
export const MANAGEMENT_CLIENT_SETTINGS = {
  maxAttempts: 1,
  cacheMiddleware: true,
  requestHandler: { connectionTimeout: 2_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
} as const;

const clients = new Map<string, ApiGatewayManagementApiClient>();

/** The management API client for one WebSocket stage endpoint, built once per endpoint. */
export function managementClient(endpoint: string): ApiGatewayManagementApiClient {
  let client = clients.get(endpoint);
  if (!client) clients.set(endpoint, (client = new ApiGatewayManagementApiClient({ endpoint, ...MANAGEMENT_CLIENT_SETTINGS })));
  return client;
}
