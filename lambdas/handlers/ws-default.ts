/**
 * $default: the only message a monitor sends is a ping; anything else gets a clear error frame.
 * The route's response is sent back to the caller (a two-way route).
 */
import middy from '@middy/core';
import { frame } from '../core/frames';
import { observability } from '../shared/observability';
import type { WsEvent, WsResult } from '../shared/websocket';

export function makeWsDefaultHandler() {
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
      if (action === 'ping') return reply(frame({ type: 'pong' }));
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
export const handler = makeWsDefaultHandler();
