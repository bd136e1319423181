/**
 * $connect: records the connection and who owns it. The authorizer has already run.
 */
import middy from '@middy/core';
import type { ConnectionRegistry } from '../core/ports';
import { DynamoConnectionRegistry } from '../adapters/dynamo-connection-registry';
import { documentClient } from '../shared/dynamo-client';
import { ConnectionsEnv, deferred, readEnv } from '../shared/env';
import { observability } from '../shared/observability';
import type { WsEvent, WsResult } from '../shared/websocket';

/** API Gateway closes every WebSocket connection after 2 hours. */
export const MAX_CONNECTION_SECONDS = 2 * 60 * 60;

export function makeWsConnectHandler(deps: { readonly registry: ConnectionRegistry; readonly now?: () => number }) {
  const now = deps.now ?? Date.now;
  return middy<WsEvent, WsResult>()
    .use(observability())
    .handler(async (event) => {
      const auth = event.requestContext.authorizer;
      const userId = auth?.userId;
      if (typeof userId !== 'string' || userId === '') return { statusCode: 401, body: 'Unauthorized' };
      const nowMs = now();
      await deps.registry.add({
        connectionId: event.requestContext.connectionId,
        userId,
        isAdmin: String(auth?.isAdmin) === 'true',
        connectedAt: new Date(nowMs).toISOString(),
        expiresAt: Math.floor(nowMs / 1000) + MAX_CONNECTION_SECONDS,
      });
      return { statusCode: 200, body: 'Connected' };
    });
}

/** The Lambda entry point. */
export const handler = deferred(() =>
  makeWsConnectHandler({ registry: new DynamoConnectionRegistry(documentClient, readEnv(ConnectionsEnv).CONNECTIONS_TABLE) }),
);
