/**
 * $disconnect: forgets the connection.
 */
import middy from '@middy/core';
import type { ConnectionRegistry } from '../core/ports';
import { DynamoConnectionRegistry } from '../adapters/dynamo-connection-registry';
import { documentClient } from '../shared/dynamo-client';
import { ConnectionsEnv, deferred, readEnv } from '../shared/env';
import { observability } from '../shared/observability';
import type { WsEvent, WsResult } from '../shared/websocket';

export function makeWsDisconnectHandler(deps: { readonly registry: ConnectionRegistry }) {
  return middy<WsEvent, WsResult>()
    .use(observability())
    .handler(async (event) => {
      await deps.registry.remove(event.requestContext.connectionId);
      return { statusCode: 200, body: 'Disconnected' };
    });
}

/** The Lambda entry point. */
export const handler = deferred(() =>
  makeWsDisconnectHandler({ registry: new DynamoConnectionRegistry(documentClient, readEnv(ConnectionsEnv).CONNECTIONS_TABLE) }),
);
