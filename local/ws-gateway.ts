/**
 * The local WebSocket API: API Gateway's WebSocket API in front of the handler modules, and
 * its `@connections` management API that `@aws-sdk/client-apigatewaymanagementapi` calls.
 *
 * - The REQUEST authorizer and $connect run during the handshake, so a refused connect never opens.
 * - Messages route on `$request.body.action`, falling back to $default; a route's response
 *   body is sent back to the caller.
 * - API Gateway's limits: 128 KB per message, 10 minutes idle, 2 hours per connection.
 * - The management API answers 410 GoneException for an unknown connection. Locally it does not
 *   check SigV4 signatures; it listens on 127.0.0.1 unless `host` says otherwise.
 * - A handshake from a browser page (it carries `Origin`) of an origin that `allowOrigin` does
 *   not allow is refused with 403 before the authorizer runs: any page a developer opens could
 *   otherwise read the monitors' records with a token it got from the local login.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { type FunctionName, WEBSOCKET_API } from '../lambdas/routes';
import type { WsEvent, WsResult } from '../lambdas/shared/websocket';
import { invoke, type LambdaHandler } from './invoke';
import type { RunningGateway } from './http-gateway';
import { ConnectionInbox, type InboxLimits } from './ws-inbox';
import { managementApi, sendJson, WEBSOCKET_LIMITS, type ManagedConnection } from './ws-management';

export { WEBSOCKET_LIMITS } from './ws-management';


export interface WsGatewayOptions {
  readonly port: number;
  /**
   * The address to listen on. Any other than loopback exposes the unauthenticated management
   * API to whoever reaches it (logged as a warning at start). @default '127.0.0.1'
   */
  readonly host?: string;
  readonly handlers: Partial<Record<FunctionName, LambdaHandler>>;
  readonly idleTimeoutMs?: number;
  readonly maxConnectionMs?: number;
  /**
   * Whether a page of this origin may connect (the dashboard's, the CORS allow-list's; see
   * origins.ts). Clients that send no `Origin` (not browsers) are not concerned.
   * @default - no page of any origin
   */
  readonly allowOrigin?: (origin: string) => boolean;
  /** Each connection's message limits (see ws-inbox.ts). @default WEBSOCKET_LIMITS.messages */
  readonly messageLimits?: InboxLimits;
  /** What a connection may hold unread before posts to it are refused. @default WEBSOCKET_LIMITS.sendBufferBytes */
  readonly sendBufferBytes?: number;
  readonly log?: (line: string) => void;
}

interface LiveConnection extends ManagedConnection {
  readonly id: string;
  readonly inbox: ConnectionInbox<Buffer>;
  idleTimer?: NodeJS.Timeout;
  maxTimer?: NodeJS.Timeout;
}

/** The local WebSocket stage: the management API is at `http://127.0.0.1:<port>/local`. */
export const STAGE = 'local';

export interface RunningWsGateway extends RunningGateway {
  /** The management API endpoint (what CONNECTIONS_ENDPOINT points at). */
  readonly managementEndpoint: string;
  /** Open connections, for diagnostics and tests. */
  connectionCount(): number;
}

