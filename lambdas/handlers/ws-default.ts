/**
 * $default: the only message a monitor sends is a ping; anything else gets a clear error frame.
 * The route's response is sent back to the caller (a two-way route): a pong with the server's
 * time. A connection owed a missed frame (frames it did not get) is sent that frame too, so a
 * monitor that pings learns of a loss even when no further records come.
 */
import middy from '@middy/core';
import { reportMissed, type FanoutDeps } from '../core/fanout';
import { frame } from '../core/frames';
import { formatInstant } from '../core/timestamp';
import { ApiGatewayBroadcaster } from '../adapters/apigw-broadcaster';
import { DynamoConnectionRegistry } from '../adapters/dynamo-connection-registry';
import { documentClient } from '../shared/dynamo-client';
import { deferred, PushEnv, readEnv } from '../shared/env';
import { managementClient } from '../shared/management-client';
import { describeError, logger, observability } from '../shared/observability';
import type { WsEvent, WsResult } from '../shared/websocket';

export interface WsDefaultDeps {
  /** Where missed frames are owed and how they are sent. */
  readonly fanout: FanoutDeps;
  readonly now?: () => Date;
}

export function makeWsDefaultHandler(deps: WsDefaultDeps) {
  return middy<WsEvent, WsResult>()
    .use(observability())
    .handler(async (event) => {
      let message: unknown;
      try {
        message = JSON.parse(event.body ?? '');
      } catch {
        return reply(frame({ type: 'error', code: 'invalid_json', message: 'Send JSON such as {"action":"ping"}.' }));
      }
      const action = typeof message === 'object' && message !== null ? (message as { action?: unknown }).action : undefined;
      if (action === 'ping') {
        await reportMissed(event.requestContext.connectionId, deps.fanout).catch((error: unknown) =>
          // Still owed: the next ping or fan-out tries again.
          logger.warn('reporting a missed frame failed', describeError(error)),
        );
        const now = deps.now?.() ?? new Date();
        return reply(frame({ type: 'pong', time: formatInstant({ epochMs: now.getTime(), micros: 0 }) }));
      }
      return reply(
        frame({
          type: 'error',
          code: 'unknown_action',
          message: `Unknown action ${JSON.stringify(action ?? null)}; the only action is "ping". Records arrive on their own.`,
        }),
      );
    });
}

function reply(body: string): WsResult {
  return { statusCode: 200, body };
}

/** The Lambda entry point. */
export const handler = deferred(() => {
  const env = readEnv(PushEnv);
  return makeWsDefaultHandler({
    fanout: {
      registry: new DynamoConnectionRegistry(documentClient, env.CONNECTIONS_TABLE),
      broadcaster: new ApiGatewayBroadcaster(managementClient(env.CONNECTIONS_ENDPOINT)),
    },
  });
});