function requestContext(routeKey: string, eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT', c: { id: string; connectedAt: number; sourceIp: string; userAgent: string }, domainName: string) {
  const now = Date.now();
  return {
    routeKey,
    eventType,
    extendedRequestId: randomUUID(),
    requestTime: new Date(now).toUTCString(),
    messageDirection: 'IN',
    stage: STAGE,
    connectedAt: c.connectedAt,
    requestTimeEpoch: now,
    identity: { sourceIp: c.sourceIp, userAgent: c.userAgent },
    requestId: randomUUID(),
    domainName,
    connectionId: c.id,
    apiId: 'local',
  };
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

function refuse(socket: Duplex, status: number, message: string) {
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${message}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}


/** How a client on this machine reaches a server that listens on `host`: a wildcard through loopback. */
export function reachableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

/** A message's route: its `action` where a route has that name, else $default (non-JSON included), as API Gateway routes on `$request.body.action`. */
function routeOf(body: string): string {
  try {
    const action = (JSON.parse(body) as { action?: unknown })?.action;
    if (typeof action === 'string' && action in WEBSOCKET_API.routes && !action.startsWith('$')) return action;
  } catch {
    // Not JSON: $default takes it.
  }
  return '$default';
}

/**
 * API Gateway's answer to a throttled message. Sent only while the connection reads what it is
 * sent: a flood from a client that does not read is dropped without an answer each.
 */
function answerThrottled(c: LiveConnection, sendBufferBytes: number): void {
  if (c.socket.readyState !== WebSocket.OPEN || c.socket.bufferedAmount > sendBufferBytes / 2) return;
  c.socket.send(JSON.stringify({ message: 'Too Many Requests', connectionId: c.id, requestId: randomUUID() }));
}

/** Starts the WebSocket gateway and its management API, on 127.0.0.1 unless told otherwise. */
export async function startWsGateway(options: WsGatewayOptions): Promise<RunningWsGateway> {
  const idleMs = options.idleTimeoutMs ?? WEBSOCKET_LIMITS.idleTimeoutMs;
  const maxMs = options.maxConnectionMs ?? WEBSOCKET_LIMITS.maxConnectionMs;
  const messageLimits = options.messageLimits ?? WEBSOCKET_LIMITS.messages;
  const sendBufferBytes = options.sendBufferBytes ?? WEBSOCKET_LIMITS.sendBufferBytes;
  const connections = new Map<string, LiveConnection>();
  const pending = new Set<Promise<void>>();
  const refusedOrigins = new Set<string>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: WEBSOCKET_LIMITS.maxMessageBytes });
  const log = options.log ?? (() => undefined);
  const call = <E, R>(name: FunctionName, event: E) => {
    const handler = options.handlers[name] as LambdaHandler<E, R> | undefined;
    if (!handler) throw new Error(`no handler for ${name}`);
    return invoke(handler, event, { functionName: name, timeoutMs: WEBSOCKET_LIMITS.integrationTimeoutMs });
  };

  const touch = (c: LiveConnection) => {
    c.lastActiveAt = Date.now();
    if (c.idleTimer) c.idleTimer.refresh();
    else c.idleTimer = setTimeout(() => c.socket.close(1001, 'Going away'), idleMs);
  };

  const disconnect = async (c: LiveConnection, code: number, reason: string, domainName: string) => {
    c.inbox.close();
    clearTimeout(c.idleTimer);
    clearTimeout(c.maxTimer);
    connections.delete(c.id);
    const event = {
      requestContext: { ...requestContext('$disconnect', 'DISCONNECT', c, domainName), disconnectStatusCode: code, disconnectReason: reason },
      isBase64Encoded: false,
    } as unknown as WsEvent;
    await call<WsEvent, WsResult>(WEBSOCKET_API.routes.$disconnect, event).catch((e) => log(`$disconnect failed: ${String(e)}`));
  };

  const onMessage = async (c: LiveConnection, data: Buffer, domainName: string) => {
    const body = data.toString('utf8');
    const routeKey = routeOf(body);
    const fn = (WEBSOCKET_API.routes as Record<string, FunctionName>)[routeKey]!;
    const event = { requestContext: { ...requestContext(routeKey, 'MESSAGE', c, domainName), messageId: randomUUID() }, body, isBase64Encoded: false } as unknown as WsEvent;
    try {
      const result = await call<WsEvent, WsResult>(fn, event);
      if (result?.body && c.socket.readyState === WebSocket.OPEN) c.socket.send(result.body);
    } catch (error) {
      log(`${routeKey} failed: ${String(error)}`);
      if (c.socket.readyState === WebSocket.OPEN) {
        c.socket.send(JSON.stringify({ message: 'Internal server error', connectionId: c.id, requestId: event.requestContext.requestId }));
      }
    }
  };

  const onUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const origin = req.headers.origin;
    if (origin !== undefined && !(options.allowOrigin?.(origin) ?? false)) {
      // Said once an origin (a page may retry in a loop).
      if (refusedOrigins.size < 100 && !refusedOrigins.has(origin)) {
        refusedOrigins.add(origin);
        log(`refused WebSockets from pages of ${JSON.stringify(origin).slice(0, 200)}: neither the dashboard's origin nor in CORS_ALLOW_ORIGINS`);
      }
      return refuse(socket, 403, 'Forbidden');
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const domainName = req.headers.host ?? '127.0.0.1';
    const base = {
      id: randomBytes(9).toString('base64url'),
      connectedAt: Date.now(),
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      userAgent: req.headers['user-agent'] ?? '',
    };
    const query = Object.fromEntries(url.searchParams);
    const headers = headersOf(req);
    const context = requestContext('$connect', 'CONNECT', base, domainName);
    try {
      const authEvent = {
        type: 'REQUEST',
        methodArn: `arn:aws:execute-api:us-east-1:000000000000:local/${STAGE}/$connect`,
        headers,
        queryStringParameters: query,
        requestContext: context,
      } as unknown as APIGatewayRequestAuthorizerEvent;
      let policy: APIGatewayAuthorizerResult;
      try {
        policy = await call<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>(WEBSOCKET_API.authorizer, authEvent);
      } catch (error) {
        return refuse(socket, (error as Error)?.message === 'Unauthorized' ? 401 : 500, (error as Error)?.message === 'Unauthorized' ? 'Unauthorized' : 'Internal Server Error');
      }
      const allowed = policy.policyDocument.Statement.some((s) => s.Effect === 'Allow');
      if (!allowed) return refuse(socket, 403, 'Forbidden');
      const connectEvent = {
        requestContext: { ...context, authorizer: { ...policy.context, principalId: policy.principalId } },
        headers,
        queryStringParameters: query,
        isBase64Encoded: false,
      } as unknown as WsEvent;
      const result = await call<WsEvent, WsResult>(WEBSOCKET_API.routes.$connect, connectEvent);
      const status = result?.statusCode ?? 200;
      if (status < 200 || status > 299) return refuse(socket, status, 'Forbidden');
      wss.handleUpgrade(req, socket, head, (ws) => {
        const c: LiveConnection = {
          ...base,
          socket: ws,
          lastActiveAt: Date.now(),
          inbox: new ConnectionInbox<Buffer>(messageLimits, (data) => onMessage(c, data, domainName), () => answerThrottled(c, sendBufferBytes)),
        };
        connections.set(c.id, c);
        touch(c);
        c.maxTimer = setTimeout(() => ws.close(1001, 'Going away'), maxMs);
        ws.on('message', (data: Buffer) => {
          touch(c);
          c.inbox.push(data);
        });
        ws.on('close', (code, reason) => {
          const done = disconnect(c, code, reason.toString(), domainName);
          pending.add(done);
          void done.finally(() => pending.delete(done));
        });
        ws.on('error', () => undefined);
      });
    } catch (error) {
      log(`$connect failed: ${String(error)}`);
      refuse(socket, 500, 'Internal Server Error');
    }
  };

  const onManagement = managementApi(connections, touch, sendBufferBytes);

  const server = createServer((req, res) => {
    onManagement(req, res).catch((error) => {
      log(`management API: ${String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
    });
  });
  server.on('upgrade', (req, socket, head) => void onUpgrade(req, socket, head));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  if (!/^(127\.|::1$|localhost$)/.test(host)) {
    log(`WARNING: the WebSocket gateway listens on ${host}:${port}, beyond this machine's loopback; its @connections management API checks no signature, so anything that reaches that address can push to or close any monitor's connection`);
  }
  const reachAt = reachableHost(host);
  return {
    url: `ws://${reachAt}:${port}`,
    managementEndpoint: `http://${reachAt}:${port}/${STAGE}`,
    server,
    connectionCount: () => connections.size,
    stop: async () => {
      const closing = [...connections.values()].map(
        (c) => new Promise<void>((resolve) => {
          c.socket.once('close', () => resolve());
          c.socket.close(1001, 'Going away');
          setTimeout(() => {
            c.socket.terminate();
            resolve();
          }, 1_000).unref();
        }),
      );
      await Promise.all(closing);
      await Promise.all([...pending]);
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
